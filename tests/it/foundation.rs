//! The foundation: a task travels from `tnet` to a host, runs, survives a
//! `kill -9` of its host, stops with its whole process group, and goes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use tnet_tests::{free_port, process_alive, tnet, wait_until, Host};

const RUN_SH: &str = r#"#!/bin/sh
# A child that leaves a grandchild behind, to prove stop ends the whole group.
sh -c 'echo $$ > grandchild.pid; exec sleep 1000' &
echo "started with $(cat data.txt)"
while true; do echo tick; sleep 0.2; done
"#;

/// 50 MiB that do not compress to nothing.
fn big_bytes() -> Vec<u8> {
    noise(50 << 20, 0)
}

/// `len` bytes that do not compress to nothing, different for each `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0xA24B_AED4_963E_E407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[test]
fn a_task_travels_runs_survives_a_kill_and_goes() {
    let mut host = Host::start("alpha");
    let client = tempfile::tempdir().expect("client dir");
    let elsewhere = tempfile::tempdir().expect("absolute dir");
    std::fs::create_dir(client.path().join("bin")).expect("mkdir");
    let run_sh = client.path().join("bin/run.sh");
    std::fs::write(&run_sh, RUN_SH).expect("write");
    std::fs::set_permissions(&run_sh, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let abs = elsewhere.path().join("data.txt");
    std::fs::write(&abs, "absolute data").expect("write");
    std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let big = big_bytes();
    std::fs::write(client.path().join("big.bin"), &big).expect("write");
    let task = client.path().join("task.toml");
    std::fs::write(
        &task,
        format!(
            "task_name = \"traveller\"\ntask_type = \"daemon\"\ncommands = [\"./bin/run.sh\"]\nnecessary_files = [\"bin/run.sh\", \"{}\", \"big.bin\"]\n",
            abs.display()
        ),
    )
    .expect("write");

    let out = host.tnet(&["run", task.to_str().expect("utf8")]).ok();
    assert!(out.stderr.contains("3 sent"), "{out:?}");
    host.wait_state("traveller", "running");

    // The files are where SPEC 3.4 puts them, with their bytes and modes.
    let ws = host.home.join("traveller");
    let mode = |p: &Path| std::fs::metadata(p).expect("file").permissions().mode() & 0o777;
    assert_eq!(
        std::fs::read_to_string(ws.join("bin/run.sh")).expect("run.sh"),
        RUN_SH
    );
    assert_eq!(mode(&ws.join("bin/run.sh")), 0o755);
    assert_eq!(
        std::fs::read_to_string(ws.join("data.txt")).expect("data.txt"),
        "absolute data"
    );
    assert_eq!(mode(&ws.join("data.txt")), 0o640);
    assert!(
        std::fs::read(ws.join("big.bin")).expect("big.bin") == big,
        "big.bin differs"
    );

    wait_until(
        Duration::from_secs(10),
        "the logs show the task's output",
        || {
            let out = host.tnet(&["logs", "traveller"]).ok();
            (out.stdout.contains("started with absolute data") && out.stdout.contains("tick"))
                .then_some(())
        },
    );

    // kill -9 the host: it comes back knowing the task, ends the orphaned
    // process group and runs the task again (one copy, not two).
    let old_grandchild = wait_until(Duration::from_secs(10), "the grandchild starts", || {
        read_pid(&ws.join("grandchild.pid"))
    });
    std::fs::remove_file(ws.join("grandchild.pid")).expect("rm pid");
    host.restart();
    host.wait_state("traveller", "running");
    wait_until(
        Duration::from_secs(15),
        "the old process group is gone",
        || (!process_alive(old_grandchild)).then_some(()),
    );
    let grandchild = wait_until(Duration::from_secs(10), "the new grandchild starts", || {
        read_pid(&ws.join("grandchild.pid"))
    });
    assert_ne!(grandchild, old_grandchild);

    // Stop ends the whole group, grandchild included, and it stays stopped.
    host.tnet(&["stop", "traveller"]).ok();
    assert_eq!(host.state("traveller").as_deref(), Some("stopped"));
    assert!(!process_alive(grandchild), "the grandchild survived stop");
    host.restart();
    assert_eq!(
        host.state("traveller").as_deref(),
        Some("stopped"),
        "a stopped task started again after a restart"
    );

    let status = host.tnet(&["status", "traveller", "--json"]).ok().json();
    assert_eq!(status["host"], "alpha");
    assert_eq!(status["type"], "daemon");
    let runs = status["runs"].as_array().expect("runs");
    assert!(runs.len() >= 2, "{status}");
    assert!(
        runs.iter()
            .all(|r| r["number"].is_u64() && r["started"].is_string()),
        "{status}"
    );

    host.tnet(&["rm", "traveller"]).ok();
    assert!(host.tasks().is_empty());
    assert!(!ws.exists(), "the workspace outlived rm");

    // Submitting again with unchanged files sends no file bytes at all.
    let out = host.tnet(&["run", task.to_str().expect("utf8")]).ok();
    assert!(out.stderr.contains("0 sent"), "{out:?}");
    let info = host.tnet(&["hosts", "--json"]).ok().json();
    assert_eq!(
        info[0]["bytes_received"], 0,
        "file bytes crossed the wire again: {info}"
    );
    host.wait_state("traveller", "running");
    assert!(std::fs::read(ws.join("big.bin")).expect("big.bin") == big);
}

#[test]
fn bad_task_files_are_refused_and_change_nothing() {
    let host = Host::start("beta");
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "task_nme = \"x\"\ntask_type = \"deamon\"\n\n[task_details]\non_fail = \"emial\"\n",
    )
    .expect("write");
    let out = host.tnet(&["run", bad.to_str().expect("utf8")]);
    assert!(!out.success);
    for needle in [
        "bad.toml:1:1",
        "task_name",
        "bad.toml:2:",
        "daemon",
        "bad.toml:5:",
        "email",
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            out.stderr
        );
    }
    assert!(host.tasks().is_empty());

    // A path that climbs out of the task's folder.
    let hostile = dir.path().join("hostile.toml");
    std::fs::write(
        &hostile,
        "task_name = \"h\"\ntask_type = \"daemon\"\nnecessary_files = [\"../etc/passwd\"]\n",
    )
    .expect("write");
    let out = host.tnet(&["run", hostile.to_str().expect("utf8")]);
    assert!(
        !out.success && out.stderr.contains("outside the task file's folder"),
        "{out:?}"
    );
    assert!(host.tasks().is_empty());

    // A taken name.
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "task_name = \"same\"\ntask_type = \"daemon\"\ncommands = [\"sleep 100\"]\n",
    )
    .expect("write");
    host.tnet(&["run", good.to_str().expect("utf8")]).ok();
    let out = host.tnet(&["run", good.to_str().expect("utf8")]);
    assert!(
        !out.success && out.stderr.contains("already has a task named `same`"),
        "{out:?}"
    );
    assert_eq!(host.tasks().len(), 1);
    let entries: Vec<_> = std::fs::read_dir(&host.home)
        .expect("home")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        entries.len(),
        2,
        "only `.tnet` and `same` in the home: {entries:?}"
    );
}

