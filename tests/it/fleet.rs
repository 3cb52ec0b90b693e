//! A fleet of hosts (SPEC 1, 10; docs/fleet.md): on one LAN, `tnet` finds
//! every host with no address configured; beyond it, hosts and clients that
//! share no multicast domain meet through a `zenohd` router.
//!
//! The LAN is made of network namespaces (`tnet_tests::netns`): three
//! machines running `tnet-host` on default settings (port 7449, multicast
//! scouting on) and a fourth running `tnet` with nothing configured; and a
//! LAN of a hundred hosts, in a test binary of its own (`tests/alone/`).
//! These are the tests about discovery itself; every other test names its host's
//! loopback address with scouting off.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tnet_tests::netns::{host_names, Lan, LanHost};
use tnet_tests::router::Router;
use tnet_tests::{bin, run_bounded, wait_until, Host, Output, Streaming, COMMAND_LIMIT};

/// The hosts of the LAN, one per machine.
const HOSTS: [&str; 3] = ["lab1", "lab2", "lab3"];

/// How long a stopped host may still be listed.
const GONE_WITHIN: Duration = Duration::from_secs(5);

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Writes a task file named after its task into `dir`.
fn task_file(dir: &Path, name: &str, toml: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).expect("write the task file");
    path
}

/// A daemon that says which host runs it, every second.
fn daemon(name: &str) -> String {
    format!(
        "task_name = \"{name}\"\ntask_type = \"daemon\"\n\
         commands = ['while true; do echo \"{name} on $TNET_HOST\"; sleep 1; done']\n"
    )
}

/// The table row of `host` in `tnet hosts` output.
fn row<'a>(out: &'a Output, host: &str) -> Option<&'a str> {
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))
}

