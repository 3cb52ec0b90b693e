//! Habits (SPEC 7): commands on a schedule, each run recorded, its stdout
//! published for `tnet sub` and for any Zenoh client, and a schedule that
//! survives its host being killed without a burst of missed runs.
//!
//! Schedules here are one second, so every wait is a few seconds at most,
//! and every wait is bounded. Subscriptions may miss the runs published in
//! the moment they are being declared (Zenoh's declaration race): the tests
//! check what follows the first run received, never that it is the first.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tnet_tests::{bin, wait_until, Host, Streaming};
use zenoh::Wait;

const WAIT: Duration = Duration::from_secs(30);

/// A one-second habit's task file in `dir`, with `extra` lines in `[habit_details]`.
fn habit(dir: &Path, name: &str, command: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "task_name = \"{name}\"\ntask_type = \"habit\"\ncommands = [{command:?}]\n\n\
             [habit_details]\ntime_between_runs = \"1s\"\n{extra}"
        ),
    )
    .expect("write the task file");
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

fn millis(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_milliseconds()
}

/// `tnet status <task> --json`.
fn status(host: &Host, task: &str) -> Value {
    host.tnet(&["status", task, "--json"]).ok().json()
}

/// The runs of a task with this outcome, oldest first.
fn runs_with(host: &Host, task: &str, outcome: &str) -> Vec<Value> {
    status(host, task)["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["outcome"] == outcome)
        .cloned()
        .collect()
}

/// Waits until `task` has at least `n` runs with this outcome, and returns them.
fn wait_runs(host: &Host, task: &str, outcome: &str, n: usize) -> Vec<Value> {
    wait_until(
        WAIT,
        &format!("{task} has {n} {outcome} runs (log:\n{})", host.log()),
        || {
            let runs = runs_with(host, task, outcome);
            (runs.len() >= n).then_some(runs)
        },
    )
}

/// `n` JSON lines from a `tnet sub --json`.
fn json_runs(sub: &Streaming, n: usize, what: &str) -> Vec<Value> {
    sub.lines(n, WAIT, what)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn numbers(runs: &[Value]) -> Vec<u64> {
    runs.iter()
        .map(|r| r["number"].as_u64().expect("a run number"))
        .collect()
}

fn assert_consecutive(runs: &[Value]) {
    let n = numbers(runs);
    assert!(
        n.windows(2).all(|w| w[1] == w[0] + 1),
        "runs are not consecutive: {n:?}"
    );
}

/// A plain Zenoh subscription to a host's task events (`tnet/<host>/event/*`).
struct Events {
    _session: zenoh::Session,
    subscriber:
        zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>,
}

impl Events {
    fn watch(host: &Host) -> Events {
        let config = tnet_tests::zenoh_client_config(&host.endpoint());
        let session = zenoh::open(config).wait().expect("a Zenoh session");
        let subscriber = session
            .declare_subscriber(format!("tnet/{}/event/*", host.name))
            .wait()
            .expect("a subscriber");
        Events {
            _session: session,
            subscriber,
        }
    }

    /// Events (as JSON) until `done` holds for those seen, within the test's wait.
    fn until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        while !done(&seen) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}: {seen:?}");
            if let Ok(Some(sample)) = self.subscriber.recv_timeout(left) {
                let bytes = sample.payload().to_bytes();
                seen.push(serde_json::from_slice(&bytes).expect("an event is JSON"));
            }
        }
        seen
    }
}

/// How many of `events` are of `kind` for `task`.
fn count(events: &[Value], task: &str, kind: &str) -> usize {
    events
        .iter()
        .filter(|e| e["task"] == task && e["kind"] == kind)
        .count()
}

