//! A hundred hosts on one LAN, on default settings: `tnet` on a machine that
//! knows no address lists every one, every time (SPEC 1, 10; docs/fleet.md).
//!
//! Its own test binary, and the only test in it: cargo runs test binaries
//! one after another, so nothing runs beside it. A hundred debug-built hosts
//! starting at once take the two cores for half a minute; beside the other
//! end-to-end tests, a test next to it missed its timeouts, and once one of
//! its own `tnet hosts` calls heard no host at all.

use std::time::{Duration, Instant};

use tnet_tests::netns::{host_names, Lan};
use tnet_tests::{wait_until, write_file};

/// How many hosts the large fleet has: on the defaults of before, where
/// every host connected to every host it scouted, `tnet hosts` found none
/// of 100.
const FLEET: usize = 100;

#[test]
fn a_hundred_hosts_on_defaults_are_all_found_every_time() {
    let lan = Lan::new(FLEET + 1);
    let client = lan.machine(FLEET);
    let expected: Vec<String> = (0..FLEET).map(|i| format!("h{i:03}")).collect();
    // Started together, on default settings, nothing configured.
    let hosts = lan.start_hosts(&expected, Duration::from_secs(120));

    // A hundred hosts that start at once on a small machine take a while
    // before every one answers scouts (half a minute, debug-built, here);
    // from then on, every host, every time, from a machine that knows no address.
    wait_until(
        Duration::from_secs(120),
        "every host answers a client with no address",
        || (host_names(&client.hosts_json()) == expected).then_some(()),
    );
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = client.tnet(&["hosts", "--json"]).ok();
        times.push(started.elapsed());
        let listed = out.json();
        let listed = listed.as_array().cloned().unwrap_or_default();
        assert_eq!(
            host_names(&listed),
            expected,
            "not every host listed ({} of {FLEET}); tnet said:\n{}",
            listed.len(),
            out.stderr
        );
    }
    times.sort();
    eprintln!("tnet hosts listed all {FLEET} hosts in {times:?}");
    // Debug binaries on a shared machine: a bound that only a client that
    // opens its links one host at a time (or waits for a timeout) breaks.
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_secs(15),
        "tnet hosts took {median:?} (median of {times:?})"
    );

    // Every host answers `tnet ls`.
    let out = client.tnet(&["ls"]).ok();
    assert!(
        out.stdout
            .contains(&format!("no tasks on the {FLEET} host(s) that answered")),
        "{out:?}"
    );
    // A task named without its host is found among all of them.
    let dir = tempfile::tempdir().expect("task dir");
    let solo = write_file(
        dir.path(),
        "solo.toml",
        "task_name = \"solo\"\ntask_type = \"daemon\"\ncommands = [\"sleep 600\"]\n",
        0o644,
    );
    let target = &expected[FLEET / 2];
    client
        .tnet(&[
            "run",
            solo.to_str().expect("temporary paths are UTF-8"),
            "--host",
            target,
        ])
        .ok();
    let status = client.tnet(&["status", "solo", "--json"]).ok().json();
    assert_eq!(status["host"], target.as_str(), "{status}");

    // Hosts do not connect to each other: none tried to dial another.
    for host in &hosts {
        let log = host.log();
        assert!(
            !log.contains("scouted peer"),
            "{} dialled a host it scouted:\n{log}",
            host.name
        );
    }
}