#[test]
fn hosts_on_one_lan_are_found_with_no_address_and_leave_when_they_stop() {
    let lan = Lan::new(HOSTS.len() + 1);
    let client = lan.machine(HOSTS.len());
    let mut hosts: Vec<LanHost> = HOSTS
        .iter()
        .enumerate()
        .map(|(i, name)| lan.machine(i).start_host(name))
        .collect();

    // Hosts just started on a loaded machine (the whole suite at once) can
    // take seconds to answer scouts: seen in the full suite, where a first
    // `tnet hosts` heard no hello at all within 1.5 s. Wait until scouting
    // finds all three once; the timed tries follow.
    wait_until(
        Duration::from_secs(30),
        "scouting finds all three hosts",
        || {
            let out = client.tnet(&["hosts"]);
            HOSTS
                .iter()
                .all(|host| row(&out, host).is_some())
                .then_some(())
        },
    );

    // With all three up, `tnet hosts` on a machine that knows no address
    // lists every one of them, every time, in well under a second.
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = client.tnet(&["hosts"]).ok();
        times.push(started.elapsed());
        let header: Vec<&str> = out
            .stdout
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            header,
            ["HOST", "VERSION", "ADDRESS", "TASKS", "DOCKER", "SECURITY"],
            "{out:?}"
        );
        for (host, running) in HOSTS.iter().zip(&hosts) {
            assert!(
                row(&out, host).is_some(),
                "{host} is not listed: {out:?}\nits log:\n{}",
                running.log()
            );
        }
    }
    times.sort();
    eprintln!("tnet hosts listed all three hosts in {times:?}");
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_secs(1),
        "tnet hosts took {median:?} (median of {times:?})"
    );

    // Each host says what it is, where to reach it, and whether it runs docker tasks.
    let table = client.tnet(&["hosts"]).ok();
    let listed = client.hosts_json();
    assert_eq!(host_names(&listed), HOSTS, "{listed:?}");
    for (i, (info, host)) in listed.iter().zip(&hosts).enumerate() {
        let address = format!("quic/{}:7449", lan.machine(i).address);
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"), "{info}");
        assert_eq!(info["tasks"], 0, "{info}");
        assert_eq!(
            info["addresses"][0], address,
            "the LAN address comes first: {info}"
        );
        let docker = host.log().contains("Docker engine found");
        assert_eq!(info["docker"], docker, "{info}\nlog:\n{}", host.log());
        let cells: Vec<&str> = row(&table, &host.name)
            .expect("listed")
            .split_whitespace()
            .collect();
        assert_eq!(cells[1], env!("CARGO_PKG_VERSION"), "{table:?}");
        assert_eq!(cells[2], address, "{table:?}");
        assert_eq!(
            cells[cells.len() - 2],
            if docker { "yes" } else { "no" },
            "{table:?}"
        );
        // On default settings a host is secure: mutual TLS, roles from the roster.
        assert_eq!(cells.last(), Some(&"mTLS"), "{table:?}");
        assert_eq!(info["insecure"], false, "{info}");
    }

    // `tnet ls` shows the tasks of every host.
    let dir = tempfile::tempdir().expect("task dir");
    let shared = task_file(dir.path(), "shared", &daemon("shared"));
    let solo = task_file(dir.path(), "solo", &daemon("solo"));
    for (file, host) in [(&shared, "lab1"), (&shared, "lab2"), (&solo, "lab3")] {
        client.tnet(&["run", path_str(file), "--host", host]).ok();
    }
    let tasks = client.tnet(&["ls", "--json"]).ok().json();
    let found: Vec<(&str, &str)> = tasks
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            (
                t["host"].as_str().unwrap_or(""),
                t["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        found,
        [("lab1", "shared"), ("lab2", "shared"), ("lab3", "solo")],
        "{tasks}"
    );
    let table = client.tnet(&["ls"]).ok();
    for host in HOSTS {
        assert!(row(&table, host).is_some(), "{table:?}");
    }
    let counts: Vec<Value> = client
        .hosts_json()
        .iter()
        .map(|h| h["tasks"].clone())
        .collect();
    assert_eq!(counts, [1, 1, 1]);

    // A name two hosts have is ambiguous: tnet asks for host/name.
    let out = client.tnet(&["status", "shared"]);
    assert!(!out.success, "{out:?}");
    for needle in ["several hosts", "lab1", "lab2", "HOST/shared"] {
        assert!(out.stderr.contains(needle), "no {needle:?} in {out:?}");
    }
    // Refused, not guessed: stopping it stops neither.
    let out = client.tnet(&["stop", "shared"]);
    assert!(
        !out.success && out.stderr.contains("HOST/shared"),
        "{out:?}"
    );
    let tasks = client.tnet(&["ls", "--json"]).ok().json();
    assert!(
        !tasks.to_string().contains("\"stopped\""),
        "an ambiguous stop stopped a task: {tasks}"
    );
    let status = client
        .tnet(&["status", "lab2/shared", "--json"])
        .ok()
        .json();
    assert_eq!(
        (&status["host"], &status["name"]),
        (&"lab2".into(), &"shared".into())
    );
    wait_until(
        Duration::from_secs(20),
        "lab2/shared's log shows it runs on lab2",
        || {
            let out = client.tnet(&["logs", "lab2/shared"]).ok();
            out.stdout.contains("shared on lab2").then_some(())
        },
    );
    // A name one host has needs no host.
    assert_eq!(
        client.tnet(&["status", "solo", "--json"]).ok().json()["host"],
        "lab3"
    );

    // A host that stops is gone from the list within seconds.
    let mut lab3 = hosts.pop().expect("three hosts");
    lab3.kill9();
    let killed = Instant::now();
    wait_until(GONE_WITHIN, "lab3 is gone from `tnet hosts`", || {
        (host_names(&client.hosts_json()) == ["lab1", "lab2"]).then_some(())
    });
    eprintln!(
        "lab3 gone from the list {:?} after its kill",
        killed.elapsed()
    );
    let tasks = client.tnet(&["ls", "--json"]).ok().json();
    assert_eq!(tasks.as_array().map(Vec::len), Some(2), "{tasks}");
}