#[test]
fn the_seed_habit_runs_on_schedule_and_sub_receives_each_run() {
    let host = Host::start("seedbox");
    // The seed's habit, with its binary somewhere absolute like
    // /home/matthew/scripts/my_binary, a stand-in script, and a short interval.
    let scripts = tempfile::tempdir().expect("scripts dir");
    let binary = scripts.path().join("my_binary");
    std::fs::write(
        &binary,
        "#!/bin/sh\necho \"my_binary called with $* at $(date +%s%N)\"\necho 'to stderr' >&2\n",
    )
    .expect("write my_binary");
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir = tempfile::tempdir().expect("task dir");
    let task = dir.path().join("seed-habit.toml");
    std::fs::write(
        &task,
        format!(
            "[general]\ntask_name = \"my_binary\"\ntask_type = \"habit\"\n\
             commands = [\"./my_binary --timeout=10\"]\nnecessary_files = [\"{}\"]\n\
             run_in_docker = false\n\n[habit_details]\ntime_between_runs = \"1s\"\n\
             ignore_nonzero_exits = false\n\n[docker_details]\ndocker_img_id = \"Ubuntu 22.04\"\n\
             apt_pkgs = []\npip_pkgs = []\nstart_container_on_reboot = false\n",
            binary.display()
        ),
    )
    .expect("write the task file");
    host.tnet(&["run", path_str(&task)]).ok();

    let raw = host.tnet_streaming(&["sub", "my_binary"]);
    let json = host.tnet_streaming(&["sub", "--json", "seedbox/my_binary"]);
    let runs = json_runs(&json, 3, "three runs as JSON lines");
    assert_consecutive(&runs);
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run["host"], "seedbox", "{run}");
        assert_eq!(run["task"], "my_binary", "{run}");
        assert_eq!(run["outcome"], "succeeded", "{run}");
        assert_eq!(run["exit_code"], 0, "{run}");
        let output = run["output"].as_str().expect("output");
        assert!(
            output.starts_with("my_binary called with --timeout=10 at "),
            "stdout only, stderr stays in the log: {output:?}"
        );
        assert!(time(&run["started"]) >= time(&run["scheduled"]), "{run}");
        if i > 0 {
            // On schedule: each slot exactly one interval after the one before.
            let step = millis(time(&runs[i - 1]["scheduled"]), time(&run["scheduled"]));
            assert_eq!(step, 1000, "{runs:?}");
        }
    }
    for line in raw.lines(2, WAIT, "two runs of raw output") {
        assert!(
            line.starts_with("my_binary called with --timeout=10 at "),
            "{line:?}"
        );
    }

    // Every run is a row, and status says when the next one is due.
    let s = status(&host, "my_binary");
    assert!(s["state"] == "scheduled" || s["state"] == "running", "{s}");
    let next = time(&s["next_run"]);
    assert!(next > time(&s["last_run"]), "{s}");
    let recorded = s["runs"].as_array().expect("runs");
    for run in &runs {
        let row = recorded
            .iter()
            .find(|r| r["number"] == run["number"])
            .unwrap_or_else(|| panic!("run {} is not in the status: {s}", run["number"]));
        assert_eq!(row["started"], run["started"]);
        assert_eq!(row["exit_code"], 0);
        assert!(row["duration_ms"].is_u64(), "{row}");
    }
    let ls = host.tasks();
    assert!(ls[0]["next_run"].is_string(), "{ls:?}");
    assert!(ls[0]["last_run"].is_string(), "{ls:?}");
    let logs = host.tnet(&["logs", "my_binary"]).ok();
    assert!(logs.stdout.contains("to stderr"), "{logs:?}");

    // Ctrl-C unsubscribes and exits 0.
    assert_eq!(json.interrupt().code(), Some(0));
    assert_eq!(raw.interrupt().code(), Some(0));
}

