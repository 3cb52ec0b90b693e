//! Daemons: the seed's game-server story, the restart policy, crash loops,
//! stopping stubborn processes, capped logs, and following logs across restarts.

use std::path::Path;
use std::time::{Duration, Instant};

use tnet_tests::{process_alive, wait_until, write_file, Host};

pub(crate) const INSTALLER: &str = r#"#!/bin/sh
# Stand-in for the seed's game-server-installer: writes a start script with a
# low default RAM setting, and counts how often it ran.
echo ran >> installer-runs.txt
cat > start.sh <<'SCRIPT'
#!/bin/sh
RAM=512M
echo "game server up with RAM=$RAM"
sleep 2
SCRIPT
chmod +x start.sh
echo "installed"
"#;

/// The seed's daemon example in the seed's spelling; Docker comes with the
/// Docker issue, so this runs as a plain process.
pub(crate) const SEED_DAEMON: &str = r#"task_name = "Game Server" # (must be unique)
task_type = "daemon"
commands = []
setup_commands = ["chmod +x ./game-server-installer", "./game-server-installer"]
necessary_files = ["./game-server-installer"]
run_in_docker = false

[task_details]
on_end     = "email"
on_fail    = "email"
on_success = "qmail"

[daemon_details]
restart_on_end = true
restart_on_fail = true
restart_on_success = true
wait_after_setup = true
stable_after = "1s"

[docker_settings]
docker_img_id = "Ubuntu 22.04"
apt_packages = ["openjdk8-jdk"]
start_container_on_reboot = false
"#;

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

