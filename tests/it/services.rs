//! Services (SPEC 6): calls with input and arguments, results streamed back
//! whole, both failure semantics, time limits, the concurrency limit, callers
//! that leave, the calling structure, discovery with the host cache, and a
//! call from Python with no tnet code.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use base64::Engine;
use tnet_tests::netns::Lan;
use tnet_tests::{
    bin, free_port, process_alive, run_bounded, tnet, tnet_command, wait_until, Host, Output,
    COMMAND_LIMIT,
};

/// Writes a task file and its files into a folder of their own, submits it to
/// `host`, and waits until the service `name` is ready.
fn submit(host: &Host, name: &str, toml: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("task dir");
    for (file, bytes) in files {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).expect("write a task's file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let task = dir.path().join("task.toml");
    std::fs::write(&task, toml).expect("write the task file");
    host.tnet(&["run", path_str(&task)]).ok();
    host.wait_state(name, "ready");
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn decode_base64(text: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().expect("base64 text"))
        .expect("valid base64")
}

/// `len` bytes that do not compress to nothing.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The runs a host recorded for a task.
fn runs(host: &Host, task: &str) -> Vec<serde_json::Value> {
    // Named with its host: hosts that met through a client may hear of each other.
    let task = format!("{}/{task}", host.name);
    host.tnet(&["status", &task, "--json"]).ok().json()["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Process ids written into `dir`, one file per call, space-separated.
fn pids_in(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

const CLASSIFY_SH: &str = r#"#!/bin/sh
# A stand-in for image recognition: facts computed from the image it is
# given (as a file and on standard input), and the image itself transformed.
set -e
printf 'args:'; printf ' [%s]' "$@"; echo
cksum < "$TNET_INPUT"
gzip -n -1 -c
"#;

#[test]
fn an_image_service_returns_what_its_command_computes_here() {
    let host = Host::start("svc-image");
    let _task = submit(
        &host,
        "classify",
        r#"task_name = "classify"
task_type = "service"
commands = ['./classify.sh "$@"']
necessary_files = ["classify.sh"]

[service_details]
input = "file"
input_media_type = "image/x-raw"
"#,
        &[("classify.sh", CLASSIFY_SH.as_bytes())],
    );
    let client = tempfile::tempdir().expect("client dir");
    let image = pseudo_random(3 << 20, 7);
    let image_path = client.path().join("cat.raw");
    std::fs::write(&image_path, &image).expect("write the image");
    let script = client.path().join("classify.sh");
    std::fs::write(&script, CLASSIFY_SH).expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let args = ["--top", "3 labels"];

    // The same command, run here the way the host runs it.
    let mut local = Command::new("sh");
    local
        .arg("-c")
        .arg(r#"./classify.sh "$@""#)
        .arg("sh")
        .args(args)
        .current_dir(client.path())
        .env("TNET_INPUT", &image_path);
    let here = run_bounded(local, &image, COMMAND_LIMIT);
    assert!(here.success, "{here:?}");
    assert!(
        here.bytes.len() > image.len() / 2,
        "gzip output is binary and large"
    );

    let img = path_str(&image_path);
    let remote = host
        .tnet(&["call", "classify", "--input", img, "--", args[0], args[1]])
        .ok();
    assert_eq!(remote.bytes.len(), here.bytes.len(), "{remote:?}");
    assert!(remote.bytes == here.bytes, "the result differs from here");

    let out = client.path().join("labels.bin");
    host.tnet(&[
        "call",
        "classify",
        "--input",
        img,
        "-o",
        path_str(&out),
        "--",
        args[0],
        args[1],
    ])
    .ok();
    assert!(
        std::fs::read(&out).expect("-o wrote the result") == here.bytes,
        "-o differs"
    );

    let json = host
        .tnet(&[
            "call", "classify", "--input", img, "--json", "--", args[0], args[1],
        ])
        .ok()
        .json();
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["host"], "svc-image");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["bytes"], here.bytes.len() as u64);
    assert!(
        decode_base64(&json["result_base64"]) == here.bytes,
        "--json result differs"
    );
}

#[test]
fn a_100_mib_result_arrives_whole_and_in_order_with_bounded_host_memory() {
    const LINES: u32 = 13_107_200; // 8 bytes each: exactly 100 MiB
    let host = Host::start("svc-bulk");
    let _task = submit(
        &host,
        "bulk",
        &format!(
            "task_name = \"bulk\"\ntask_type = \"service\"\n\
             commands = [\"awk 'BEGIN{{for(i=0;i<{LINES};i++) printf \\\"%07x\\\\n\\\", i}}'\"]\n"
        ),
        &[],
    );
    let pid = host.pid();
    let baseline = rss_kib(pid);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let client = tempfile::tempdir().expect("client dir");
    let out = client.path().join("result");
    let call = host.tnet(&["call", "bulk", "-o", path_str(&out)]);
    done.store(true, Ordering::Relaxed);
    let peak = sampler.join().expect("sampler");
    call.ok();

    let result = std::fs::read(&out).expect("the result file");
    assert_eq!(result.len(), 100 << 20);
    let mut line = *b"0000000\n";
    for (i, got) in result.chunks_exact(8).enumerate() {
        let mut n = i;
        for digit in line[..7].iter_mut().rev() {
            *digit = b"0123456789abcdef"[n % 16];
            n /= 16;
        }
        assert!(got == line, "line {i} is {got:?}: out of order or damaged");
    }
    // Holding the result would take 100 MiB; streaming it takes a few.
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < 40 << 10 && peak < 100 << 10,
        "host RSS went from {baseline} KiB to {peak} KiB during the call"
    );
}

/// The host process's resident memory, from `/proc`.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn service_fail_is_command_fail_decides_what_exit_3_is() {
    let host = Host::start("svc-fail");
    let mut tasks = Vec::new();
    for (name, strict) in [("lenient", false), ("strict", true)] {
        tasks.push(submit(
            &host,
            name,
            &format!(
                "task_name = \"{name}\"\ntask_type = \"service\"\n\
                 commands = [\"echo partial; echo oops >&2; exit 3\"]\n\
                 [service_details]\nservice_fail_is_command_fail = {strict}\n"
            ),
            &[],
        ));
    }

    // false: exit 3 is a delivered result, with its exit code and stderr.
    let out = host.tnet(&["call", "lenient"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "partial\n");
    assert!(
        out.stderr.contains("oops") && out.stderr.contains("exited with code 3"),
        "{out:?}"
    );
    let json = host.tnet(&["call", "lenient", "--json"]).ok().json();
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["stderr_tail"], "oops\n");
    assert_eq!(decode_base64(&json["result_base64"]), b"partial\n");

    // true: exit 3 is a failed call, and `tnet call` exits 3.
    let out = host.tnet(&["call", "strict"]);
    assert_eq!(out.code, Some(3), "{out:?}");
    assert_eq!(out.stdout, "partial\n");
    assert!(
        out.stderr.contains("oops") && out.stderr.contains("exited with code 3"),
        "{out:?}"
    );
    let out = host.tnet(&["call", "strict", "--json"]);
    assert_eq!(out.code, Some(3), "{out:?}");
    let json = out.json();
    assert_eq!(json["ok"], false, "{json}");
    assert_eq!(json["error"]["kind"], "command_failed");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["stderr_tail"], "oops\n");

    let outcomes = |task| -> Vec<String> {
        runs(&host, task)
            .iter()
            .map(|r| r["outcome"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    wait_until(Duration::from_secs(10), "both calls are recorded", || {
        (outcomes("strict").len() == 2).then_some(())
    });
    assert_eq!(outcomes("strict"), ["failed", "failed"]);
}

/// A command that leaves a child behind, writes both process ids, and waits.
const HANG: &str = r#"sleep 1000 & echo "$$ $!" > "pids/$(basename "$TNET_CALL_DIR")"; wait"#;

#[test]
fn a_call_past_its_time_limit_is_killed_and_the_caller_told() {
    let host = Host::start("svc-slow");
    let mut tasks = Vec::new();
    for (name, limit) in [("slow", "1s"), ("slower", "1h")] {
        tasks.push(submit(
            &host,
            name,
            &format!(
                "task_name = \"{name}\"\ntask_type = \"service\"\nsetup_commands = [\"mkdir -p pids\"]\n\
                 commands = ['{HANG}']\n[service_details]\ntimeout = \"{limit}\"\n"
            ),
            &[],
        ));
    }

    // The service's own limit.
    let out = host.tnet(&["call", "slow"]);
    assert_eq!(out.code, Some(124), "{out:?}");
    assert!(out.stderr.contains("time limit of 1s"), "{out:?}");
    let pids = pids_in(&host.home.join("slow/pids"));
    assert_eq!(pids.len(), 2, "the command wrote its pids: {pids:?}");
    wait_until(
        Duration::from_secs(5),
        "the call's processes are gone",
        || pids.iter().all(|p| !process_alive(*p)).then_some(()),
    );

    // A caller's own limit, shorter than the service's hour; a structured error.
    let out = host.tnet(&["call", "slower", "--timeout", "0.5", "--json"]);
    assert_eq!(out.code, Some(124), "{out:?}");
    let json = out.json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"]["kind"], "timeout", "{json}");
    assert!(json["signal"].is_number(), "killed by a signal: {json}");
    let pids = pids_in(&host.home.join("slower/pids"));
    assert_eq!(pids.len(), 2, "{pids:?}");
    wait_until(
        Duration::from_secs(5),
        "the call's processes are gone",
        || pids.iter().all(|p| !process_alive(*p)).then_some(()),
    );
    wait_until(Duration::from_secs(10), "the call is recorded", || {
        runs(&host, "slower")
            .iter()
            .any(|r| r["outcome"] == "timeout" && r["phase"] == "call")
            .then_some(())
    });
}

const CONC_SH: &str = r#"#!/bin/sh
echo "start $(date +%s%N)" >> calls.log
sleep 1
echo "end $(date +%s%N)" >> calls.log
cat
"#;

#[test]
fn ten_calls_with_a_limit_of_two_run_two_at_a_time() {
    let host = Host::start("svc-conc");
    let _task = submit(
        &host,
        "conc",
        "task_name = \"conc\"\ntask_type = \"service\"\ncommands = [\"./conc.sh\"]\n\
         necessary_files = [\"conc.sh\"]\n[service_details]\nmax_concurrent_calls = 2\n",
        &[("conc.sh", CONC_SH.as_bytes())],
    );
    let endpoint = host.endpoint();
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let mut cmd = tnet_command(&[&endpoint]);
                cmd.args(["call", "conc", "--input", "-"]);
                (
                    i,
                    run_bounded(cmd, format!("call-{i}").as_bytes(), COMMAND_LIMIT),
                )
            })
        })
        .collect();
    for call in calls {
        let (i, out) = call.join().expect("a caller thread");
        assert!(out.success, "call {i}: {out:?}");
        assert_eq!(
            out.stdout,
            format!("call-{i}"),
            "call {i} got another's answer"
        );
    }

    let log = std::fs::read_to_string(host.home.join("conc/calls.log")).expect("calls.log");
    let (events, most) = most_at_once(&log);
    assert_eq!(events, 20, "{log}");
    assert_eq!(
        most, 2,
        "at most two at once, and two did run together:\n{log}"
    );
}