#[test]
fn a_late_subscriber_gets_the_last_three_runs_then_live_ones() {
    let host = Host::start("latebox");
    let dir = tempfile::tempdir().expect("task dir");
    let task = habit(dir.path(), "price", "echo \"price $(date +%s%N)\"", "");
    host.tnet(&["run", path_str(&task)]).ok();
    wait_runs(&host, "price", "succeeded", 4);

    let joined = Utc::now();
    let sub = host.tnet_streaming(&["sub", "--json", "--last", "3", "price"]);
    // When `tnet sub` reads the history is not seen from here (on a loaded
    // machine it starts more than a run's period after `joined`), so the three
    // past runs are those printed at once, before any live one could come.
    let mut runs = json_runs(&sub, 3, "three past runs");
    let printed = Utc::now();
    for past in &runs {
        assert!(time(&past["started"]) < printed, "not a past run: {past}");
    }
    runs.extend(json_runs(&sub, 2, "two live runs"));
    // No run missing or repeated where the history meets the live runs.
    assert_consecutive(&runs);
    assert!(
        time(&runs[4]["started"]) > joined,
        "not a live run: {}",
        runs[4]
    );
    assert!(runs[0]["number"].as_u64() >= Some(2), "{runs:?}");

    // A plain subscriber that joins late gets only what comes next.
    let plain = host.tnet_streaming(&["sub", "--json", "price"]);
    let later = json_runs(&plain, 1, "a live run");
    assert!(time(&later[0]["started"]) > joined);
}

#[test]
fn one_name_follows_the_habit_on_every_host_and_host_slash_name_one() {
    let one = Host::start("north");
    let two = Host::start("south");
    let dir = tempfile::tempdir().expect("task dir");
    let task = habit(dir.path(), "temp", "echo \"temp on $TNET_HOST\"", "");
    one.tnet(&["run", path_str(&task)]).ok();
    two.tnet(&["run", path_str(&task)]).ok();
    let both = [one.endpoint(), two.endpoint()].join(",");
    let follow = |args: &[&str]| {
        let mut cmd = Command::new(bin("tnet"));
        cmd.args(["--connect", &both])
            .args(args)
            .envs(tnet_tests::client_env());
        Streaming::start(cmd)
    };

    let everywhere = follow(&["sub", "--json", "temp"]);
    let only_north = follow(&["sub", "--json", "north/temp"]);
    let mut hosts = std::collections::BTreeSet::new();
    while hosts.len() < 2 {
        let run = &json_runs(&everywhere, 1, "runs from both hosts")[0];
        assert_eq!(
            run["output"],
            format!("temp on {}\n", run["host"].as_str().expect("host"))
        );
        hosts.insert(run["host"].as_str().expect("host").to_owned());
    }
    for run in json_runs(&only_north, 3, "three runs of north/temp") {
        assert_eq!(run["host"], "north", "{run}");
    }
    // Several habits at once, and a name no host has.
    let out = tnet_tests::tnet(
        &[&one.endpoint(), &two.endpoint()],
        &["sub", "temp", "nope"],
    );
    assert!(
        !out.success && out.stderr.contains("no host has a habit named `nope`"),
        "{out:?}"
    );
}

#[test]
fn a_failing_run_is_a_failure_unless_nonzero_exits_are_ignored() {
    let host = Host::start("failbox");
    let dir = tempfile::tempdir().expect("task dir");
    let counted = habit(dir.path(), "counted", "echo trying; exit 3", "");
    let ignored = habit(
        dir.path(),
        "ignored",
        "echo trying; exit 3",
        "ignore_nonzero_exits = true\n",
    );
    let events = Events::watch(&host);
    host.tnet(&["run", path_str(&counted)]).ok();
    host.tnet(&["run", path_str(&ignored)]).ok();

    // Reported: a `failed` event for each run of one, `succeeded` for the other.
    let seen = events.until("two runs of each reported", |seen| {
        count(seen, "counted", "failed") >= 2 && count(seen, "ignored", "succeeded") >= 2
    });
    assert_eq!(count(&seen, "counted", "succeeded"), 0, "{seen:?}");
    assert_eq!(count(&seen, "ignored", "failed"), 0, "{seen:?}");
    for event in seen
        .iter()
        .filter(|e| e["task"] == "counted" || e["task"] == "ignored")
    {
        assert_eq!(event["exit_code"], 3, "{event}");
        assert!(event["run"].is_u64(), "{event}");
    }

    let failed = wait_runs(&host, "counted", "failed", 2);
    assert!(failed.iter().all(|r| r["exit_code"] == 3), "{failed:?}");
    assert!(runs_with(&host, "counted", "succeeded").is_empty());
    let ordinary = wait_runs(&host, "ignored", "succeeded", 2);
    assert!(
        ordinary.iter().all(|r| r["exit_code"] == 3),
        "the exit code is still recorded: {ordinary:?}"
    );
    assert!(runs_with(&host, "ignored", "failed").is_empty());

    // Subscribers see the same judgement, with the exit code, and the output.
    let sub = host.tnet_streaming(&["sub", "--json", "--last", "1", "counted", "ignored"]);
    let runs = json_runs(&sub, 2, "the last run of each");
    for run in &runs {
        let expected = if run["task"] == "counted" {
            "failed"
        } else {
            "succeeded"
        };
        assert_eq!(run["outcome"], expected, "{run}");
        assert_eq!(run["exit_code"], 3, "{run}");
        assert_eq!(run["output"], "trying\n", "{run}");
    }
    // The habit itself keeps its schedule either way.
    for task in ["counted", "ignored"] {
        assert!(status(&host, task)["next_run"].is_string());
    }
}

