//! Security on the default settings (issue 15): strangers get no session,
//! users read and call but change nothing, a revoked name is refused by every
//! host that is up within seconds, and `--insecure` says what it is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tnet_fleet::{Fleet, Role, Validity};
use tnet_tests::{
    bin, fleet_dir, free_port, run_bounded, tnet_command, wait_until, write_file, Host, Output,
    Streaming, COMMAND_LIMIT,
};

/// A refusal must come within this, never as a hang.
const PROMPT: Duration = Duration::from_secs(5);

const DAEMON: &str = "task_name = \"keeper\"\ntask_type = \"daemon\"\ncommands = ['sleep 1000']\n";
const SERVICE: &str = "task_name = \"upper\"\ntask_type = \"service\"\ncommands = ['tr a-z A-Z']\n";

/// A name no other test (or earlier run: the test fleet is kept) has used.
fn unique(prefix: &str) -> String {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    )
}

/// A new identity of the test fleet with `role`, in the fleet's roster
/// (hosts started after this read it from the fleet on their machine).
fn issue(role: Role) -> (String, PathBuf) {
    let fleet = Fleet::open(&fleet_dir()).expect("the test fleet");
    let name = unique(role.as_str());
    let id = fleet
        .add(role, &name, Validity::days(1))
        .expect("an identity");
    (name, id.dir().to_path_buf())
}

/// `tnet` against `endpoints` as `identity`.
fn tnet_as(endpoints: &[&str], identity: &Path, args: &[&str], input: &[u8]) -> (Output, Duration) {
    let mut cmd = tnet_command(endpoints);
    cmd.env(tnet_fleet::ENV_IDENTITY, identity).args(args);
    let started = Instant::now();
    let out = run_bounded(cmd, input, COMMAND_LIMIT);
    (out, started.elapsed())
}

