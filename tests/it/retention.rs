//! Bounded, for a year: run records, service calls, the inbox, the upload
//! cache and call folders stay within their limits (docs/retention.md), and
//! `tnet status` still tells the whole story.

use std::path::Path;
use std::time::Duration;

use tnet_tests::{wait_until, write_file, Host};

const WAIT: Duration = Duration::from_secs(60);

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// `n` bytes that do not compress to nothing, different for each `seed`.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0xA24B_AED4_963E_E407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn disk(host: &Host) -> serde_json::Value {
    let info = host.tnet(&["hosts", "--json"]).ok().json();
    info[0]["disk"].clone()
}

fn received(host: &Host) -> u64 {
    host.tnet(&["hosts", "--json"]).ok().json()[0]["bytes_received"]
        .as_u64()
        .expect("bytes_received")
}

/// Files in the cache, once the host has written the verified uploads that
/// wait a moment for the disk in `partial/` and moved them in.
fn blob_files(host: &Host) -> usize {
    let records = host.home.join(".tnet");
    let files = |dir: std::path::PathBuf| {
        std::fs::read_dir(dir)
            .expect("a blob folder")
            .flatten()
            .filter(|e| e.path().is_file())
            .count()
    };
    wait_until(WAIT, "the verified uploads are moved in", || {
        (files(records.join("partial")) == 0).then_some(())
    });
    // The cache's own files, and those a workspace shares.
    files(records.join("blobs")) + files(records.join("blobs/lent"))
}

/// A daemon that only holds a workspace with one file.
fn holder(dir: &Path, name: &str, file: &str, size: usize, seed: u64) -> std::path::PathBuf {
    std::fs::write(dir.join(file), bytes(size, seed)).expect("write a file");
    write_file(
        dir,
        &format!("{name}.toml"),
        &format!(
            "task_name = \"{name}\"\ntask_type = \"daemon\"\nnecessary_files = [\"{file}\"]\n"
        ),
        0o644,
    )
}

#[test]
fn retention_a_habit_keeps_its_newest_runs_and_status_counts_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The host keeps 3 records of a task that does not say; the habit says 5.
    let host = Host::start_with_config("keeper", "[retention]\nkeep_runs = 3\n");
    let habit = write_file(
        dir.path(),
        "tick.toml",
        "task_name = \"tick\"\ntask_type = \"habit\"\n\
         commands = [\"n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; test $((n % 4)) -ne 0\"]\n\n\
         [task_details]\nkeep_runs = 5\n\n[habit_details]\ntime_between_runs = \"1s\"\n",
        0o644,
    );
    let service = write_file(
        dir.path(),
        "echo.toml",
        "task_name = \"echo\"\ntask_type = \"service\"\ncommands = [\"cat\"]\n",
        0o644,
    );
    host.tnet(&["run", path_str(&habit)]).ok();
    host.tnet(&["run", path_str(&service)]).ok();
    host.wait_state("echo", "ready");
    for i in 0..6 {
        let out = host.tnet_input(&["call", "echo", "--input", "-"], format!("{i}").as_bytes());
        assert_eq!(out.ok().stdout, format!("{i}"));
    }
    wait_until(WAIT, "the habit ran 9 times", || {
        let totals = host.status("tick")["totals"].clone();
        (totals["runs"].as_u64()? >= 9).then_some(())
    });
    host.tnet(&["stop", "tick"]).ok();

    let status = host.status("tick");
    let totals = &status["totals"];
    let runs = status["runs"].as_array().expect("runs");
    let total = totals["runs"].as_u64().expect("a total");
    let numbers: Vec<u64> = runs.iter().filter_map(|r| r["number"].as_u64()).collect();
    assert_eq!(
        numbers,
        ((total - 4)..=total).collect::<Vec<_>>(),
        "{status:#}"
    );
    assert_eq!(totals["kept"], 5, "{totals}");
    assert_eq!(totals["keep"], 5, "{totals}");
    let counted: u64 = totals["outcomes"]
        .as_object()
        .expect("outcomes")
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert_eq!(counted, total, "every run is counted once: {totals}");
    // Every fourth run fails; the first failure was pruned long ago.
    assert!(totals["failures"].as_u64() >= Some(2), "{totals}");
    assert_eq!(
        totals["last_failure"]["number"].as_u64().map(|n| n % 4),
        Some(0)
    );
    assert!(totals["last_success"]["number"].as_u64() > Some(total - 5));
    let shown = host.tnet(&["status", "tick"]).ok().stdout;
    assert!(
        shown.contains(&format!("the newest 5 of {total} run records")),
        "{shown}"
    );

    // Service calls are runs too: the host's default keeps 3 of 6.
    let totals = host.status("echo")["totals"].clone();
    assert_eq!(
        (totals["runs"].as_u64(), totals["kept"].as_u64()),
        (Some(6), Some(3))
    );
    assert_eq!(totals["outcomes"]["succeeded"], 6);

    // Numbers keep growing after a restart on a pruned store.
    host.tnet(&["start", "tick"]).ok();
    wait_until(WAIT, "the habit runs again", || {
        let status = host.status("tick");
        let newest = status["runs"].as_array()?.last()?["number"].as_u64()?;
        (newest > total).then_some(())
    });
}