#[test]
fn remembered_hosts_end_the_scouting_early_and_a_new_host_is_still_found() {
    let lan = Lan::new(4);
    let client = lan.machine(3);
    let _first: Vec<LanHost> = ["early1", "early2"]
        .iter()
        .enumerate()
        .map(|(i, name)| lan.machine(i).start_host(name))
        .collect();
    // Listing both writes the host cache (`~/.cache/tnet/hosts.json`).
    wait_until(Duration::from_secs(30), "scouting finds both hosts", || {
        (host_names(&client.hosts_json()) == ["early1", "early2"]).then_some(())
    });
    let debug = || {
        let mut cmd = client.command(bin("tnet"));
        cmd.args(["hosts", "--json"])
            .env("TNET_LOG", "tnet_cli=debug");
        run_bounded(cmd, b"", COMMAND_LIMIT)
    };
    let out = debug().ok();
    assert!(
        out.stderr.contains("all 2 remembered host(s) answered"),
        "the remembered hosts were not seen to answer: {}",
        out.stderr
    );
    // A host new since the cache answers the same scout as the remembered
    // ones, within the short quiet that now ends the gathering.
    let _late = lan.machine(2).start_host("late");
    wait_until(
        Duration::from_secs(30),
        "the new host is listed beside the remembered ones",
        || (host_names(&client.hosts_json()) == ["early1", "early2", "late"]).then_some(()),
    );
    let out = debug().ok();
    let listed = out.json();
    let listed = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(
        host_names(&listed),
        ["early1", "early2", "late"],
        "{}",
        out.stderr
    );
}

/// The real `tnet` with `TNET_CONNECT` naming the router, as a user beyond
/// the LAN would set it once.
fn via(router: &Router) -> Command {
    let mut cmd = Command::new(bin("tnet"));
    cmd.env("TNET_CONNECT", router.endpoint())
        .env_remove("TNET_HOST")
        .env_remove("TNET_INSECURE")
        .envs(tnet_tests::client_env());
    cmd
}

fn tnet_via(router: &Router, args: &[&str], input: &[u8]) -> Output {
    let mut cmd = via(router);
    cmd.args(args);
    run_bounded(cmd, input, COMMAND_LIMIT)
}

#[test]
fn hosts_and_clients_beyond_the_lan_meet_through_a_router() {
    let router = Router::start(&["far1", "far2"]);
    // Multicast scouting is off everywhere: the router is the only way they meet.
    let far1 = Host::start_through("far1", &router.endpoint());
    let far2 = Host::start_through("far2", &router.endpoint());

    // Asked once, not polled: the hosts are up, and the first answer must hold them all.
    let listed = tnet_via(&router, &["hosts", "--json"], b"").ok().json();
    assert_eq!(
        host_names(listed.as_array().expect("a list")),
        ["far1", "far2"],
        "{listed}"
    );
    assert_eq!(listed[0]["addresses"][0], far1.endpoint(), "{listed}");

    // A task submitted through the router runs.
    let dir = tempfile::tempdir().expect("task dir");
    let ticker = task_file(dir.path(), "ticker", &daemon("ticker"));
    tnet_via(&router, &["run", path_str(&ticker), "--host", "far1"], b"").ok();
    wait_until(
        Duration::from_secs(20),
        "ticker's output comes back through the router",
        || {
            let out = tnet_via(&router, &["logs", "ticker"], b"").ok();
            out.stdout.contains("ticker on far1").then_some(())
        },
    );

    // A service call across the router answers.
    let upper = task_file(
        dir.path(),
        "upper",
        "task_name = \"upper\"\ntask_type = \"service\"\ncommands = [\"tr a-z A-Z\"]\n",
    );
    tnet_via(&router, &["run", path_str(&upper), "--host", "far2"], b"").ok();
    far2.wait_state("upper", "ready");
    let out = tnet_via(
        &router,
        &["call", "upper", "--input", "-"],
        b"across the router",
    )
    .ok();
    assert_eq!(out.stdout, "ACROSS THE ROUTER");

    // A habit's runs reach a subscriber through the router.
    let clock = task_file(
        dir.path(),
        "clock",
        "task_name = \"clock\"\ntask_type = \"habit\"\ncommands = ['echo \"tick on $TNET_HOST\"']\n\n\
         [habit_details]\ntime_between_runs = \"1s\"\n",
    );
    tnet_via(&router, &["run", path_str(&clock), "--host", "far2"], b"").ok();
    let mut cmd = via(&router);
    cmd.args(["sub", "--json", "clock"]);
    let sub = Streaming::start(cmd);
    for line in sub.lines(
        2,
        Duration::from_secs(30),
        "two runs of clock through the router",
    ) {
        let run: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(run["host"], "far2", "{run}");
        assert_eq!(run["output"], "tick on far2\n", "{run}");
    }
}