#[test]
fn a_run_still_going_when_the_next_is_due_is_not_started_twice() {
    let host = Host::start("slowbox");
    let dir = tempfile::tempdir().expect("task dir");
    let task = habit(
        dir.path(),
        "slow",
        "date +%s%N >> starts; sleep 2.5; echo done",
        "",
    );
    let events = Events::watch(&host);
    host.tnet(&["run", path_str(&task)]).ok();
    let done = wait_runs(&host, "slow", "succeeded", 2);
    events.until("a skipped run reported", |seen| {
        count(seen, "slow", "skipped") >= 1
    });
    let skipped = runs_with(&host, "slow", "skipped");
    assert!(
        skipped.len() >= 2,
        "the slots during a 2.5 s run are recorded as skipped: {}",
        status(&host, "slow")
    );
    assert!(skipped
        .iter()
        .all(|r| r["duration_ms"] == 0 && r["exit_code"].is_null()));
    // Never two at once: each run started after the one before had ended.
    for pair in done.windows(2) {
        let gap = millis(time(&pair[0]["started"]), time(&pair[1]["started"]));
        let took = pair[0]["duration_ms"].as_i64().expect("duration");
        assert!(
            gap >= took,
            "run {} overlapped: {pair:?}",
            pair[1]["number"]
        );
    }
    let starts = std::fs::read_to_string(host.home.join("slow/starts")).expect("starts");
    let stamps: Vec<u128> = starts.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(
        stamps.windows(2).all(|w| w[1] - w[0] >= 2_500_000_000),
        "{stamps:?}"
    );
}

#[test]
fn a_child_left_holding_the_output_does_not_hold_the_habit_up() {
    let host = Host::start("childbox");
    let dir = tempfile::tempdir().expect("task dir");
    // The command ends at once; the child it leaves keeps stdout open for
    // 5 s and then prints. The habit waits for the output a moment (2 s)
    // but not for the child: the run ends and is published without the
    // late line, which still reaches the task's log.
    let path = dir.path().join("early.toml");
    std::fs::write(
        &path,
        "task_name = \"early\"\ntask_type = \"habit\"\n\
         commands = [\"echo first; (sleep 5; echo late) &\"]\n\n\
         [habit_details]\ntime_between_runs = \"1h\"\n",
    )
    .expect("write the task file");
    host.tnet(&["run", path_str(&path)]).ok();
    let runs = wait_runs(&host, "early", "succeeded", 1);
    let took = runs[0]["duration_ms"].as_u64().expect("a duration");
    assert!(took < 4_500, "the run waited for the child: {}", runs[0]);
    let sub = host.tnet_streaming(&["sub", "--json", "--last", "1", "early"]);
    let published = json_runs(&sub, 1, "the run's output");
    assert_eq!(published[0]["output"], "first\n", "{}", published[0]);
    wait_until(WAIT, "the late line in the task's log", || {
        let logs = host.tnet(&["logs", "early"]).ok();
        logs.stdout.contains("late").then_some(())
    });
    let logs = host.tnet(&["logs", "early"]).ok().stdout;
    let first = logs.find("first").expect("the first line is logged");
    assert!(first < logs.find("late").expect("late"), "{logs}");
}