#[test]
fn retention_an_unused_upload_goes_after_its_grace_but_not_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start_with_config("cache", "[retention]\nblob_grace = \"4s\"\n");
    let task = holder(dir.path(), "holder", "data.bin", 300_000, 1);
    host.tnet(&["run", path_str(&task)]).ok();
    assert_eq!(received(&host), 300_000);
    let usage = disk(&host);
    assert_eq!(usage["blob_count"], 1, "{usage}");
    // The workspace shares the cached file (no copy): on disk once, and
    // counted once, with the workspace.
    assert!(usage["blobs"].as_u64() < Some(300_000), "{usage}");
    assert!(usage["store"].as_u64() > Some(0), "{usage}");
    let total: u64 = ["store", "blobs", "logs", "workspaces", "other"]
        .iter()
        .filter_map(|k| usage[k].as_u64())
        .sum();
    assert_eq!(usage["total"].as_u64(), Some(total), "{usage}");
    wait_until(WAIT, "the workspace is measured", || {
        (disk(&host)["workspaces"].as_u64()? >= 300_000).then_some(())
    });

    // A quick rm + run, inside the grace: nothing is sent again.
    host.tnet(&["rm", "holder"]).ok();
    host.tnet(&["run", path_str(&task)]).ok();
    assert_eq!(received(&host), 300_000, "the file was sent again");
    assert_eq!(blob_files(&host), 1);
    // The new workspace got a copy of the file the first one shared (its
    // task could have written to it): the cache's file counts again.
    assert!(disk(&host)["blobs"].as_u64() >= Some(300_000));

    // After rm and the grace, the cache is empty.
    host.tnet(&["rm", "holder"]).ok();
    wait_until(WAIT, "the unused upload is dropped", || {
        (disk(&host)["blob_count"] == 0).then_some(())
    });
    assert_eq!(blob_files(&host), 0);
}

#[test]
fn retention_the_upload_cache_cap_evicts_only_files_no_task_uses() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room for two files of 120 KiB, not three; a long grace, a short lease.
    let host = Host::start_with_config(
        "capped",
        "[retention]\nblob_cache_max = \"300 KiB\"\nblob_grace = \"1h\"\n\n[limits]\nupload_idle = \"1s\"\n",
    );
    let size = 120 * 1024;
    let a = holder(dir.path(), "a", "a.bin", size, 1);
    let b = holder(dir.path(), "b", "b.bin", size, 2);
    let c = holder(dir.path(), "c", "c.bin", size, 3);
    let d = holder(dir.path(), "d", "d.bin", size, 4);
    host.tnet(&["run", path_str(&a)]).ok();
    host.tnet(&["rm", "a"]).ok();
    host.tnet(&["run", path_str(&b)]).ok();
    assert_eq!(blob_files(&host), 2);
    // A file just let go is leased for `upload_idle` (1 s) even from the cap.
    std::thread::sleep(Duration::from_millis(1500));
    host.tnet(&["run", path_str(&c)]).ok();
    assert_eq!(blob_files(&host), 2, "a's unused file made room for c's");
    // b and c are in use: d cannot fit, and is refused, clearly.
    let refused = host.tnet(&["run", path_str(&d)]);
    assert!(!refused.success, "{refused:?}");
    assert!(
        refused.stderr.contains("blob_cache_max"),
        "the refusal names the setting: {refused:?}"
    );
    assert_eq!(blob_files(&host), 2, "nothing of d is kept");
    let names: Vec<String> = host
        .tasks()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, ["b", "c"]);
    // The files in use are whole: submitting b again sends nothing.
    let before = received(&host);
    host.tnet(&["rm", "b"]).ok();
    host.tnet(&["run", path_str(&b)]).ok();
    assert_eq!(received(&host), before);
}

#[test]
fn retention_the_inbox_and_call_folders_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start_with_config(
        "tidy",
        "[retention]\nkeep_inbox = 2\nsweep_interval = \"1s\"\n",
    );
    // A folder no call holds, left from long ago.
    let stray = host.home.join(".tnet/calls/left-behind");
    std::fs::create_dir_all(&stray).expect("a stray call folder");
    std::fs::write(stray.join("input"), b"x").expect("write");
    let status = std::process::Command::new("touch")
        .args(["-d", "10 minutes ago"])
        .arg(&stray)
        .status()
        .expect("touch");
    assert!(status.success());
    let habit = write_file(
        dir.path(),
        "noisy.toml",
        "task_name = \"noisy\"\ntask_type = \"habit\"\ncommands = [\"true\"]\n\n\
         [task_details]\non_success = \"qmail\"\n\n[habit_details]\ntime_between_runs = \"1s\"\n",
        0o644,
    );
    host.tnet(&["run", path_str(&habit)]).ok();
    wait_until(WAIT, "the inbox keeps only the newest 2", || {
        let entries = host.tnet(&["inbox", "--json"]).ok().json();
        let entries = entries.as_array()?.clone();
        let oldest = entries
            .iter()
            .filter_map(|e| e["event"]["run"].as_u64())
            .min()?;
        (entries.len() == 2 && oldest >= 4).then_some(())
    });
    wait_until(WAIT, "the stray call folder is cleared", || {
        (!stray.exists()).then_some(())
    });
}
