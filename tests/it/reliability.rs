//! A host that runs for a year (issue 16): it starts whatever its
//! environment says, and tells the user why a command failed where they look.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tnet_tests::{
    bin, fleet_dir, free_port, run_bounded, tnet_command, wait_until, write_file, Host,
    COMMAND_LIMIT,
};

/// Starts `tnet-host` with `TNET_CONNECT` set to its own listen address
/// (as a user who exported it for `tnet` on the same machine would), and
/// checks it skips itself, says so once, and runs.
fn host_connecting_to_itself(insecure: bool) {
    let port = free_port();
    let home = tempfile::tempdir().expect("home");
    let listen = if insecure {
        format!("tcp/127.0.0.1:{port}")
    } else {
        format!("quic/127.0.0.1:{port}")
    };
    let log_path = home.path().join("log");
    let mut cmd = Command::new(bin("tnet-host"));
    cmd.args(["--name", "myself", "--home"])
        .arg(home.path().join("tasks"))
        .args(["-l", &listen, "--no-multicast-scouting"])
        // `tcp/` as a user writes it; the secure default dials it as `quic/`.
        .env("TNET_CONNECT", format!("tcp/127.0.0.1:{port}"))
        .env(tnet_fleet::ENV_FLEET, fleet_dir())
        .env("RUST_LOG", "info,zenoh=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log"));
    if insecure {
        cmd.arg("--insecure");
    }
    let mut child = cmd.spawn().expect("tnet-host starts");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let ask = |args: &[&str]| {
        let mut cmd = tnet_command(&[&format!("tcp/127.0.0.1:{port}")]);
        if insecure {
            cmd.env("TNET_INSECURE", "1");
        }
        cmd.args(args);
        run_bounded(cmd, b"", COMMAND_LIMIT)
    };
    let answered = wait_until(Duration::from_secs(30), "the host answers", || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the host exited ({status}); its log:\n{}", log());
        }
        let out = ask(&["hosts", "--json"]);
        (out.success && out.stdout.contains("myself")).then_some(out)
    });
    assert!(answered.stdout.contains("myself"), "{answered:?}");
    let dir = tempfile::tempdir().expect("dir");
    let file = write_file(
        dir.path(),
        "t.toml",
        "task_name = \"t\"\ntask_type = \"daemon\"\ncommands = [\"sleep 1000\"]\n",
        0o644,
    );
    let run = ask(&["run", file.to_str().expect("utf-8")]);
    assert!(run.success, "{run:?}\nlog:\n{}", log());
    assert!(child.try_wait().expect("wait").is_none(), "{}", log());
    let said = log().matches("this host's own listen address").count();
    assert_eq!(said, 1, "said once:\n{}", log());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_host_whose_connect_endpoint_is_itself_skips_it_and_runs() {
    host_connecting_to_itself(false);
}

#[test]
fn an_insecure_host_whose_connect_endpoint_is_itself_skips_it_and_runs() {
    host_connecting_to_itself(true);
}

/// The reason of `task`'s last failed run, as `tnet status --json` gives it.
fn reason(host: &Host, task: &str) -> String {
    host.status(task)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_command_that_cannot_start_says_why_in_status_logs_and_events() {
    let host = Host::start("why-plain");
    let dir = tempfile::tempdir().expect("dir");
    let mut events = host.follow(&["events", "--json"]);
    events.wait_line(Duration::from_secs(20), |l| l.contains("following events"));

    // A workspace that is gone: the process cannot be spawned at all.
    let file = write_file(
        dir.path(),
        "gone.toml",
        "task_name = \"gone\"\ntask_type = \"daemon\"\ncommands = [\"true\"]\n",
        0o644,
    );
    host.tnet(&["run", p(&file)]).ok();
    host.wait_state("gone", "finished");
    std::fs::remove_dir_all(host.home.join("gone")).expect("remove the workspace");
    host.tnet(&["restart", "gone"]).ok();
    host.wait_state("gone", "failed");
    let why = reason(&host, "gone");
    assert!(
        why.contains("cannot start `true`") && why.contains("No such file or directory"),
        "{why}"
    );
    let event = events.wait_line(Duration::from_secs(20), |l| {
        l.contains("\"gone\"") && l.contains("cannot start")
    });
    assert!(event.contains("\"reason\""), "{event}");
    wait_until(Duration::from_secs(20), "`tnet logs` says why", || {
        let logs = host.tnet(&["logs", "gone"]).ok();
        logs.stdout.contains("cannot start `true`").then_some(())
    });

    // A program that is not there: the shell says so (exit 127), and so does tnet.
    let file = write_file(
        dir.path(),
        "missing.toml",
        "task_name = \"missing\"\ntask_type = \"habit\"\ncommands = [\"./no-such-program\"]\n\
         [habit_details]\ntime_between_runs = \"2s\"\n",
        0o644,
    );
    host.tnet(&["run", p(&file)]).ok();
    let event = events.wait_line(Duration::from_secs(20), |l| {
        l.contains("\"missing\"") && l.contains("\"failed\"")
    });
    assert!(event.contains("no such command"), "{event}");
    wait_until(
        Duration::from_secs(20),
        "the habit's run has a reason",
        || {
            reason(&host, "missing")
                .contains("no such command")
                .then_some(())
        },
    );
    wait_until(Duration::from_secs(20), "`tnet logs` says why", || {
        let logs = host.tnet(&["logs", "missing"]).ok();
        (logs.stdout.contains("no-such-program") && logs.stdout.contains("no such command"))
            .then_some(())
    });
}

fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Whether the host process is still running (it did not crash).
pub(crate) fn alive(host: &Host) -> bool {
    tnet_tests::process_alive(host.pid())
}