#[test]
fn submissions_side_by_side_of_one_name_make_one_task() {
    let host = Host::start("twins");
    let dir = tempfile::tempdir().expect("dir");
    // No files: many uploads at once to one host can cut the link between
    // its gate and its own session (the gate waits 5 s to push, then closes
    // it), which is not what this test is about.
    let file = dir.path().join("twin.toml");
    std::fs::write(
        &file,
        "task_name = \"twin\"\ntask_type = \"daemon\"\ncommands = [\"sleep 100\"]\n",
    )
    .expect("write");
    // Different names go through side by side; the same name through once.
    let others: Vec<_> = (0..4)
        .map(|i| {
            let other = dir.path().join(format!("other{i}.toml"));
            std::fs::write(
                &other,
                format!("task_name = \"other{i}\"\ntask_type = \"daemon\"\ncommands = [\"sleep 100\"]\n"),
            )
            .expect("write");
            other
        })
        .collect();
    let file = file.to_str().expect("utf8");
    host.tnet(&["ls"]).ok();
    let host = &host;
    let (twins, others) = std::thread::scope(|s| {
        let twins: Vec<_> = (0..6)
            .map(|_| s.spawn(move || host.tnet(&["run", file])))
            .collect();
        let others: Vec<_> = others
            .iter()
            .map(|o| s.spawn(move || host.tnet(&["run", o.to_str().expect("utf8")])))
            .collect();
        let join = |hs: Vec<std::thread::ScopedJoinHandle<'_, _>>| -> Vec<tnet_tests::Output> {
            hs.into_iter()
                .map(|h| h.join().expect("a thread"))
                .collect()
        };
        (join(twins), join(others))
    });
    let won = twins.iter().filter(|o| o.success).count();
    assert_eq!(
        won,
        1,
        "exactly one submission of `twin` made it: {twins:?}\nhost log:\n{}",
        std::fs::read_to_string(host.log_path()).unwrap_or_default()
    );
    for out in twins.iter().filter(|o| !o.success) {
        assert!(
            out.stderr.contains("already has a task named `twin`")
                || out
                    .stderr
                    .contains("is taking another submission of a task named `twin`"),
            "{out:?}"
        );
    }
    assert!(others.iter().all(|o| o.success), "{others:?}");
    let mut names: Vec<String> = host
        .tasks()
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["other0", "other1", "other2", "other3", "twin"]);
    // No staging folder or half workspace left behind.
    let mut entries: Vec<String> = std::fs::read_dir(&host.home)
        .expect("home")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [".tnet", "other0", "other1", "other2", "other3", "twin"]
    );
}

