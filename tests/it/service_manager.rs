//! The host under a service manager (systemd). What `systemctl stop` relies
//! on: SIGTERM ends every task's processes, records why their runs ended,
//! and exits 0 within the tasks' stop grace; the next start runs them again.
//! And the unit `tnet-host systemd install` writes: the flags given, in a
//! file systemd itself accepts, never overwriting or removing another.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use tnet_tests::{
    bin, process_alive, run_bounded, wait_until, write_file, Host, Output, COMMAND_LIMIT,
};

const WAIT: Duration = Duration::from_secs(30);

/// A daemon that leaves a grandchild in its process group and takes a
/// second to end after TERM, so the host is still shutting down when a
/// second SIGTERM comes.
const DAEMON_SH: &str = r#"#!/bin/sh
sh -c 'echo $$ > grandchild.pid; exec sleep 1000' &
trap 'echo "TERM received"; sleep 1; exit 0' TERM
echo "daemon up"
while true; do sleep 0.1; done
"#;

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn outcomes(status: &Value) -> Vec<String> {
    status["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["outcome"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[test]
fn sigterm_ends_every_task_records_the_shutdown_and_the_next_start_resumes() {
    let mut host = Host::start("sigterm");
    let client = tempfile::tempdir().expect("client dir");
    write_file(client.path(), "run.sh", DAEMON_SH, 0o755);
    let daemon = write_file(
        client.path(),
        "daemon.toml",
        "task_name = \"keeper\"\ntask_type = \"daemon\"\ncommands = [\"./run.sh\"]\n\
         necessary_files = [\"run.sh\"]\n[daemon_details]\nrestart_on_end = true\n",
        0o644,
    );
    // A habit whose run is going when the signal comes (later slots are skipped meanwhile).
    let habit = write_file(
        client.path(),
        "habit.toml",
        "task_name = \"ticker\"\ntask_type = \"habit\"\ncommands = [\"echo tick; exec sleep 600\"]\n\
         [habit_details]\ntime_between_runs = \"1s\"\n",
        0o644,
    );
    for file in [&daemon, &habit] {
        host.tnet(&["run", file.to_str().expect("utf8")]).ok();
    }
    let ws = host.home.join("keeper");
    let grandchild = wait_until(WAIT, "the daemon's grandchild starts", || {
        read_pid(&ws.join("grandchild.pid"))
    });
    host.wait_state("keeper", "running");
    host.wait_state("ticker", "running");
    let daemon_pid = host.status("keeper")["pid"]
        .as_u64()
        .expect("a running daemon has a pid") as u32;
    let habit_pid = host.status("ticker")["pid"]
        .as_u64()
        .expect("a running habit has a pid") as u32;
    let restarts_before = host.status("keeper")["restarts"].clone();

    // What `systemctl stop` does (KillMode=mixed): SIGTERM to the host alone.
    let signalled = Instant::now();
    host.signal(Signal::SIGTERM);
    wait_until(WAIT, "the host says it is stopping", || {
        host.log().contains("stopping").then_some(())
    });
    // A second SIGTERM while the daemon takes its second to end: no hang, no panic.
    host.signal(Signal::SIGTERM);
    let status = host.wait_exit(Duration::from_secs(20));
    let took = signalled.elapsed();
    let log = host.log();
    assert_eq!(
        status.code(),
        Some(0),
        "the host did not exit 0: {status}; log:\n{log}"
    );
    // The daemon's own second, the habit's kill, the session closing: well under the 5 s grace.
    assert!(
        took < Duration::from_secs(10),
        "stopping took {took:?}; log:\n{log}"
    );
    for (what, pid) in [
        ("the daemon", daemon_pid),
        ("the daemon's grandchild", grandchild),
        ("the habit's command", habit_pid),
    ] {
        assert!(!process_alive(pid), "{what} (pid {pid}) outlived the host");
    }
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        log.contains("already stopping"),
        "the second SIGTERM went unnoticed:\n{log}"
    );
    assert!(log.contains("tnet-host stopped"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour escapes in a log that is not a terminal:\n{log}"
    );
    let output =
        std::fs::read_to_string(host.home.join(".tnet/logs/keeper.log")).unwrap_or_default();
    assert!(
        output.contains("TERM received"),
        "the daemon was not given its TERM: {output}"
    );

    // What the store holds while the host is down: every run of both tasks
    // is closed, and the ones the signal interrupted say the shutdown ended
    // them: none is `lost`, none still `running`. (The store itself, not
    // `tnet status`, whose last 20 runs the habit's skipped slots soon fill.)
    let recorded = store_outcomes(&host.home);
    for task in ["keeper", "ticker"] {
        let of_task: Vec<&str> = recorded
            .iter()
            .filter(|(t, _)| t == task)
            .map(|(_, o)| o.as_str())
            .collect();
        assert_eq!(
            of_task.iter().filter(|o| **o == "shutdown").count(),
            1,
            "{task}: {of_task:?}"
        );
        assert!(
            !of_task.iter().any(|o| *o == "lost" || *o == "running"),
            "{task}: {of_task:?}"
        );
    }

    // Started again: neither task was stopped by a user, so both run again,
    // and nothing counts as a crash.
    host.start_again();
    host.wait_state("keeper", "running");
    let keeper = wait_until(WAIT, "the daemon's new run is recorded", || {
        let keeper = host.status("keeper");
        (outcomes(&keeper).len() >= 2).then_some(keeper)
    });
    assert_eq!(
        outcomes(&keeper),
        ["shutdown", "running"],
        "the daemon's runs: {keeper}"
    );
    assert_eq!(
        keeper["restarts"], restarts_before,
        "a shutdown counted as a restart: {keeper}"
    );
    wait_until(WAIT, "the daemon's new grandchild starts", || {
        read_pid(&ws.join("grandchild.pid")).filter(|p| *p != grandchild)
    });
    wait_until(WAIT, "the habit runs again", || {
        let ticker = host.status("ticker");
        let pid = ticker["pid"].as_u64().map(|p| p as u32);
        (ticker["state"] == "running" && pid.is_some_and(|p| p != habit_pid)).then_some(())
    });
}

/// Every run in the host's store, as (task, outcome); the host must be down.
fn store_outcomes(home: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(home.join(".tnet/host.sqlite3")).expect("the store");
    let mut stmt = db
        .prepare("SELECT task, outcome FROM runs ORDER BY id")
        .expect("a query of runs");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("the runs")
        .collect::<Result<_, _>>()
        .expect("readable runs")
}

/// `tnet-host ARGS...` with `env`, to its end.
fn tnet_host(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(bin("tnet-host"));
    cmd.args(args)
        .env_remove("TNET_HOME")
        .env_remove("TNET_CONNECT")
        .env_remove("TNET_HOST_CONFIG");
    for (key, value) in env {
        cmd.env(key, value);
    }
    run_bounded(cmd, b"", COMMAND_LIMIT)
}

/// `systemd-analyze [--user] verify UNIT`: whether systemd itself accepts the
/// unit, warnings included (an unknown key is only a warning: exit 0). Fails
/// where systemd's tools are missing (`tnet_tests::require`).
fn systemd_accepts(unit: &Path, user: bool, runtime_dir: &Path) {
    tnet_tests::require(
        Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok(),
        "systemd-analyze (Debian's systemd)",
    );
    let mut cmd = Command::new("systemd-analyze");
    if user {
        cmd.arg("--user");
    }
    // A user's manager needs a runtime folder, even to verify; the system's needs no PID 1.
    cmd.arg("verify")
        .arg(unit)
        .env("XDG_RUNTIME_DIR", runtime_dir);
    let out = run_bounded(cmd, b"", COMMAND_LIMIT);
    assert!(
        out.success && out.stderr.trim().is_empty(),
        "systemd does not accept {}: {out:?}\n{}",
        unit.display(),
        std::fs::read_to_string(unit).unwrap_or_default()
    );
}

#[test]
fn the_committed_unit_is_what_print_writes() {
    let committed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/systemd/tnet-host.service");
    let out = tnet_host(
        &["systemd", "print", "--binary", "/usr/local/bin/tnet-host"],
        &[],
    )
    .ok();
    assert_eq!(
        std::fs::read_to_string(&committed).expect("the committed unit"),
        out.stdout,
        "regenerate it: tnet-host systemd print --binary /usr/local/bin/tnet-host > packaging/systemd/tnet-host.service"
    );
}

#[test]
fn install_writes_a_unit_systemd_accepts_and_uninstall_removes_only_its_own() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = dir.path().join("config");
    let runtime = dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).expect("mkdir");
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let env: &[(&str, &Path)] = &[("XDG_CONFIG_HOME", &config), ("HOME", dir.path())];
    let unit = config.join("systemd/user/tnet-host.service");
    let tasks = dir.path().join("my tasks");
    let tasks = tasks.to_str().expect("utf8");
    let binary = bin("tnet-host");
    let binary = binary.to_str().expect("utf8");

    // The unit runs this binary with exactly the host flags given, quoted for systemd.
    let install_lab1 = [
        "systemd",
        "install",
        "--user",
        "--name",
        "lab1",
        "--home",
        tasks,
        "-l",
        "tcp/127.0.0.1:7500",
    ];
    let out = tnet_host(&install_lab1, env).ok();
    let text = std::fs::read_to_string(&unit).expect("the unit is written");
    let exec = text
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("an ExecStart= line");
    assert_eq!(
        exec,
        format!("ExecStart={binary} --name lab1 --home \"{tasks}\" --listen tcp/127.0.0.1:7500")
    );
    for line in [
        "KillMode=mixed",
        "Restart=on-failure",
        "Type=simple",
        "WantedBy=default.target",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line}:\n{text}");
    }
    assert!(
        out.stdout
            .contains("systemctl --user daemon-reload && systemctl --user enable --now tnet-host"),
        "{out:?}"
    );
    systemd_accepts(&unit, true, &runtime);

    // The system's unit, printed with flags: accepted by systemd as well.
    let system = dir.path().join("tnet-host.service");
    let printed = tnet_host(
        &["systemd", "print", "--name", "lab 1", "--home", "/srv/100%"],
        env,
    )
    .ok();
    std::fs::write(&system, &printed.stdout).expect("write");
    assert!(printed
        .stdout
        .contains("After=network-online.target docker.service"));
    assert!(
        printed
            .stdout
            .contains(r#"--name "lab 1" --home "/srv/100%%""#),
        "{printed:?}"
    );
    systemd_accepts(&system, false, &runtime);

    // Installing the same unit again changes nothing; a different one needs --force.
    tnet_host(&install_lab1, env).ok();
    let other = tnet_host(&["systemd", "install", "--user", "--name", "lab2"], env);
    assert!(!other.success, "{other:?}");
    assert!(
        other.stderr.contains("--force") && other.stderr.contains("--name lab2"),
        "{other:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&unit).expect("unit"),
        text,
        "overwritten without --force"
    );
    let forced = tnet_host(
        &["systemd", "install", "--user", "--force", "--name", "lab2"],
        env,
    )
    .ok();
    assert!(
        forced.stdout.contains("try-restart"),
        "a running host keeps its old flags: {forced:?}"
    );
    assert!(std::fs::read_to_string(&unit)
        .expect("unit")
        .contains(&format!("ExecStart={binary} --name lab2\n")));

    // Bad flags are refused before anything is written.
    let relative = tnet_host(
        &["systemd", "install", "--user", "--force", "--home", "tasks"],
        env,
    );
    assert!(
        !relative.success && relative.stderr.contains("absolute path"),
        "{relative:?}"
    );

    // Uninstall refuses while the unit is enabled, then removes it.
    let wants = config.join("systemd/user/default.target.wants");
    std::fs::create_dir_all(&wants).expect("mkdir");
    std::os::unix::fs::symlink(&unit, wants.join("tnet-host.service")).expect("symlink");
    let enabled = tnet_host(&["systemd", "uninstall", "--user"], env);
    assert!(
        !enabled.success
            && enabled
                .stderr
                .contains("systemctl --user disable --now tnet-host"),
        "{enabled:?}"
    );
    assert!(unit.exists());
    std::fs::remove_file(wants.join("tnet-host.service")).expect("rm");
    tnet_host(&["systemd", "uninstall", "--user"], env).ok();
    assert!(!unit.exists());

    // ...and never removes a unit someone else wrote, unless forced.
    std::fs::write(&unit, "[Service]\nExecStart=/bin/true\n").expect("write");
    let foreign = tnet_host(&["systemd", "uninstall", "--user"], env);
    assert!(
        !foreign.success && foreign.stderr.contains("not written by tnet-host"),
        "{foreign:?}"
    );
    tnet_host(&["systemd", "uninstall", "--user", "--force"], env).ok();
    assert!(!unit.exists());
}