#[test]
fn the_game_server_story() {
    let mut host = Host::start("gamehost");
    let dir = tempfile::tempdir().expect("dir");
    write_file(dir.path(), "game-server-installer", INSTALLER, 0o644);
    let task = write_file(dir.path(), "gameserver.toml", SEED_DAEMON, 0o644);
    let mut events = host.follow(&["events", "--json"]);
    events.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("following events")
    });

    host.tnet(&["run", path_str(&task)]).ok();
    host.wait_state("Game Server", "waiting");
    let waiting = events.wait_line(Duration::from_secs(10), |l| {
        l.contains(r#""kind":"waiting""#)
    });
    assert!(waiting.contains("Game Server"), "{waiting}");

    // The user shells in and gives the server more RAM.
    let ws = host.home.join("Game_Server");
    let start = ws.join("start.sh");
    let script = std::fs::read_to_string(&start).expect("setup wrote start.sh");
    assert!(script.contains("RAM=512M"));
    std::fs::write(&start, script.replace("RAM=512M", "RAM=4G")).expect("edit start.sh");

    // The edit-task message: a new command, setup not rerun.
    let edited = SEED_DAEMON.replace("commands = []", r#"commands = ["./start.sh"]"#);
    let new_task = write_file(dir.path(), "gameserver-v2.toml", &edited, 0o644);
    let out = host
        .tnet(&["edit", "Game Server", "--file", path_str(&new_task)])
        .ok();
    assert!(
        out.stderr.contains(r#"+commands = ["./start.sh"]"#),
        "the diff is shown: {out:?}"
    );
    host.wait_state("Game Server", "running");
    wait_until(
        Duration::from_secs(10),
        "the server runs the changed script",
        || {
            host.tnet(&["logs", "Game Server"])
                .ok()
                .stdout
                .contains("game server up with RAM=4G")
                .then_some(())
        },
    );
    let runs = std::fs::read_to_string(ws.join("installer-runs.txt")).expect("installer ran");
    assert_eq!(runs.lines().count(), 1, "setup ran again");

    // restart_on_success: the script ends after 2 s and comes back, still
    // with 4G, a second later. Once, beside the other tests on a loaded CI
    // machine, that was not seen within 20 s; the wait is longer now, and
    // tells what it saw if it ends.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = serde_json::Value::Null;
    while !(seen["restarts"].as_u64() >= Some(1) && seen["state"] == "running") {
        assert!(
            Instant::now() < deadline,
            "the server did not restart after a clean exit within 60 s; last seen: {seen}\nhost log:\n{}",
            host.log()
        );
        std::thread::sleep(Duration::from_millis(50));
        if let Some(t) = host
            .tasks()
            .into_iter()
            .find(|t| t["name"] == "Game Server")
        {
            seen = t;
        }
    }
    // The restarted run's output reaches the log a moment after its state.
    let logs = wait_until(
        Duration::from_secs(20),
        "the restarted server's output in the log",
        || {
            let logs = host.tnet(&["logs", "Game Server"]).ok().stdout;
            (logs.matches("game server up with RAM=4G").count() >= 2).then_some(logs)
        },
    );
    assert!(!logs.contains("RAM=512M"), "{logs}");

    // A host restart keeps the edited definition and the workspace.
    host.restart();
    host.wait_state("Game Server", "running");
    assert!(std::fs::read_to_string(&start)
        .expect("start.sh")
        .contains("RAM=4G"));
}

#[test]
fn the_restart_matrix() {
    let host = Host::start("matrix");
    let dir = tempfile::tempdir().expect("dir");
    let flags = ["restart_on_end", "restart_on_fail", "restart_on_success"];
    // (flag, exit code, restarts?)
    let cases: Vec<(&str, i32, bool)> = flags
        .iter()
        .flat_map(|f| {
            [
                (*f, 0, *f != "restart_on_fail"),
                (*f, 1, *f != "restart_on_success"),
            ]
        })
        .collect();
    for (flag, code, _) in &cases {
        let name = format!("{flag}-exit{code}");
        let toml = format!(
            "task_name = \"{name}\"\ntask_type = \"daemon\"\ncommands = [\"echo ran >> runs.txt; exit {code}\"]\n\n[daemon_details]\n{flag} = true\nrestart_delay = \"50ms\"\ncrashloop_after = 1000\n"
        );
        let file = write_file(dir.path(), &format!("{name}.toml"), &toml, 0o644);
        host.tnet(&["run", path_str(&file)]).ok();
    }
    for (flag, code, restarts) in cases {
        let name = format!("{flag}-exit{code}");
        let runs_file = host.home.join(&name).join("runs.txt");
        let runs = || {
            std::fs::read_to_string(&runs_file)
                .map(|s| s.lines().count())
                .unwrap_or(0)
        };
        if restarts {
            wait_until(Duration::from_secs(10), &format!("{name} restarts"), || {
                (runs() >= 3).then_some(())
            });
        } else {
            let end = if code == 0 { "finished" } else { "failed" };
            host.wait_state(&name, end);
            let task = host
                .tasks()
                .into_iter()
                .find(|t| t["name"] == name.as_str())
                .expect("task");
            assert_eq!(task["restarts"], 0, "{name}: {task}");
            assert_eq!(runs(), 1, "{name} ran again");
        }
    }
}

#[test]
fn a_crashing_daemon_backs_off_then_stops_in_crashloop_with_one_event() {
    let host = Host::start("crashy");
    let dir = tempfile::tempdir().expect("dir");
    let toml = "task_name = \"crasher\"\ntask_type = \"daemon\"\ncommands = [\"exit 1\"]\n\n[daemon_details]\nrestart_on_fail = true\nrestart_delay = \"100ms\"\nmax_restart_delay = \"10s\"\ncrashloop_after = 5\n";
    let file = write_file(dir.path(), "crasher.toml", toml, 0o644);
    let mut events = host.follow(&["events", "--json"]);
    events.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("following events")
    });
    host.tnet(&["run", path_str(&file)]).ok();
    host.wait_state("crasher", "crashloop");

    let status = host.status("crasher");
    assert_eq!(status["restarts"], 4, "{status}");
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = status["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            chrono::DateTime::parse_from_rfc3339(r["started"].as_str().expect("started"))
                .expect("time")
        })
        .collect();
    assert_eq!(starts.len(), 5, "{status}");
    let gaps: Vec<i64> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    // Each wait is at least its delay, and the delays double: 100, 200, 400, 800 ms.
    // (Lower bounds hold on a loaded machine; exact gaps do not.)
    for (i, gap) in gaps.iter().enumerate() {
        assert!(
            *gap >= 100 << i,
            "delays should double from 100 ms: {gaps:?} ms"
        );
    }

    events.wait_line(Duration::from_secs(10), |l| {
        l.contains(r#""kind":"crashloop""#)
    });
    // Nothing more happens: proving an absence takes a wait longer than the
    // last backoff delay (800 ms) would have been.
    std::thread::sleep(Duration::from_millis(1000));
    let crashloops = events
        .drain()
        .iter()
        .filter(|l| l.contains(r#""kind":"crashloop""#))
        .count();
    assert_eq!(crashloops, 1, "{:?}", events.seen);
    assert_eq!(host.state("crasher").as_deref(), Some("crashloop"));
}

#[test]
fn stop_kills_what_ignores_term_after_the_grace_period() {
    let host = Host::start("stubborn");
    let dir = tempfile::tempdir().expect("dir");
    let script = "#!/bin/sh\ntrap '' TERM\nsh -c 'trap \"\" TERM; echo $$ > child.pid; while true; do sleep 0.1; done' &\necho $$ > leader.pid\nwhile true; do sleep 0.1; done\n";
    write_file(dir.path(), "stubborn.sh", script, 0o755);
    let toml = "task_name = \"stubborn\"\ntask_type = \"daemon\"\ncommands = [\"./stubborn.sh\"]\nnecessary_files = [\"stubborn.sh\"]\n\n[task_details]\nstop_grace = \"1s\"\n";
    let file = write_file(dir.path(), "stubborn.toml", toml, 0o644);
    host.tnet(&["run", path_str(&file)]).ok();
    host.wait_state("stubborn", "running");
    let ws = host.home.join("stubborn");
    let read_pid = |n: &str| {
        std::fs::read_to_string(ws.join(n))
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()
    };
    let leader = wait_until(Duration::from_secs(10), "the leader starts", || {
        read_pid("leader.pid")
    });
    let child = wait_until(Duration::from_secs(10), "the child starts", || {
        read_pid("child.pid")
    });

    let started = Instant::now();
    host.tnet(&["stop", "stubborn"]).ok();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "TERM was ignored, so stop waits the grace period: {took:?}"
    );
    assert!(
        !process_alive(leader) && !process_alive(child),
        "something survived stop"
    );
    assert_eq!(host.state("stubborn").as_deref(), Some("stopped"));
}

#[test]
fn a_loud_daemon_does_not_grow_its_log_past_the_cap() {
    let host = Host::start("loud");
    let dir = tempfile::tempdir().expect("dir");
    // 24 MiB of output, three times the 8 MiB cap.
    let toml = "task_name = \"loud\"\ntask_type = \"daemon\"\ncommands = [\"yes 'a line of output' | head -c 25165824; echo done\"]\n";
    let file = write_file(dir.path(), "loud.toml", toml, 0o644);
    host.tnet(&["run", path_str(&file)]).ok();
    host.wait_state("loud", "finished");
    wait_until(
        Duration::from_secs(20),
        "the log ends with the last line",
        || {
            host.tnet(&["logs", "loud", "--tail", "100"])
                .ok()
                .stdout
                .ends_with("done\n")
                .then_some(())
        },
    );
    let logs = host.home.join(".tnet/logs");
    let size: u64 = std::fs::read_dir(&logs)
        .expect("logs dir")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_name().to_string_lossy().starts_with("loud.log"))
        .map(|e| e.metadata().expect("meta").len())
        .sum();
    assert!(
        size <= 2 * (8 << 20) + (1 << 20),
        "{size} bytes of log on disk"
    );
}