/// The host's tasks as its admin sees them: name, state and restarts.
fn tasks(host: &Host) -> Vec<(String, String, u64)> {
    host.tasks()
        .into_iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["state"].as_str().unwrap_or_default().to_owned(),
                t["restarts"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// What a plain Zenoh client in Python gets at `endpoint` with `identity`.
fn python_session(endpoint: &str, identity: Option<&Path>) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/try_session.py");
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(&script).arg(endpoint);
    cmd.env_remove(tnet_fleet::ENV_IDENTITY);
    if let Some(dir) = identity {
        cmd.env(tnet_fleet::ENV_IDENTITY, dir);
    }
    let out = run_bounded(cmd, b"", COMMAND_LIMIT);
    assert!(out.success, "{out:?}");
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

#[test]
fn strangers_get_no_session_and_nothing_changes() {
    let host = Host::start("fortress");
    let dir = tempfile::tempdir().expect("dir");
    let keeper = write_file(dir.path(), "keeper.toml", DAEMON, 0o644);
    host.tnet(&["run", keeper.to_str().expect("utf-8")]).ok();
    host.wait_state("keeper", "running");
    let before = tasks(&host);

    // Another authority's admin, and this fleet's own admin expired yesterday.
    let other = dir.path().join("other-fleet");
    Fleet::init(&other).expect("another authority");
    let foreign = other.join("clients/admin");
    let now = time::OffsetDateTime::now_utc();
    let expired = dir.path().join("expired");
    Fleet::open(&fleet_dir())
        .expect("the test fleet")
        .issue_into(
            &expired,
            Role::Admin,
            &unique("expired"),
            Validity {
                not_before: now - time::Duration::days(30),
                not_after: now - time::Duration::days(1),
            },
        )
        .expect("an expired identity");

    tnet_tests::require_python_module("zenoh", "eclipse-zenoh==1.10.2");
    // Over every transport the host listens on (QUIC), and over plain TCP
    // on the same port, which it does not serve at all.
    let quic = host.endpoint();
    let tcp = quic.replace("quic/", "tcp/");
    let trusted = python_session(&quic, Some(&tnet_tests::admin_identity()));
    assert_eq!(trusted["opened"], true, "the admin's session: {trusted}");
    assert_eq!(trusted["answers"], 1, "the admin is answered: {trusted}");
    let strangers: [(&str, &str, Option<&Path>); 4] = [
        ("no certificate", &quic, None),
        ("another authority", &quic, Some(&foreign)),
        ("an expired certificate", &quic, Some(&expired)),
        ("plain TCP", &tcp, None),
    ];
    for (who, endpoint, identity) in strangers {
        let got = python_session(endpoint, identity);
        assert_eq!(got["opened"], false, "{who} got a session: {got}");
    }

    // `tnet` with those identities is refused promptly, and says why.
    let task = write_file(
        dir.path(),
        "intruder.toml",
        "task_name = \"intruder\"\ntask_type = \"daemon\"\ncommands = ['touch /tmp/intruded; sleep 1000']\n",
        0o644,
    );
    for (who, identity) in [("another authority", &foreign), ("expired", &expired)] {
        for args in [
            vec!["ls", "--json"],
            vec!["run", task.to_str().expect("utf-8")],
        ] {
            let (out, took) = tnet_as(&[&host.endpoint()], identity, &args, b"");
            assert!(!out.success, "{who}: {args:?} must fail: {out:?}");
            assert!(took < PROMPT, "{who}: {args:?} took {took:?}");
            assert!(out.stdout.trim().is_empty(), "{who} saw: {out:?}");
            assert!(out.stderr.contains("cannot connect"), "{who}: {out:?}");
            assert!(
                out.stderr
                    .contains("certificate must come from the host's fleet"),
                "{who}: {out:?}"
            );
        }
    }
    assert_eq!(tasks(&host), before, "the host changed");
    assert!(!host.home.join("intruder").exists());
}

#[test]
fn tnet_with_no_identity_fails_at_once_saying_how_to_get_one() {
    let host = Host::start("noid");
    let empty = tempfile::tempdir().expect("dir");
    let mut cmd = Command::new(bin("tnet"));
    cmd.args(["--connect", &host.endpoint(), "ls"])
        .env_remove(tnet_fleet::ENV_IDENTITY)
        .env_remove("TNET_CONNECT")
        .env_remove("TNET_INSECURE")
        .env(tnet_fleet::ENV_FLEET, empty.path().join("no-fleet"))
        .env("HOME", empty.path())
        .env("XDG_CONFIG_HOME", empty.path().join(".config"));
    let started = Instant::now();
    let out = run_bounded(cmd, b"", COMMAND_LIMIT);
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    assert!(!out.success, "{out:?}");
    for hint in ["no tnet identity", "tnet fleet add-client", "tnet-host"] {
        assert!(out.stderr.contains(hint), "missing {hint:?}: {out:?}");
    }
}

#[test]
fn a_user_reads_and_calls_but_changes_nothing() {
    let (user_name, user) = issue(Role::User);
    // Started after the user was issued: the host reads the fleet's roster.
    let host = Host::start("library");
    let dir = tempfile::tempdir().expect("dir");
    let keeper = write_file(dir.path(), "keeper.toml", DAEMON, 0o644);
    let upper = write_file(dir.path(), "upper.toml", SERVICE, 0o644);
    host.tnet(&["run", keeper.to_str().expect("utf-8")]).ok();
    host.tnet(&["run", upper.to_str().expect("utf-8")]).ok();
    host.wait_state("keeper", "running");
    host.wait_state("upper", "ready");
    let endpoint = host.endpoint();
    let at = [endpoint.as_str()];

    let (ls, _) = tnet_as(&at, &user, &["ls", "--json"], b"");
    assert!(ls.success, "{ls:?}");
    assert!(ls.stdout.contains("keeper"), "{ls:?}");
    for args in [
        vec!["status", "keeper", "--json"],
        vec!["logs", "keeper"],
        vec!["hosts"],
        vec!["services"],
        vec!["inbox"],
    ] {
        let (out, _) = tnet_as(&at, &user, &args, b"");
        assert!(out.success, "a user may {args:?}: {out:?}");
    }
    let (called, _) = tnet_as(&at, &user, &["call", "upper", "--input", "-"], b"quiet\n");
    assert!(called.success, "{called:?}");
    assert_eq!(called.stdout, "QUIET\n");
    // And subscribes: a habit's runs reach the user's `tnet sub`.
    let ticker = write_file(
        dir.path(),
        "ticker.toml",
        "task_name = \"ticker\"\ntask_type = \"habit\"\ncommands = ['echo tick']\n\n[habit_details]\ntime_between_runs = \"1s\"\n",
        0o644,
    );
    host.tnet(&["run", ticker.to_str().expect("utf-8")]).ok();
    let mut sub = tnet_command(&at);
    sub.env(tnet_fleet::ENV_IDENTITY, &user)
        .args(["sub", "--json", "ticker"]);
    let sub = Streaming::start(sub);
    let run: Value =
        serde_json::from_str(&sub.lines(1, Duration::from_secs(30), "a run reaches the user")[0])
            .expect("a JSON run");
    assert_eq!(run["output"], "tick\n", "{run}");
    drop(sub);
    // Stopped, so the comparison below sees no habit changing state by itself.
    host.tnet(&["stop", "ticker"]).ok();
    host.wait_state("ticker", "stopped");

    let before = tasks(&host);
    let pid_before = host.status("keeper")["pid"].clone();
    let edited = write_file(
        dir.path(),
        "keeper2.toml",
        "task_name = \"keeper\"\ntask_type = \"daemon\"\ncommands = ['sleep 2000']\n",
        0o644,
    );
    let other = write_file(
        dir.path(),
        "other.toml",
        "task_name = \"other\"\ntask_type = \"daemon\"\ncommands = ['sleep 1000']\n",
        0o644,
    );
    let refused: [(&str, Vec<&str>); 7] = [
        ("run", vec!["run", other.to_str().expect("utf-8")]),
        (
            "edit",
            vec!["edit", "keeper", "--file", edited.to_str().expect("utf-8")],
        ),
        ("rm", vec!["rm", "keeper"]),
        ("stop", vec!["stop", "keeper"]),
        ("start", vec!["start", "keeper"]),
        ("restart", vec!["restart", "keeper"]),
        ("shell", vec!["shell", "keeper", "--", "touch", "pwned"]),
    ];
    for (verb, args) in refused {
        let (out, took) = tnet_as(&at, &user, &args, b"");
        assert!(!out.success, "{args:?} must be refused: {out:?}");
        let needed = match verb {
            // `tnet run` sends the task's files first.
            "run" | "edit" => "`tnet run`/`tnet edit` needs the admin role".to_owned(),
            _ => format!("`tnet {verb}` needs the admin role"),
        };
        assert!(out.stderr.contains(&needed), "{args:?}: {out:?}");
        assert!(out.stderr.contains(&user_name), "names who: {out:?}");
        assert!(took < PROMPT, "{args:?} took {took:?}");
    }
    // Nothing started, stopped or changed: the same tasks, the same process.
    assert_eq!(tasks(&host), before, "the host changed");
    assert_eq!(host.status("keeper")["pid"], pid_before);
    assert!(!host.home.join("keeper/pwned").exists());
    assert!(!host.home.join("other").exists());
    assert!(
        host.status("keeper").to_string().contains("sleep 1000"),
        "the task file is unchanged"
    );
}

#[test]
fn a_revoked_identity_is_refused_by_every_running_host_within_seconds() {
    let (revoked_name, revoked) = issue(Role::User);
    let (_, other_user) = issue(Role::User);
    let one = Host::start("revoker-one");
    let two = Host::start("revoker-two");
    let dir = tempfile::tempdir().expect("dir");
    let keeper = write_file(dir.path(), "keeper.toml", DAEMON, 0o644);
    for host in [&one, &two] {
        host.tnet(&["run", keeper.to_str().expect("utf-8")]).ok();
        host.wait_state("keeper", "running");
        let (out, _) = tnet_as(&[&host.endpoint()], &revoked, &["ls"], b"");
        assert!(out.success, "before the revocation: {out:?}");
    }
    // A service's queryable lives on the gate, so it must come back with
    // each new gate (`Shared::front`).
    let echo = write_file(
        dir.path(),
        "echo.toml",
        "task_name = \"echo\"\ntask_type = \"service\"\ncommands = [\"cat\"]\n",
        0o644,
    );
    one.tnet(&["run", echo.to_str().expect("utf-8")]).ok();
    one.wait_state("echo", "ready");
    let pids: Vec<Value> = [&one, &two]
        .iter()
        .map(|h| h.status("keeper")["pid"].clone())
        .collect();

    // The fleet's admin revokes the name; the hosts that are up are told.
    let (e1, e2) = (one.endpoint(), two.endpoint());
    let started = Instant::now();
    let (out, _) = tnet_as(
        &[&e1, &e2],
        &tnet_tests::admin_identity(),
        &[
            "fleet",
            "--fleet",
            fleet_dir().to_str().expect("utf-8"),
            "revoke",
            &revoked_name,
        ],
        b"",
    );
    assert!(out.success, "{out:?}");
    assert!(
        out.stdout.contains(&format!("revoked `{revoked_name}`")),
        "{out:?}"
    );
    for host in [&one, &two] {
        assert!(
            out.stdout
                .contains(&format!("host `{}`: roster version", host.name)),
            "{} was not told: {out:?}",
            host.name
        );
    }
    for host in [&one, &two] {
        let endpoint = host.endpoint();
        wait_until(
            Duration::from_secs(10),
            &format!("host {} refuses {revoked_name}", host.name),
            || {
                let (out, _) = tnet_as(&[&endpoint], &revoked, &["ls"], b"");
                eprintln!("revoked ls: {out:?}");
                (!out.success).then_some(())
            },
        );
    }
    let took = started.elapsed();
    eprintln!("both hosts refused the revoked name {took:?} after `tnet fleet revoke`");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // Another identity keeps working, and no task was restarted.
    for (host, pid) in [&one, &two].into_iter().zip(&pids) {
        let endpoint = host.endpoint();
        let out = wait_until(
            Duration::from_secs(10),
            "the other user is served again",
            || {
                let (out, _) = tnet_as(&[&endpoint], &other_user, &["ls", "--json"], b"");
                out.success.then_some(out)
            },
        );
        assert!(out.stdout.contains("keeper"), "{out:?}");
        assert_eq!(&host.status("keeper")["pid"], pid, "keeper was restarted");
        assert_eq!(host.status("keeper")["restarts"], 0);
    }
    let (out, _) = tnet_as(
        &[&e1],
        &other_user,
        &["call", "echo", "--input", "-"],
        b"still here",
    );
    assert!(out.success, "a call after the gate opened again: {out:?}");
    assert_eq!(out.stdout, "still here");
}

#[test]
fn insecure_hosts_and_clients_say_so() {
    let port = free_port();
    let home = tempfile::tempdir().expect("home");
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let mut child = Command::new(bin("tnet-host"))
        .args(["--name", "opendoor", "--home"])
        .arg(home.path())
        .args(["-l", &endpoint, "--no-multicast-scouting", "--insecure"])
        .env_remove("TNET_CONNECT")
        .env(tnet_fleet::ENV_FLEET, home.path().join("no-fleet"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(home.path().join("log")).expect("log"))
        .spawn()
        .expect("tnet-host starts");
    let insecure = |args: &[&str]| {
        let mut cmd = tnet_command(&[&endpoint]);
        cmd.env("TNET_INSECURE", "1").args(args);
        run_bounded(cmd, b"", COMMAND_LIMIT)
    };
    let listed = wait_until(Duration::from_secs(20), "the insecure host answers", || {
        let out = insecure(&["hosts"]);
        out.success.then_some(out)
    });
    assert!(listed.stdout.contains("INSECURE"), "{listed:?}");
    assert!(listed.stderr.contains("warning"), "{listed:?}");
    let log = std::fs::read_to_string(home.path().join("log")).unwrap_or_default();
    assert!(log.contains("INSECURE MODE"), "{log}");
    // The insecure host made no fleet: it has no certificates at all.
    assert!(!home.path().join("no-fleet").exists());
    // A client on the secure default does not talk plain TCP.
    let out = run_bounded(
        {
            let mut cmd = tnet_command(&[&endpoint]);
            cmd.arg("ls");
            cmd
        },
        b"",
        COMMAND_LIMIT,
    );
    assert!(!out.success, "{out:?}");
    let _ = child.kill();
    let _ = child.wait();
}
