//! Warm services (docs/services.md, "Warm services"): a worker started once
//! after setup answers every call; a worker that dies mid-call, a call past
//! its time limit and a caller that leaves each end the worker, the caller is
//! told, and the next call finds a new one; a worker that keeps crashing
//! puts its service in `crashloop`; the concurrency limit and arrival
//! order hold; a worker in a container; a call from Python with no tnet code.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tnet_tests::{process_alive, run_bounded, tnet_command, wait_until, Host, COMMAND_LIMIT};

/// A worker in plain sh. It notes each start in `starts.log`, answers
/// `pid <its pid>: <input>`, and acts on its first argument: `crash` exits 3
/// mid-call, `hang` leaves a child and waits (both pids in `hang.pids`),
/// `slow` takes a second and logs when it starts and ends, `gate`
/// waits for the file `gate` and logs its second argument in `order.log`.
const WORKER_SH: &str = r#"#!/bin/sh
echo $$ >> starts.log
echo "worker $$ loading" >&2
echo '{"ready":true}'
while IFS= read -r call; do
  id=${call#*\"id\":}; id=${id%%,*}
  input=${call#*\"input\":\"}; input=${input%%\"*}
  dir=${call#*\"call_dir\":\"}; dir=${dir%%\"*}
  args=${call#*\"args\":[}; args=${args%%]*}
  case "$args" in
    '"crash"'*) echo "worker $$ crashes" >&2; exit 3 ;;
    '"hang"'*) sleep 1000 & echo "$$ $!" > hang.pids; wait ;;
    '"slow"'*) echo "start $(date +%s%N)" >> calls.log; sleep 1; echo "end $(date +%s%N)" >> calls.log ;;
    '"gate"'*) while [ ! -e gate ]; do sleep 0.02; done; echo "$args" >> order.log ;;
  esac
  { printf 'pid %s: ' $$; cat "$input"; } > "$dir/result"
  printf '{"id":%s,"len":%d}\n' "$id" "$(($(wc -c < "$dir/result")))"
  cat "$dir/result"
done
"#;

/// Submits a warm service running [`WORKER_SH`] with `details` added to its
/// `[service_details]`, and waits until its workers are ready.
fn submit_warm(host: &Host, name: &str, details: &str) -> tempfile::TempDir {
    submit_worker(host, name, "test -f setup.txt && exec ./worker.sh", details)
}