#[test]
fn logs_follow_across_restarts() {
    let host = Host::start("follower");
    let dir = tempfile::tempdir().expect("dir");
    let toml = "task_name = \"blinker\"\ntask_type = \"daemon\"\ncommands = [\"echo \\\"up $(cat /proc/sys/kernel/random/uuid)\\\"; sleep 0.3; exit 1\"]\n\n[daemon_details]\nrestart_on_fail = true\nrestart_delay = \"200ms\"\nstable_after = \"100ms\"\n";
    let file = write_file(dir.path(), "blinker.toml", toml, 0o644);
    host.tnet(&["run", path_str(&file)]).ok();
    host.wait_state("blinker", "running");
    let mut follow = host.follow(&["logs", "-f", "blinker"]);
    // Lines written after `logs -f` started, from three different lives of the daemon.
    let before = host.tnet(&["logs", "blinker"]).ok().stdout;
    let mut fresh = std::collections::HashSet::new();
    while fresh.len() < 3 {
        let line = follow.wait_line(Duration::from_secs(15), |l| l.starts_with("up "));
        if !before.contains(&line) {
            fresh.insert(line);
        }
    }
    follow.wait_line(Duration::from_secs(10), |l| {
        l.contains("[tnet]") && l.contains("restarting")
    });
}

#[test]
fn editing_the_hosts_copy_in_an_editor_restarts_the_daemon() {
    let host = Host::start("editor");
    let dir = tempfile::tempdir().expect("dir");
    let toml = "task_name = \"versioned\"\ntask_type = \"daemon\"\ncommands = [\"echo version-one; sleep 100\"]\n";
    let file = write_file(dir.path(), "v.toml", toml, 0o644);
    host.tnet(&["run", path_str(&file)]).ok();
    wait_until(Duration::from_secs(10), "version one runs", || {
        host.tnet(&["logs", "versioned"])
            .ok()
            .stdout
            .contains("version-one")
            .then_some(())
    });
    // A scripted editor: what a user would do in $EDITOR.
    let editor = write_file(
        dir.path(),
        "editor.sh",
        "#!/bin/sh\nsed -i 's/version-one/version-two/' \"$1\"\n",
        0o755,
    );
    let out = tnet_tests::tnet_with_env(
        &[&host.endpoint()],
        &["edit", "versioned"],
        &[("EDITOR", path_str(&editor)), ("VISUAL", "")],
    );
    assert!(out.success, "{out:?}");
    assert!(
        out.stderr
            .contains("+commands = [\"echo version-two; sleep 100\"]"),
        "{out:?}"
    );
    wait_until(
        Duration::from_secs(10),
        "the daemon restarted on the new definition",
        || {
            host.tnet(&["logs", "versioned"])
                .ok()
                .stdout
                .contains("version-two")
                .then_some(())
        },
    );
    assert_eq!(host.state("versioned").as_deref(), Some("running"));
}