#[test]
fn a_host_down_for_over_three_intervals_comes_back_without_a_burst() {
    let mut host = Host::start("downbox");
    let dir = tempfile::tempdir().expect("task dir");
    let steady = habit(dir.path(), "steady", "echo steady", "");
    let eager = habit(dir.path(), "eager", "echo eager", "catch_up = \"latest\"\n");
    host.tnet(&["run", path_str(&steady)]).ok();
    host.tnet(&["run", path_str(&eager)]).ok();
    wait_runs(&host, "steady", "succeeded", 2);
    wait_runs(&host, "eager", "succeeded", 2);

    host.kill9();
    let killed = Utc::now();
    // The downtime under test: more than three one-second intervals.
    std::thread::sleep(Duration::from_millis(4500));
    let back = Utc::now();
    host.start_again();
    for task in ["steady", "eager"] {
        wait_until(
            WAIT,
            &format!("{task} runs again after the restart"),
            || {
                let after = runs_with(&host, task, "succeeded")
                    .into_iter()
                    .filter(|r| time(&r["started"]) > back)
                    .count();
                (after >= 3).then_some(())
            },
        );
        // Stopped, so the history read below is complete and final.
        host.tnet(&["stop", task]).ok();
    }

    for task in ["steady", "eager"] {
        let published = runs_with(&host, task, "succeeded");
        let n = published.len().to_string();
        let sub = host.tnet_streaming(&["sub", "--json", "--last", &n, task]);
        let runs = json_runs(&sub, published.len(), "the whole history");
        let before: Vec<&Value> = runs
            .iter()
            .filter(|r| time(&r["started"]) < killed)
            .collect();
        let after: Vec<&Value> = runs.iter().filter(|r| time(&r["started"]) > back).collect();
        assert_eq!(
            before.len() + after.len(),
            runs.len(),
            "{task}: a run while the host was down? {runs:?}"
        );
        assert!(after.len() >= 3, "{task}: {runs:?}");
        // The schedule carries on in the same phase: every slot is a whole
        // number of intervals after the first one.
        let first = time(&runs[0]["scheduled"]);
        for run in &runs {
            assert_eq!(
                millis(first, time(&run["scheduled"])) % 1000,
                0,
                "{task}: out of phase: {run}"
            );
        }
        // No burst: at most one run (eager's catch-up) for a slot the host missed.
        let for_missed_slots = after
            .iter()
            .filter(|r| time(&r["scheduled"]) < back)
            .count();
        let limit = if task == "eager" { 1 } else { 0 };
        assert!(
            for_missed_slots <= limit,
            "{task}: {for_missed_slots} missed runs replayed: {after:?}"
        );
        let close_starts = after
            .windows(2)
            .filter(|w| millis(time(&w[0]["started"]), time(&w[1]["started"])) < 500)
            .count();
        assert!(
            close_starts <= limit,
            "{task}: runs in a burst after the restart: {after:?}"
        );
    }
    assert!(
        host.log().contains("missed while the habit could not run"),
        "{}",
        host.log()
    );
}