/// [`submit_warm`] with the worker's command line given.
fn submit_worker(host: &Host, name: &str, command: &str, details: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("task dir");
    tnet_tests::write_file(dir.path(), "worker.sh", WORKER_SH, 0o755);
    let task = tnet_tests::write_file(
        dir.path(),
        "task.toml",
        &format!(
            "task_name = \"{name}\"\ntask_type = \"service\"\n\
             setup_commands = [\"echo set up > setup.txt\"]\n\
             commands = [\"{command}\"]\n\
             necessary_files = [\"worker.sh\"]\n\
             [service_details]\nwarm = true\n{details}"
        ),
        0o644,
    );
    host.tnet(&["run", path_str(&task)]).ok();
    host.wait_state(name, "ready");
    wait_ready(host, name, 0);
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// `tnet services --json`: the entry of `name`.
fn service(host: &Host, name: &str) -> serde_json::Value {
    let list = host.tnet(&["services", "--json"]).ok().json();
    list.as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no service {name} in {list}"))
}

/// Waits until every worker of `name` is ready, the workers having been
/// started again `restarts` times in all; returns their pids.
fn wait_ready(host: &Host, name: &str, restarts: u64) -> Vec<u64> {
    wait_until(
        Duration::from_secs(20),
        &format!("the workers of {name} are ready after {restarts} restart(s)"),
        || {
            let s = service(host, name);
            let workers = s["warm"]["workers"].as_array()?.clone();
            let all_ready = !workers.is_empty() && workers.iter().all(|w| w["state"] == "ready");
            let total: u64 = workers.iter().filter_map(|w| w["restarts"].as_u64()).sum();
            (all_ready && total == restarts)
                .then(|| workers.iter().filter_map(|w| w["pid"].as_u64()).collect())
        },
    )
}

/// Calls `name` with `input` and `args`; the whole output.
fn call(host: &Host, name: &str, input: &str, args: &[&str]) -> tnet_tests::Output {
    let mut argv = vec!["call", name, "--input", "-", "--"];
    argv.extend_from_slice(args);
    host.tnet_input(&argv, input.as_bytes())
}

/// The runs a host recorded for a task.
fn runs(host: &Host, task: &str) -> Vec<serde_json::Value> {
    let task = format!("{}/{task}", host.name);
    host.tnet(&["status", &task, "--json"]).ok().json()["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn starts(host: &Host, task: &str) -> usize {
    std::fs::read_to_string(host.home.join(task).join("starts.log"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// The pids [`WORKER_SH`] wrote for a `hang` call.
fn hang_pids(host: &Host, task: &str) -> Option<Vec<u32>> {
    let text = std::fs::read_to_string(host.home.join(task).join("hang.pids")).ok()?;
    let pids: Vec<u32> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    (pids.len() == 2).then_some(pids)
}

#[test]
fn a_warm_service_answers_every_call_from_one_worker_started_after_setup() {
    let host = Host::start("warm-one");
    let _task = submit_warm(&host, "echo", "");
    let pids = wait_ready(&host, "echo", 0);
    assert_eq!(pids.len(), 1, "one worker by default");
    for i in 0..5 {
        let out = call(&host, "echo", &format!("call {i}"), &["x"]).ok();
        assert_eq!(out.stdout, format!("pid {}: call {i}", pids[0]));
    }
    assert_eq!(starts(&host, "echo"), 1, "the worker was started once");

    // `tnet services` says it is warm, and how its worker is.
    // The worker is counted ready a moment after its answer left.
    let worker = wait_until(Duration::from_secs(10), "the worker is ready again", || {
        let worker = service(&host, "echo")["warm"]["workers"][0].clone();
        (worker["state"] == "ready").then_some(worker)
    });
    assert_eq!(worker["calls"], 5, "{worker}");
    assert_eq!(worker["restarts"], 0, "{worker}");
    let text = host.tnet(&["services"]).ok().stdout;
    assert!(
        text.contains(&format!(
            "warm:   worker 1: ready, pid {}, 5 call(s), 0 restart(s)",
            pids[0]
        )),
        "{text}"
    );
    assert!(text.contains("limits: 1 call(s) at once"), "{text}");
    // Its standard error is in the task's log.
    wait_until(Duration::from_secs(10), "its stderr is in the log", || {
        let logs = host.tnet(&["logs", "echo"]).ok().stdout;
        logs.contains(&format!("worker {} loading", pids[0]))
            .then_some(())
    });

    // Stopping the service ends the worker; starting it starts a new one.
    host.tnet(&["stop", "echo"]).ok();
    wait_until(Duration::from_secs(10), "the worker is gone", || {
        (!process_alive(pids[0] as u32)).then_some(())
    });
    host.tnet(&["start", "echo"]).ok();
    host.wait_state("echo", "ready");
    let again = wait_ready(&host, "echo", 0);
    assert_ne!(again, pids);
    let out = call(&host, "echo", "back", &[]).ok();
    assert_eq!(out.stdout, format!("pid {}: back", again[0]));
}

#[test]
fn a_warm_worker_that_dies_mid_call_is_restarted_and_the_next_call_works() {
    let host = Host::start("warm-crash");
    let _task = submit_warm(&host, "fragile", "");
    let first = wait_ready(&host, "fragile", 0);

    let out = call(&host, "fragile", "boom", &["crash"]);
    assert_eq!(out.code, Some(3), "the worker's exit code: {out:?}");
    assert!(
        out.stderr
            .contains("worker exited with code 3 during the call"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("crashes"),
        "its stderr comes back: {out:?}"
    );

    let second = wait_ready(&host, "fragile", 1);
    assert_ne!(first, second, "a new worker");
    let out = call(&host, "fragile", "fine", &[]).ok();
    assert_eq!(out.stdout, format!("pid {}: fine", second[0]));
    assert_eq!(starts(&host, "fragile"), 2);
    wait_until(
        Duration::from_secs(10),
        "the failed call is recorded",
        || {
            runs(&host, "fragile")
                .iter()
                .any(|r| r["outcome"] == "failed" && r["phase"] == "call")
                .then_some(())
        },
    );
}

#[test]
fn a_warm_worker_that_keeps_crashing_puts_its_service_in_crashloop_with_one_event() {
    let host = Host::start("warm-loop");
    let dir = tempfile::tempdir().expect("task dir");
    tnet_tests::write_file(dir.path(), "worker.sh", WORKER_SH, 0o755);
    let notices = dir.path().join("notices.json");
    // It crashes at once until the file `healthy` exists; the worker's
    // restarts follow the task's [daemon_details] policy.
    let task = tnet_tests::write_file(
        dir.path(),
        "task.toml",
        &format!(
            "task_name = \"looper\"\ntask_type = \"service\"\n\
             commands = [\"test -f healthy && exec ./worker.sh; echo crash >> crashes.log; exit 3\"]\n\
             necessary_files = [\"worker.sh\"]\n\
             [service_details]\nwarm = true\n\
             [daemon_details]\nrestart_delay = \"100ms\"\ncrashloop_after = 3\n\
             [task_details]\non_fail = \"command\"\nnotify_command = \"cat >> '{}'\"\n",
            notices.display()
        ),
        0o644,
    );
    // The notifications the task's command received, and of those the crash loops.
    let crashloop_notices = || {
        let text = std::fs::read_to_string(&notices).unwrap_or_default();
        let all: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("notifications are JSON ({e}): {text}"));
        let looped = all.iter().filter(|n| n["kind"] == "crashloop").count();
        (all.len(), looped)
    };
    let mut events = host.follow(&["events", "--json"]);
    events.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("following events")
    });
    host.tnet(&["run", path_str(&task)]).ok();
    host.wait_state("looper", "crashloop");
    let crashes = || {
        std::fs::read_to_string(host.home.join("looper/crashes.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    assert_eq!(crashes(), 3, "three quick exits, then no more starts");

    // `tnet services` shows it, as a daemon's crash loop shows in `tnet status`.
    let s = service(&host, "looper");
    assert_eq!(s["state"], "crashloop", "{s}");
    let worker = &s["warm"]["workers"][0];
    assert_eq!(worker["state"], "crashloop", "{s}");
    assert_eq!(worker["restarts"], 2, "{s}");
    let text = host.tnet(&["services"]).ok().stdout;
    assert!(text.contains("looper (crashloop)"), "{text}");
    assert!(text.contains("worker 1: crashloop"), "{text}");
    let logs = host.tnet(&["logs", "looper"]).ok().stdout;
    assert!(
        logs.contains("3 times in a row") && logs.contains("takes no calls"),
        "{logs}"
    );

    // One event, not one per crash, and nothing more happens: proving an
    // absence takes a wait longer than the next delay (400 ms) would be.
    events.wait_line(Duration::from_secs(10), |l| {
        l.contains(r#""kind":"crashloop""#)
    });
    std::thread::sleep(Duration::from_millis(1000));
    let crashloops = events
        .drain()
        .iter()
        .filter(|l| l.contains(r#""kind":"crashloop""#))
        .count();
    assert_eq!(crashloops, 1, "{:?}", events.seen);
    // The same one notification (the delivery runs apart from the task).
    wait_until(
        Duration::from_secs(10),
        "the crash loop is notified",
        || (crashloop_notices().1 == 1).then_some(()),
    );
    assert_eq!(crashloop_notices(), (1, 1), "only the crash loop notifies");
    assert_eq!(crashes(), 3);
    assert_eq!(host.state("looper").as_deref(), Some("crashloop"));
    // No call is taken meanwhile.
    let out = call(&host, "looper", "in vain", &[]);
    assert!(!out.success, "{out:?}");

    // Fixed, and started by hand: it answers again.
    std::fs::write(host.home.join("looper/healthy"), "").expect("heal the worker");
    host.tnet(&["start", "looper"]).ok();
    host.wait_state("looper", "ready");
    let pids = wait_ready(&host, "looper", 0);
    let out = call(&host, "looper", "again", &[]).ok();
    assert_eq!(out.stdout, format!("pid {}: again", pids[0]));
}

#[test]
fn a_warm_call_past_its_time_limit_kills_its_worker_which_starts_again() {
    let host = Host::start("warm-slow");
    let _task = submit_warm(&host, "sleepy", "timeout = \"1h\"\n");
    let first = wait_ready(&host, "sleepy", 0);

    let out = host.tnet_input(
        &[
            "call",
            "sleepy",
            "--timeout",
            "1",
            "--input",
            "-",
            "--",
            "hang",
        ],
        b"zzz",
    );
    assert_eq!(out.code, Some(124), "{out:?}");
    assert!(out.stderr.contains("time limit of 1s"), "{out:?}");
    assert!(out.stderr.contains("worker was killed"), "{out:?}");
    let pids = hang_pids(&host, "sleepy").expect("the hanging call wrote its pids");
    wait_until(
        Duration::from_secs(10),
        "the worker and its child are gone",
        || pids.iter().all(|p| !process_alive(*p)).then_some(()),
    );

    let second = wait_ready(&host, "sleepy", 1);
    assert_ne!(first, second);
    let out = call(&host, "sleepy", "awake", &[]).ok();
    assert_eq!(out.stdout, format!("pid {}: awake", second[0]));
    wait_until(Duration::from_secs(10), "the call is recorded", || {
        runs(&host, "sleepy")
            .iter()
            .any(|r| r["outcome"] == "timeout")
            .then_some(())
    });
}

#[test]
fn a_caller_that_goes_away_ends_its_warm_call_and_the_worker_starts_again() {
    let host = Host::start("warm-leave");
    let _task = submit_warm(&host, "hang", "");
    let first = wait_ready(&host, "hang", 0);
    let mut caller = tnet_command(&[&host.endpoint()])
        .args(["call", "hang", "--", "hang"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tnet call starts");
    let pids = wait_until(Duration::from_secs(20), "the worker takes the call", || {
        hang_pids(&host, "hang")
    });
    assert!(pids.iter().all(|p| process_alive(*p)));
    caller.kill().expect("kill the caller");
    caller.wait().expect("reap the caller");
    wait_until(
        Duration::from_secs(10),
        "the worker and its child are gone after the caller left",
        || pids.iter().all(|p| !process_alive(*p)).then_some(()),
    );
    wait_until(
        Duration::from_secs(10),
        "the call is recorded as cancelled",
        || {
            runs(&host, "hang")
                .iter()
                .any(|r| r["outcome"] == "cancelled")
                .then_some(())
        },
    );
    let second = wait_ready(&host, "hang", 1);
    assert_ne!(first, second);
    let out = call(&host, "hang", "next", &[]).ok();
    assert_eq!(out.stdout, format!("pid {}: next", second[0]));
}

#[test]
fn a_host_killed_with_a_worker_that_stays_ends_it_when_it_starts_again() {
    let mut host = Host::start("warm-kill9");
    // After its standard input closes, the worker's shell lingers.
    let _task = submit_worker(&host, "stays", "./worker.sh; sleep 1000", "");
    let pids: Vec<u32> = wait_ready(&host, "stays", 0)
        .iter()
        .map(|p| *p as u32)
        .collect();
    let out = call(&host, "stays", "before", &[]).ok();
    assert!(out.stdout.ends_with(": before"), "{out:?}");
    // kill -9: the worker outlives the host...
    host.kill9();
    assert!(pids.iter().all(|p| process_alive(*p)));
    // ...until it starts again, ends what its previous life left, and starts a new worker.
    host.restart();
    wait_until(Duration::from_secs(15), "the old worker is gone", || {
        pids.iter().all(|p| !process_alive(*p)).then_some(())
    });
    host.wait_state("stays", "ready");
    let again = wait_ready(&host, "stays", 0);
    assert!(
        !pids.contains(&(again[0] as u32)),
        "a new worker: {again:?}"
    );
    // (The answer names worker.sh's own pid, a child of the command's shell.)
    let out = call(&host, "stays", "after", &[]).ok();
    assert!(out.stdout.ends_with(": after"), "{out:?}");
}

#[test]
fn warm_calls_obey_the_concurrency_limit_and_wait_in_arrival_order() {
    let host = Host::start("warm-conc");
    // Three workers but two calls at once: the limit wins.
    let _pool = submit_warm(&host, "pool", "workers = 3\nmax_concurrent_calls = 2\n");
    assert_eq!(wait_ready(&host, "pool", 0).len(), 3);
    let endpoint = host.endpoint();
    let callers: Vec<_> = (0..6)
        .map(|i| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let mut cmd = tnet_command(&[&endpoint]);
                cmd.args(["call", "pool", "--input", "-", "--", "slow"]);
                (
                    i,
                    run_bounded(cmd, format!("call-{i}").as_bytes(), COMMAND_LIMIT),
                )
            })
        })
        .collect();
    for caller in callers {
        let (i, out) = caller.join().expect("a caller thread");
        assert!(out.success, "call {i}: {out:?}");
        assert!(
            out.stdout.ends_with(&format!(": call-{i}")),
            "call {i}: {out:?}"
        );
    }
    let log = std::fs::read_to_string(host.home.join("pool/calls.log")).expect("calls.log");
    let (events, most) = crate::services::most_at_once(&log);
    assert_eq!(events, 12, "{log}");
    assert_eq!(
        most, 2,
        "at most two at once, and two did run together:\n{log}"
    );

    // One worker takes one call at a time, whatever the limit: the others
    // wait, in the order they came.
    let _gate = submit_warm(&host, "gate", "workers = 1\nmax_concurrent_calls = 4\n");
    let load = |field: &str| service(&host, "gate")[field].as_u64().unwrap_or(u64::MAX);
    let mut callers = Vec::new();
    for i in 0..4u64 {
        let endpoint = endpoint.clone();
        callers.push(std::thread::spawn(move || {
            let mut cmd = tnet_command(&[&endpoint]);
            cmd.args(["call", "gate", "--input", "-", "--", "gate", &i.to_string()]);
            run_bounded(cmd, format!("call-{i}").as_bytes(), COMMAND_LIMIT)
        }));
        if i == 0 {
            wait_until(Duration::from_secs(20), "the first call runs", || {
                (load("calls_running") == 1).then_some(())
            });
            // The call holds a turn a moment before its worker takes it.
            wait_until(Duration::from_secs(20), "the worker is busy", || {
                (service(&host, "gate")["warm"]["workers"][0]["state"] == "busy").then_some(())
            });
        } else {
            wait_until(
                Duration::from_secs(20),
                &format!("{i} call(s) wait"),
                || (load("calls_waiting") == i).then_some(()),
            );
        }
    }
    std::fs::write(host.home.join("gate/gate"), "").expect("open the gate");
    for (i, caller) in callers.into_iter().enumerate() {
        let out = caller.join().expect("a caller thread");
        assert!(out.success, "call {i}: {out:?}");
        assert!(out.stdout.ends_with(&format!(": call-{i}")), "{out:?}");
    }
    let order = std::fs::read_to_string(host.home.join("gate/order.log")).expect("order.log");
    assert_eq!(
        order, "\"gate\",\"0\"\n\"gate\",\"1\"\n\"gate\",\"2\"\n\"gate\",\"3\"\n",
        "calls ran out of arrival order"
    );
    assert_eq!(starts(&host, "gate"), 1, "one worker answered them all");
}

#[test]
fn docker_warm_service_keeps_its_worker_in_the_container() {
    crate::docker::require_engine();
    crate::docker::test_image();
    let host = Host::start("warm-docker");
    let containers = crate::docker::Containers::of("warm-docker");
    // The example's shell worker, as written, in a busybox container.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("workers")).expect("mkdir");
    std::fs::copy(
        examples.join("workers/shout.sh"),
        dir.path().join("workers/shout.sh"),
    )
    .expect("copy the example worker");
    let example =
        std::fs::read_to_string(examples.join("shout-warm-service.toml")).expect("the example");
    let task = dir.path().join("shout.toml");
    std::fs::write(
        &task,
        example.replace(
            "[service_details]",
            &format!(
                "run_in_docker = true\n\n[docker_settings]\ndocker_img_id = \"{}\"\n\n[service_details]",
                crate::docker::IMAGE
            ),
        ),
    )
    .expect("write the task file");
    host.tnet(&["run", path_str(&task)]).ok();
    host.wait_state("shout", "ready");
    let pids = wait_ready(&host, "shout", 0);
    assert_eq!(pids.len(), 2, "the example keeps two workers");
    for i in 0..4 {
        let out = call(&host, "shout", &format!("hello {i}"), &[]).ok();
        assert_eq!(out.stdout, format!("HELLO {i}"));
    }
    // The workers are processes of the task's one container.
    let ids = containers.ids(Some("shout"));
    assert_eq!(ids.len(), 1, "{ids:?}");
    let top = crate::docker::docker(&["top", &ids[0], "-o", "pid"]).expect("docker top");
    for pid in &pids {
        assert!(
            top.lines().any(|l| l.trim() == pid.to_string()),
            "worker {pid} is not in the container:\n{top}"
        );
    }
    assert_eq!(
        wait_ready(&host, "shout", 0),
        pids,
        "no worker was restarted"
    );

    // A worker killed from outside is started again in the container.
    kill_tree(pids[0] as u32);
    let again = wait_ready(&host, "shout", 1);
    assert!(!again.contains(&pids[0]), "{again:?}");
    for i in 0..4 {
        let out = call(&host, "shout", &format!("again {i}"), &[]).ok();
        assert_eq!(out.stdout, format!("AGAIN {i}"));
    }
    host.tnet(&["stop", "shout"]).ok();
    wait_until(Duration::from_secs(20), "the workers are gone", || {
        again
            .iter()
            .all(|p| !process_alive(*p as u32))
            .then_some(())
    });
}

#[test]
fn python_calls_the_warm_example_with_no_tnet_code() {
    tnet_tests::require_python_module("zenoh", "eclipse-zenoh==1.10.2");
    let host = Host::start("warm-python");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    host.tnet(&["run", path_str(&examples.join("model-warm-service.toml"))])
        .ok();
    host.wait_state("model-warm", "ready");
    wait_ready(&host, "model-warm", 0);
    let input = b"a photo of something";

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/call_service.py");
    let mut python = Command::new("python3");
    python
        .arg("-u")
        .arg(&script)
        .args([&host.endpoint(), "model-warm", "3"])
        .envs(tnet_tests::client_env());
    let out = run_bounded(python, input, COMMAND_LIMIT);
    assert!(out.success, "{out:?}");
    let end: serde_json::Value =
        serde_json::from_str(out.stderr.lines().last().unwrap_or_default()).expect("end JSON");
    assert_eq!(end["exit_code"], 0, "{end}");

    // The same answer as the cold program run here.
    let mut cold = Command::new("python3");
    cold.arg(examples.join("workers/model.py")).arg("3");
    let here = run_bounded(cold, input, COMMAND_LIMIT);
    assert!(here.success, "{here:?}");
    assert_eq!(out.stdout, here.stdout);
    assert!(out.stdout.ends_with("(20 bytes)\n"), "{out:?}");
}

/// Kills `root` and every process under it (a worker's `sh -c` and what it runs).
fn kill_tree(root: u32) {
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command's closing parenthesis: state, then the parent.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut tree = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for pid in &all {
            if !tree.contains(pid) && parent(*pid).is_some_and(|p| tree.contains(&p)) {
                tree.push(*pid);
                grew = true;
            }
        }
    }
    for pid in tree {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