#[test]
fn many_uploads_to_one_host_at_once_all_arrive() {
    // Each upload's link pushes through the host's gate into the host's own
    // session; with as few receive threads as Zenoh gives by default, a
    // dozen at once once closed that link and lost uploads in flight.
    const CLIENTS: usize = 12;
    // More uploads at once than a host takes by default (8, `[limits]`,
    // refused with a clear error, tested in limits.rs): this test is about
    // the transport, so the host takes them all.
    let host = Host::start_with_config("busy", "[limits]\nmax_uploads = 16\n");
    let dir = tempfile::tempdir().expect("dir");
    let tasks: Vec<(String, Vec<u8>, std::path::PathBuf)> = (0..CLIENTS)
        .map(|i| {
            let name = format!("load{i}");
            let task = dir.path().join(&name);
            std::fs::create_dir(&task).expect("mkdir");
            // 4 MiB each, different for every task.
            let data = noise(4 << 20, i as u64 + 1);
            std::fs::write(task.join("data.bin"), &data).expect("write");
            let file = task.join("task.toml");
            std::fs::write(
                &file,
                format!(
                    "task_name = \"{name}\"\ntask_type = \"daemon\"\n\
                     necessary_files = [\"data.bin\"]\ncommands = [\"exec sleep 1000\"]\n"
                ),
            )
            .expect("write");
            (name, data, file)
        })
        .collect();
    host.tnet(&["ls"]).ok();
    let host = &host;
    let outs: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = tasks
            .iter()
            .map(|(_, _, file)| s.spawn(move || host.tnet(&["run", file.to_str().expect("utf8")])))
            .collect();
        runs.into_iter()
            .map(|h| h.join().expect("a thread"))
            .collect()
    });
    assert!(
        outs.iter().all(|o| o.success),
        "every upload made its task: {outs:?}\nhost log:\n{}",
        host.log()
    );
    for (name, data, _) in &tasks {
        let arrived =
            std::fs::read(host.home.join(name).join("data.bin")).expect("the file arrived");
        assert!(
            arrived == *data,
            "`{name}`'s file arrived whole and unchanged"
        );
    }
}