#[test]
fn catch_up_decides_what_a_long_downtime_costs() {
    let mut host = Host::start("longbox");
    let dir = tempfile::tempdir().expect("task dir");
    let hourly = |name: &str, extra: &str| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "task_name = \"{name}\"\ntask_type = \"habit\"\ncommands = [\"echo {name}\"]\n\
                 [habit_details]\ntime_between_runs = \"1h\"\n{extra}"
            ),
        )
        .expect("write the task file");
        path
    };
    host.tnet(&["run", path_str(&hourly("patient", ""))]).ok();
    host.tnet(&["run", path_str(&hourly("eager", "catch_up = \"latest\"\n"))])
        .ok();
    // A new interval habit runs at once.
    wait_runs(&host, "patient", "succeeded", 1);
    wait_runs(&host, "eager", "succeeded", 1);

    // The host is down for four and a half hours: its record of each habit's
    // last slot is moved back while it is stopped.
    host.kill9();
    let now = Utc::now();
    let last = now - chrono::Duration::minutes(4 * 60 + 30);
    let db = rusqlite::Connection::open(host.home.join(".tnet/host.sqlite3")).expect("the store");
    let moved = db
        .execute(
            "UPDATE habit_schedule SET last_slot = ?1",
            [last.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)],
        )
        .expect("move the slots back");
    assert_eq!(moved, 2);
    drop(db);
    host.start_again();

    // "latest": one run at once, for the latest missed slot (4 h after the
    // last one, half an hour ago), not four.
    let runs = wait_runs(&host, "eager", "succeeded", 2);
    let sub = host.tnet_streaming(&["sub", "--json", "--last", "1", "eager"]);
    let caught_up = &json_runs(&sub, 1, "the catch-up run")[0];
    let expected = last + chrono::Duration::hours(4);
    assert_eq!(
        millis(expected, time(&caught_up["scheduled"])),
        0,
        "{caught_up}"
    );
    // "skip": nothing at once; the next run is the next slot, in phase.
    let patient = wait_until(WAIT, "patient is scheduled again", || {
        let s = status(&host, "patient");
        s["next_run"].is_string().then_some(s)
    });
    let next = time(&patient["next_run"]);
    assert_eq!(
        millis(last + chrono::Duration::hours(5), next),
        0,
        "{patient}"
    );
    for (task, expected_runs) in [("eager", 2), ("patient", 1)] {
        let s = status(&host, task);
        let ran = s["runs"].as_array().expect("runs").len();
        assert_eq!(ran, expected_runs, "{task}: no burst of missed runs: {s}");
        let next = time(&s["next_run"]);
        assert!(next > now && next < now + chrono::Duration::hours(1), "{s}");
    }
    assert_eq!(runs.len(), 2);
}

#[test]
fn a_python_program_with_plain_zenoh_reads_output_and_metadata() {
    tnet_tests::require_python_module("zenoh", "eclipse-zenoh==1.10.2");
    let host = Host::start("pybox");
    let dir = tempfile::tempdir().expect("task dir");
    // The number in the sentence, picked by the task's pattern, rides as `value`.
    let task = habit(
        dir.path(),
        "weather",
        "echo 'sunny, 21 C'",
        "value_pattern = '([0-9]+) C'\n",
    );
    host.tnet(&["run", path_str(&task)]).ok();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/sub_habits.py");
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(&script)
        .arg(host.endpoint())
        .arg("2")
        .envs(tnet_tests::client_env());
    let python = Streaming::start(cmd);
    let mut live = Vec::new();
    let mut history = Vec::new();
    loop {
        let line = python.next_line(WAIT).unwrap_or_else(|| {
            panic!(
                "the Python subscriber went quiet; stderr:\n{}",
                python.stderr()
            )
        });
        let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        match msg["via"].as_str() {
            Some("live") => live.push(msg),
            Some("history") => history.push(msg),
            Some("done") => break,
            Some("ready") => {}
            _ => panic!("unexpected line from Python: {line}"),
        }
    }
    assert_eq!(python.wait(WAIT).code(), Some(0));

    assert_eq!(live.len(), 2);
    for msg in live.iter().chain(&history) {
        assert_eq!(msg["key"], "tnet/pybox/habit/weather", "{msg}");
        assert_eq!(msg["payload"], "sunny, 21 C\n", "{msg}");
        let meta = &msg["attachment"];
        assert_eq!(meta["host"], "pybox", "{msg}");
        assert_eq!(meta["task"], "weather", "{msg}");
        assert_eq!(meta["exit_code"], 0, "{msg}");
        assert_eq!(meta["outcome"], "succeeded", "{msg}");
        assert_eq!(meta["value"], 21.0, "{msg}");
        assert!(
            meta["number"].is_u64() && meta["duration_ms"].is_u64(),
            "{msg}"
        );
        time(&meta["started"]);
    }
    assert_eq!(
        history.len(),
        2,
        "a late joiner's query gets the last two runs"
    );
    assert_consecutive(
        &history
            .iter()
            .map(|m| m["attachment"].clone())
            .collect::<Vec<_>>(),
    );
    assert_consecutive(
        &live
            .iter()
            .map(|m| m["attachment"].clone())
            .collect::<Vec<_>>(),
    );
}