#[test]
fn calls_beyond_the_limit_wait_in_arrival_order() {
    let host = Host::start("svc-fifo");
    let _task = submit(
        &host,
        "gate",
        "task_name = \"gate\"\ntask_type = \"service\"\n\
         commands = ['while [ ! -e gate ]; do sleep 0.02; done; echo \"$1\" >> order.log; cat']\n\
         [service_details]\nmax_concurrent_calls = 1\n",
        &[],
    );
    let load = |field: &str| -> u64 {
        let list = host.tnet(&["services", "--json"]).ok().json();
        list[0][field].as_u64().unwrap_or(u64::MAX)
    };
    let endpoint = host.endpoint();
    let mut callers = Vec::new();
    for i in 0..6u64 {
        let endpoint = endpoint.clone();
        callers.push(std::thread::spawn(move || {
            let mut cmd = tnet_command(&[&endpoint]);
            cmd.args(["call", "gate", "--input", "-", "--", &i.to_string()]);
            run_bounded(cmd, format!("call-{i}").as_bytes(), COMMAND_LIMIT)
        }));
        // Each caller arrives only once the one before it is in its place.
        if i == 0 {
            wait_until(Duration::from_secs(20), "the first call runs", || {
                (load("calls_running") == 1).then_some(())
            });
        } else {
            wait_until(
                Duration::from_secs(20),
                &format!("{i} call(s) wait"),
                || (load("calls_waiting") == i).then_some(()),
            );
        }
    }
    let text = host.tnet(&["services"]).ok().stdout;
    assert!(text.contains("now:    1 running, 5 waiting"), "{text}");
    std::fs::write(host.home.join("gate/gate"), "").expect("open the gate");
    for (i, caller) in callers.into_iter().enumerate() {
        let out = caller.join().expect("a caller thread");
        assert!(out.success, "call {i}: {out:?}");
        assert_eq!(out.stdout, format!("call-{i}"));
    }
    let order = std::fs::read_to_string(host.home.join("gate/order.log")).expect("order.log");
    assert_eq!(
        order, "0\n1\n2\n3\n4\n5\n",
        "calls ran out of arrival order"
    );
    assert_eq!((load("calls_running"), load("calls_waiting")), (0, 0));
}