#[test]
fn no_host_is_an_error_within_five_seconds() {
    let nobody = format!("tcp/127.0.0.1:{}", free_port());
    let started = Instant::now();
    let out = tnet(&[&nobody], &["ls"]);
    let took = started.elapsed();
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr.contains("tnet-host"),
        "the error should say what to check: {}",
        out.stderr
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A task that writes to a file it was given never changes what a later
/// submission of the same file gets, even when it keeps the file's size and
/// puts its time back: the host shares an upload's file with the first
/// workspace instead of copying it, and checks it before any other use.
#[test]
fn a_task_writing_its_file_never_changes_what_the_next_one_gets() {
    let host = Host::start("lentfile");
    let dir = tempfile::tempdir().expect("tempdir");
    let original = "the bytes as uploaded\n";
    tnet_tests::write_file(dir.path(), "data.txt", original, 0o644);
    let task = |name: &str, command: &str| {
        let toml = format!(
            "task_name = \"{name}\"\ntask_type = \"daemon\"\nrun_in_docker = false\n\
             necessary_files = [\"data.txt\"]\ncommands = [\"{command}\"]\n"
        );
        tnet_tests::write_file(dir.path(), &format!("{name}.toml"), &toml, 0o644)
    };
    let writer = task(
        "writer",
        "touch -r data.txt .then && printf CHANGED | dd of=data.txt conv=notrunc && \
         touch -r .then data.txt && touch done && exec sleep 1000",
    );
    let reader = task("reader", "exec sleep 1000");
    let received = || host.tnet(&["hosts", "--json"]).ok().json()[0]["bytes_received"].as_u64();

    host.tnet(&["run", writer.to_str().expect("utf8")]).ok();
    let written = host.home.join("writer");
    wait_until(
        Duration::from_secs(20),
        &format!("the writer rewrote its file (log:\n{})", host.log()),
        || written.join("done").exists().then_some(()),
    );
    let changed = std::fs::read_to_string(written.join("data.txt")).expect("writer's file");
    assert_eq!(
        changed, "CHANGEDes as uploaded\n",
        "the task wrote in place"
    );

    let before = received().expect("a byte count");
    let out = host.tnet(&["run", reader.to_str().expect("utf8")]).ok();
    host.wait_state("reader", "running");
    assert_eq!(
        std::fs::read_to_string(host.home.join("reader").join("data.txt")).expect("reader's file"),
        original,
        "the second task got the writer's bytes ({out:?})"
    );
    assert!(
        out.stderr.contains("changed on the host") && out.stderr.contains("again"),
        "the client should say why it sends the file again: {}",
        out.stderr
    );
    assert_eq!(
        received().expect("a byte count") - before,
        original.len() as u64,
        "the file was sent again"
    );
    assert_eq!(
        std::fs::read_to_string(written.join("data.txt")).expect("writer's file"),
        changed,
        "the writer's own file is left as it made it"
    );
}

/// The hash cache must never hide a change: a file rewritten with the same
/// size, even with its old modification time put back, reaches the host on
/// the next edit, and only its bytes are sent.
#[test]
fn a_resubmit_sends_exactly_what_changed() {
    let host = Host::start("resubmit");
    let dir = tempfile::tempdir().expect("tempdir");
    let note = tnet_tests::write_file(dir.path(), "note.txt", "AAAA", 0o644);
    tnet_tests::write_file(dir.path(), "data.bin", &"x".repeat(1 << 20), 0o644);
    let task = tnet_tests::write_file(
        dir.path(),
        "resubmit.toml",
        "task_name = \"resubmit\"\ntask_type = \"daemon\"\nrun_in_docker = false\n\
         necessary_files = [\"note.txt\", \"data.bin\"]\ncommands = [\"exec sleep 1000\"]\n",
        0o644,
    );
    let task = task.to_str().expect("utf8");
    // Files changed in the last two seconds are never trusted by their stamp;
    // these must be old enough to be remembered, so the cache is what is tested.
    let written = Instant::now();
    wait_until(
        Duration::from_secs(5),
        "the files are older than the hash cache's settle time",
        || (written.elapsed() > Duration::from_millis(2200)).then_some(()),
    );
    let original_mtime = std::fs::metadata(&note)
        .expect("stat")
        .modified()
        .expect("mtime");
    let received = || host.tnet(&["hosts", "--json"]).ok().json()[0]["bytes_received"].as_u64();
    host.tnet(&["run", task]).ok();
    host.wait_state("resubmit", "running");
    let after_run = received().expect("a byte count");
    assert_eq!(after_run, 4 + (1 << 20));

    let out = host.tnet(&["edit", "resubmit", "--file", task]).ok();
    assert!(out.stderr.contains("nothing changed"), "{out:?}");

    let ws = host.home.join("resubmit");
    // First with the remembered version's mtime put back (only the change
    // time tells), then plainly.
    for (text, keep_mtime) in [("BBBB", true), ("CCCC", false)] {
        std::fs::write(&note, text).expect("rewrite");
        if keep_mtime {
            std::fs::File::options()
                .write(true)
                .open(&note)
                .and_then(|f| f.set_modified(original_mtime))
                .expect("put the old mtime back");
        }
        let sent_before = received().expect("a byte count");
        host.tnet(&["edit", "resubmit", "--file", task, "--yes"])
            .ok();
        assert_eq!(
            std::fs::read_to_string(ws.join("note.txt")).expect("note"),
            text,
            "the host kept stale content (old mtime put back: {keep_mtime})"
        );
        assert_eq!(received().expect("a byte count") - sent_before, 4);
    }
}