#[test]
fn a_caller_that_goes_away_cancels_its_call() {
    let host = Host::start("svc-leave");
    let _task = submit(
        &host,
        "hang",
        &format!(
            "task_name = \"hang\"\ntask_type = \"service\"\nsetup_commands = [\"mkdir -p pids\"]\n\
             commands = ['{HANG}']\n"
        ),
        &[],
    );
    let mut caller = tnet_command(&[&host.endpoint()])
        .args(["call", "hang"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tnet call starts");
    let pids_dir = host.home.join("hang/pids");
    let pids = wait_until(Duration::from_secs(20), "the call's command runs", || {
        let pids = pids_in(&pids_dir);
        (pids.len() == 2).then_some(pids)
    });
    assert!(pids.iter().all(|p| process_alive(*p)));
    caller.kill().expect("kill the caller");
    caller.wait().expect("reap the caller");
    wait_until(
        Duration::from_secs(10),
        "the call's processes are gone after its caller left",
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
}

#[test]
fn python_calls_a_service_with_no_tnet_code() {
    tnet_tests::require_python_module("zenoh", "eclipse-zenoh==1.10.2");
    let host = Host::start("svc-python");
    let _task = submit(
        &host,
        "upper",
        "task_name = \"upper\"\ntask_type = \"service\"\n\
         commands = ['tr a-z A-Z; printf \"[%s]\" \"$@\"']\n",
        &[],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/call_service.py");
    let mut python = Command::new("python3");
    python
        .arg("-u")
        .arg(&script)
        .args([&host.endpoint(), "upper", "an arg"])
        .envs(tnet_tests::client_env());
    let out = run_bounded(python, b"hello from python\n", COMMAND_LIMIT);
    assert!(out.success, "{out:?}");
    assert_eq!(out.stdout, "HELLO FROM PYTHON\n[an arg]");
    let end: serde_json::Value =
        serde_json::from_str(out.stderr.lines().last().unwrap_or_default()).expect("end JSON");
    assert_eq!(end["exit_code"], 0, "{end}");
}

#[test]
fn services_lists_every_service_of_two_hosts_and_a_call_picks_one_host() {
    let alpha = Host::start("svc-alpha");
    let beta = Host::start("svc-beta");
    // A task sees the host's name, and not the host's own sizing of Zenoh's
    // threads (`zenoh_pools.rs`): the exact answers below check both.
    let echo_host = "task_name = \"where\"\ntask_type = \"service\"\n\
                     commands = [\"echo $TNET_HOST${ZENOH_RUNTIME+ has ZENOH_RUNTIME}\"]\n\
                     [service_details]\ninput = \"none\"\n";
    let _tasks = [
        submit(
            &alpha,
            "classify",
            r#"task_name = "classify"
task_type = "service"
commands = ['./classify.sh "$@"']
necessary_files = ["classify.sh"]

[service_details]
description = "Labels what is in a photo"
input = "file"
input_media_type = "image/png"
arguments = [{ name = "top", help = "how many labels" }]
example = "tnet call classify --input cat.png -- 3"
timeout = "30s"
max_concurrent_calls = 2
"#,
            &[("classify.sh", CLASSIFY_SH.as_bytes())],
        ),
        submit(
            &beta,
            "upper",
            "task_name = \"upper\"\ntask_type = \"service\"\ncommands = [\"tr a-z A-Z\"]\n\
             [service_details]\nservice_fail_is_command_fail = true\n",
            &[],
        ),
        submit(&alpha, "where", echo_host, &[]),
        submit(&beta, "where", echo_host, &[]),
    ];
    let both = [alpha.endpoint(), beta.endpoint()];
    let both: Vec<&str> = both.iter().map(String::as_str).collect();

    let list = tnet(&both, &["services", "--json"]).ok().json();
    let list = list.as_array().expect("a JSON array");
    let names: Vec<String> = list
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["host"].as_str().unwrap_or("?"),
                s["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "svc-alpha/classify",
            "svc-alpha/where",
            "svc-beta/upper",
            "svc-beta/where"
        ]
    );
    let classify = &list[0];
    assert_eq!(classify["state"], "ready");
    assert_eq!(classify["key"], "tnet/svc-alpha/service/classify");
    assert_eq!(classify["description"], "Labels what is in a photo");
    assert_eq!(classify["input"]["kind"], "file");
    assert_eq!(classify["input"]["media_type"], "image/png");
    assert_eq!(classify["arguments"][0]["name"], "top");
    assert_eq!(classify["arguments"][0]["help"], "how many labels");
    assert_eq!(classify["call"], "tnet call classify --input cat.png -- 3");
    assert_eq!(classify["timeout_ms"], 30_000);
    assert_eq!(classify["max_concurrent_calls"], 2);
    let upper = &list[2];
    assert_eq!(upper["input"]["kind"], "text");
    assert_eq!(
        upper["call"],
        "echo 'some text' | tnet call upper --input -"
    );
    assert_eq!(upper["fail_is_command_fail"], true);
    let text = tnet(&both, &["services"]).ok().stdout;
    assert!(
        text.contains("svc-alpha/classify (ready): Labels what is in a photo")
            && text.contains("  args:   top  how many labels")
            && text.contains("  call:   tnet call classify --input cat.png -- 3"),
        "{text}"
    );

    // Two hosts offer `where`: one of them runs the call, not both.
    let out = tnet(&both, &["call", "where"]).ok();
    let (called, other) = match out.stdout.as_str() {
        "svc-alpha\n" => (&alpha, &beta),
        "svc-beta\n" => (&beta, &alpha),
        got => panic!("unexpected answer {got:?}"),
    };
    wait_until(Duration::from_secs(10), "the call is recorded", || {
        (runs(called, "where").len() == 1).then_some(())
    });
    assert!(runs(other, "where").is_empty(), "both hosts ran the call");
    // Naming the host picks it, either way.
    assert_eq!(
        tnet(&both, &["call", "where", "--host", "svc-beta"])
            .ok()
            .stdout,
        "svc-beta\n"
    );
    assert_eq!(
        tnet(&both, &["call", "svc-alpha/where"]).ok().stdout,
        "svc-alpha\n"
    );
    let out = tnet(&both, &["call", "svc-beta/classify"]);
    assert!(
        !out.success && out.stderr.contains("does not offer service `classify`"),
        "{out:?}"
    );
}

#[test]
fn a_service_is_seen_to_appear_and_disappear() {
    let host = Host::start("svc-watch");
    let _task = submit(
        &host,
        "upper",
        "task_name = \"upper\"\ntask_type = \"service\"\ncommands = [\"tr a-z A-Z\"]\n",
        &[],
    );
    let mut watcher = tnet_command(&[&host.endpoint()])
        .args(["services", "--watch", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tnet services --watch starts");
    let (tx, rx) = mpsc::channel();
    let stdout = watcher.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| -> serde_json::Value {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no `{what}` event from tnet services --watch"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let expect = |event: &str| {
        let seen = next(event);
        assert_eq!(seen["event"], event, "{seen}");
        assert_eq!(seen["host"], "svc-watch");
        assert_eq!(seen["service"], "upper");
    };
    expect("up");

    host.tnet(&["stop", "upper"]).ok();
    expect("down");
    let out = host.tnet_input(&["call", "upper", "--input", "-"], b"hi");
    assert!(
        !out.success && out.stderr.contains("offers service `upper`"),
        "a stopped service still answered: {out:?}"
    );
    host.tnet(&["start", "upper"]).ok();
    expect("up");
    assert_eq!(
        host.tnet_input(&["call", "upper", "--input", "-"], b"hi")
            .ok()
            .stdout,
        "HI"
    );
    host.tnet(&["rm", "upper"]).ok();
    expect("down");
    let _ = watcher.kill();
    let _ = watcher.wait();
}

/// On a LAN of its own (network namespaces), so a host that runs on this
/// machine or its real LAN (the README's `scripts/try.sh` leaves one up)
/// is never found and never answers.
#[test]
fn tnet_call_finds_its_host_by_scouting_then_through_the_host_cache() {
    let lan = Lan::new(3);
    let host = lan.machine(0).start_host("scout");
    // A second host, without the service: remembered, but not dialled for it.
    let _other = lan.machine(1).start_host("other");
    let client = lan.machine(2);
    let dir = tempfile::tempdir().expect("task dir");
    let task = dir.path().join("task.toml");
    std::fs::write(
        &task,
        "task_name = \"where\"\ntask_type = \"service\"\ncommands = [\"echo $TNET_HOST\"]\n",
    )
    .expect("write the task file");
    client
        .tnet(&["--connect", &host.endpoint, "run", path_str(&task)])
        .ok();
    wait_until(COMMAND_LIMIT, "the service is ready", || {
        let out = client.tnet(&["--connect", &host.endpoint, "ls", "--json"]);
        out.stdout.contains("\"ready\"").then_some(())
    });
    let cache_file = client.home().join(".cache/tnet/hosts.json");
    let call = || -> Output {
        // No --connect: the host is found without an address.
        let mut cmd = client.command(bin("tnet"));
        cmd.args(["call", "where"])
            .env("TNET_LOG", "tnet_cli=debug");
        let out = run_bounded(cmd, b"", COMMAND_LIMIT);
        assert!(out.success, "{out:?}");
        assert_eq!(out.stdout, "scout\n");
        out
    };
    let address = format!("{}:7449\"", lan.machine(0).address);

    // First: multicast scouting; both hosts' addresses are remembered, and
    // which of them answered `where`.
    call();
    let remembered = std::fs::read_to_string(&cache_file).expect("the host cache is written");
    assert!(remembered.contains(&address), "{remembered}");
    let other_address = format!("{}:7449\"", lan.machine(1).address);
    assert!(remembered.contains(&other_address), "{remembered}");
    let cache: serde_json::Value = serde_json::from_str(&remembered).expect("the cache is JSON");
    assert_eq!(cache["services"]["where"]["host"], "scout", "{remembered}");

    // Then: straight to that host's remembered address alone, no scouting.
    let out = call();
    assert!(
        out.stderr.contains("found through the host cache")
            && out
                .stderr
                .contains("session open on 1 remembered endpoint(s)")
            && out.stderr.contains("dialled alone"),
        "{}",
        out.stderr
    );

    // A cache that leads nowhere costs a fallback to scouting, not a failure, and is replaced.
    let gone = format!(
        r#"{{"version":1,"peers":[{{"zid":"00","endpoint":"tcp/127.0.0.1:{}"}}]}}"#,
        free_port()
    );
    std::fs::write(&cache_file, gone).expect("write a stale cache");
    call();
    let remembered = std::fs::read_to_string(&cache_file).expect("the host cache");
    assert!(remembered.contains(&address), "{remembered}");
}

#[test]
fn a_host_killed_during_a_call_ends_the_call_when_it_starts_again() {
    let mut host = Host::start("svc-crash");
    let _task = submit(
        &host,
        "hang",
        &format!(
            "task_name = \"hang\"\ntask_type = \"service\"\nsetup_commands = [\"mkdir -p pids\"]\n\
             commands = ['{HANG}']\n"
        ),
        &[],
    );
    let mut caller = tnet_command(&[&host.endpoint()])
        .args(["call", "hang"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tnet call starts");
    let pids_dir = host.home.join("hang/pids");
    let pids = wait_until(Duration::from_secs(20), "the call's command runs", || {
        let pids = pids_in(&pids_dir);
        (pids.len() == 2).then_some(pids)
    });
    // kill -9: the call's processes outlive the host...
    host.kill9();
    assert!(pids.iter().all(|p| process_alive(*p)));
    // ...until it starts again and ends what its previous life left running.
    host.restart();
    wait_until(
        Duration::from_secs(15),
        "the old call's processes are gone",
        || pids.iter().all(|p| !process_alive(*p)).then_some(()),
    );
    host.wait_state("hang", "ready");
    let _ = caller.kill();
    let _ = caller.wait();
}

/// From a `calls.log` of `start <ns>` and `end <ns>` lines: how many lines,
/// and the most calls that ran at once.
pub(crate) fn most_at_once(log: &str) -> (usize, i32) {
    let mut events: Vec<(u128, i32)> = log
        .lines()
        .map(|l| {
            let (what, at) = l.split_once(' ').expect("`start|end <ns>`");
            let at: u128 = at.parse().expect("a time in ns");
            // At equal times an end comes first: its turn was given back.
            (at, if what == "start" { 1 } else { -1 })
        })
        .collect();
    events.sort();
    let (mut running, mut most) = (0, 0);
    for (_, change) in &events {
        running += change;
        most = most.max(running);
    }
    (events.len(), most)
}
