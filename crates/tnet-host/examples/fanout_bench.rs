//! Benchmark (not a test): a habit's output fanned out to many subscribers
//! (SPEC 14), next to a bare Zenoh publisher doing the same (the floor),
//! measured in the same run.
//!
//! ```text
//! cargo build --release -p tnet-host --bin tnet-host --example fanout_bench
//! target/release/examples/fanout_bench --subscribers 100 --habits 1 --seconds 30 --repeat 3
//! target/release/examples/fanout_bench --subscribers 100 --habits 10 --seconds 30 --repeat 3
//! ```
//!
//! Each side publishes `--habits` outputs of `--bytes` bytes at every whole
//! second, to `--subscribers` Zenoh sessions (`tnet sub`'s setup: peer mode,
//! no listening, scouting off, connected to the source on loopback) spread
//! over `--processes` processes, and measures, for every run whose slot falls
//! in the `--seconds` window after `--warmup`:
//!
//! - **deliveries**: samples received, against runs × subscribers (any
//!   missing are reported), and per second of the window;
//! - **lateness**: receive time minus the slot (the `scheduled` of the
//!   run's attachment, or the floor's intended publish time);
//! - for tnet also the part after the run: receive time minus the run's end
//!   (`started` + `duration_ms`), i.e. what storing and publishing add to
//!   running the command;
//! - CPU of the source process over the window.
//!
//! **floor**: this program started again with `--publish`: one session
//! listening on a loopback port, a publisher per key with
//! `CongestionControl::Block` (as the host's), putting the payload with a
//! `HabitRun` attachment at each whole second. **tnet**: the real
//! `tnet-host` next to this example, given habits that print `--bytes`
//! bytes on the cron schedule `* * * * * *` (every whole second, so ten
//! habits make a burst). Subscribers are this program with `--subscribe`.
//! The two sides alternate, `--repeat` times; the table has each run and
//! the medians.

mod bench;

use bench::{ask, now_ns, ns_of, Cpu, Stats};

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use tnet_proto::keys;
use tnet_proto::msg::{self, HabitRun, Request, Response, SubmitRequest};
use zenoh::qos::CongestionControl;
use zenoh::query::ConsolidationMode;

/// What to measure.
#[derive(Debug, Clone, Copy)]
struct Opts {
    subscribers: usize,
    processes: usize,
    habits: usize,
    bytes: usize,
    seconds: u64,
    warmup: u64,
    repeat: usize,
}

/// One delivery as a subscriber saw it: the key's habit index, the run's
/// number, its slot, the end of its run and the receive time (ns since the
/// epoch), and the payload's length.
type Delivery = (usize, u64, i128, i128, i128, usize);

/// What one measured run of one side gave.
#[derive(Debug, Default, Clone)]
struct Measured {
    /// Slots in the window (habits × seconds).
    slots: usize,
    /// Runs the source published for those slots.
    runs: usize,
    /// Deliveries expected: runs × subscribers.
    expected: usize,
    /// Deliveries of those runs.
    delivered: usize,
    /// Deliveries whose payload did not have the expected length.
    wrong_size: usize,
    deliveries_per_s: f64,
    lateness: Stats,
    after_run: Stats,
    /// CPU of the source process over the window, % of one core.
    cpu_pct: f64,
    /// Runs not delivered to every subscriber: "h00 #5 (slot 12:00:05): 97 of 100".
    short: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let mut opts = Opts {
        subscribers: 100,
        processes: 4,
        habits: 1,
        bytes: 64 << 10,
        seconds: 30,
        warmup: 5,
        repeat: 3,
    };
    let mut role = None;
    let mut endpoint = String::new();
    let mut key = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        let number = |v: String, name: &str| -> anyhow::Result<u64> {
            v.parse().with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--subscribers" => opts.subscribers = number(value(&arg)?, &arg)? as usize,
            "--processes" => opts.processes = number(value(&arg)?, &arg)?.max(1) as usize,
            "--habits" => opts.habits = number(value(&arg)?, &arg)?.max(1) as usize,
            "--bytes" => opts.bytes = number(value(&arg)?, &arg)? as usize,
            "--seconds" => opts.seconds = number(value(&arg)?, &arg)?,
            "--warmup" => opts.warmup = number(value(&arg)?, &arg)?,
            "--repeat" => opts.repeat = number(value(&arg)?, &arg)?.max(1) as usize,
            // The roles this program plays for itself.
            "--publish" | "--subscribe" => role = Some(arg.clone()),
            "--endpoint" => endpoint = value(&arg)?,
            "--key" => key = value(&arg)?,
            other => bail!("unknown argument {other}; see the top of fanout_bench.rs"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match role.as_deref() {
        Some("--publish") => runtime.block_on(publish(opts, &endpoint)),
        Some(_) => runtime.block_on(subscribe(opts.subscribers, &endpoint, &key)),
        None => runtime.block_on(compare(opts)),
    }
}

/// Runs both sides `repeat` times, alternating, and prints the table.
async fn compare(opts: Opts) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let host_bin = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("tnet-host"))
        .context("cannot find the target folder")?;
    anyhow::ensure!(
        host_bin.exists(),
        "{} is missing: cargo build --release -p tnet-host --bin tnet-host",
        host_bin.display()
    );
    let mut floor = Vec::new();
    let mut tnet = Vec::new();
    for round in 1..=opts.repeat {
        eprintln!(
            "round {round}/{}: floor (bare Zenoh publisher)...",
            opts.repeat
        );
        floor.push(floor_side(opts, &exe).await?);
        eprintln!("round {round}/{}: tnet-host...", opts.repeat);
        tnet.push(tnet_side(opts, &exe, &host_bin).await?);
    }
    print_table(opts, &floor, &tnet);
    Ok(())
}

fn print_table(opts: Opts, floor: &[Measured], tnet: &[Measured]) {
    println!(
        "{} habit(s) × {} B every second to {} subscribers ({} processes), {} s measured after {} s of warm-up, {} round(s); times in ms\n",
        opts.habits, opts.bytes, opts.subscribers, opts.processes, opts.seconds, opts.warmup, opts.repeat
    );
    println!("| run | side | runs / slots | delivered / expected | deliveries/s | lateness p50 / p99 / max | after the run p50 / p99 | source CPU % |");
    println!("|---|---|---|---|---|---|---|---|");
    let row = |label: String, side: &str, m: &Measured, after: bool| {
        let after = if after {
            format!("{:.1} / {:.1}", m.after_run.p50, m.after_run.p99)
        } else {
            "–".to_owned()
        };
        println!(
            "| {label} | {side} | {} / {} | {} / {}{} | {:.0} | {:.1} / {:.1} / {:.1} | {after} | {:.1} |",
            m.runs,
            m.slots,
            m.delivered,
            m.expected,
            if m.wrong_size > 0 {
                format!(" ({} wrong size)", m.wrong_size)
            } else {
                String::new()
            },
            m.deliveries_per_s,
            m.lateness.p50,
            m.lateness.p99,
            m.lateness.max,
            m.cpu_pct,
        );
    };
    for (i, (f, t)) in floor.iter().zip(tnet).enumerate() {
        row(format!("{}", i + 1), "floor", f, false);
        row(format!("{}", i + 1), "tnet", t, true);
    }
    row("median".to_owned(), "floor", &median(floor), false);
    row("median".to_owned(), "tnet", &median(tnet), true);
    for (side, rounds) in [("floor", floor), ("tnet", tnet)] {
        for (i, m) in rounds.iter().enumerate() {
            for short in &m.short {
                println!(
                    "\nround {}, {side}: not every subscriber got {short}",
                    i + 1
                );
            }
        }
    }
}

/// The median of each figure over the rounds (counts: their sums).
fn median(rounds: &[Measured]) -> Measured {
    let mid = |f: &dyn Fn(&Measured) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let sum = |f: &dyn Fn(&Measured) -> usize| rounds.iter().map(f).sum::<usize>();
    Measured {
        slots: sum(&|m| m.slots),
        runs: sum(&|m| m.runs),
        expected: sum(&|m| m.expected),
        delivered: sum(&|m| m.delivered),
        wrong_size: sum(&|m| m.wrong_size),
        deliveries_per_s: mid(&|m| m.deliveries_per_s),
        lateness: Stats {
            p50: mid(&|m| m.lateness.p50),
            p99: mid(&|m| m.lateness.p99),
            max: mid(&|m| m.lateness.max),
            ..Stats::default()
        },
        after_run: Stats {
            p50: mid(&|m| m.after_run.p50),
            p99: mid(&|m| m.after_run.p99),
            max: mid(&|m| m.after_run.max),
            ..Stats::default()
        },
        cpu_pct: mid(&|m| m.cpu_pct),
        short: rounds.iter().flat_map(|m| m.short.clone()).collect(),
    }
}

/// The measured window: from the first whole second `warmup` seconds from
/// now, for `seconds`; in ns since the epoch.
fn window(opts: Opts) -> (i128, i128) {
    let second = 1_000_000_000i128;
    let start = (now_ns() / second + 1 + i128::from(opts.warmup)) * second;
    (start, start + i128::from(opts.seconds) * second)
}

/// How long after the window the subscribers keep listening, for the last runs.
const TAIL_NS: i128 = 3_000_000_000;

/// The floor: a bare Zenoh publisher in a process of its own.
async fn floor_side(opts: Opts, exe: &std::path::Path) -> anyhow::Result<Measured> {
    let endpoint = free_endpoint()?;
    let mut publisher = tokio::process::Command::new(exe)
        .args(["--publish", "--endpoint", &endpoint])
        .args(["--habits", &opts.habits.to_string()])
        .args(["--bytes", &opts.bytes.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(publisher.stdout.take().context("stdout")?);
    read_ready(&mut lines, "the floor publisher").await?;
    let pid = publisher
        .id()
        .context("the publisher has a pid")?
        .to_string();
    let subscribers = start_subscribers(opts, exe, &endpoint, "tnet/base/habit/*").await?;
    let (start, end) = window(opts);
    let cpu = cpu_over_window(&pid, start, end).await?;
    tokio::time::sleep(Duration::from_nanos(TAIL_NS as u64)).await;
    // Closing their input ends the publisher and the subscribers.
    drop(publisher.stdin.take());
    let deliveries = collect(subscribers).await?;
    let published = {
        use tokio::io::AsyncBufReadExt;
        let mut line = String::new();
        lines.read_line(&mut line).await?;
        serde_json::from_str::<Vec<(usize, u64, i128)>>(&line)
            .context("the floor publisher's report")?
    };
    let _ = publisher.wait().await;
    let runs: Vec<(usize, u64)> = published
        .iter()
        .filter(|(_, _, slot)| (start..end).contains(slot))
        .map(|(h, n, _)| (*h, *n))
        .collect();
    Ok(measure(opts, start, end, &runs, &deliveries, cpu, false))
}

/// tnet: the real host with `opts.habits` habits.
async fn tnet_side(
    opts: Opts,
    exe: &std::path::Path,
    host_bin: &std::path::Path,
) -> anyhow::Result<Measured> {
    let home = tempfile::tempdir()?;
    let endpoint = free_endpoint()?;
    let log = std::fs::File::create(home.path().join("host.log"))?;
    let mut host = tokio::process::Command::new(host_bin)
        .args(["--name", "bench", "--home"])
        .arg(home.path().join("tasks"))
        // Plain TCP, as the floor's publisher: the question is the fan-out,
        // not the link's encryption (docs/benchmarks.md, "Security").
        .args(["-l", &endpoint, "--no-multicast-scouting", "--insecure"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    let pid = host.id().context("the host has a pid")?.to_string();
    let session = zenoh::open(client_config(&endpoint)?)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ask(&session, "bench", Request::HostInfo).await.is_err() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the host did not answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let subscribers = start_subscribers(opts, exe, &endpoint, &keys::all_habits("bench")).await?;
    let (start, end) = window(opts);
    for i in 0..opts.habits {
        let toml = format!(
            "task_name = \"h{i:02}\"\ntask_type = \"habit\"\n\
             commands = [\"head -c {} /dev/zero | tr '\\\\0' x\"]\n\
             [habit_details]\ntime_between_runs = \"* * * * * *\"\n",
            opts.bytes
        );
        let answer = ask(
            &session,
            "bench",
            Request::Submit(SubmitRequest {
                file_name: format!("h{i:02}.toml"),
                task_toml: toml,
                files: Vec::new(),
                progress: None,
            }),
        )
        .await?;
        anyhow::ensure!(
            matches!(answer, Response::Task(_)),
            "a submission failed: {answer:?}"
        );
    }
    anyhow::ensure!(
        now_ns() < start,
        "the habits were not submitted before the measured window began; give a longer --warmup"
    );
    let cpu = cpu_over_window(&pid, start, end).await?;
    tokio::time::sleep(Duration::from_nanos(TAIL_NS as u64)).await;
    let deliveries = collect(subscribers).await?;
    // The runs the host kept (every run that ended), whether published or not.
    let mut runs = Vec::new();
    let replies = session
        .get(keys::all_habits("bench"))
        .consolidation(ConsolidationMode::None)
        .timeout(Duration::from_secs(30))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    while let Ok(reply) = replies.recv_async().await {
        let Ok(sample) = reply.result() else { continue };
        let Some(run) = sample
            .attachment()
            .and_then(|a| msg::decode::<HabitRun>(&a.to_bytes()).ok())
        else {
            continue;
        };
        if ns_of(&run.scheduled).is_some_and(|slot| (start..end).contains(&slot)) {
            runs.push((habit_index(&run.task), run.number));
        }
    }
    let _ = session.close().await;
    if let Some(id) = host.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(id),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), host.wait()).await;
    Ok(measure(opts, start, end, &runs, &deliveries, cpu, true))
}

/// The figures of one side from the runs it published in the window and
/// what the subscribers received.
fn measure(
    opts: Opts,
    start: i128,
    end: i128,
    runs: &[(usize, u64)],
    deliveries: &[Delivery],
    cpu_pct: f64,
    after_run: bool,
) -> Measured {
    let of_runs: Vec<&Delivery> = deliveries
        .iter()
        .filter(|(habit, number, ..)| runs.contains(&(*habit, *number)))
        .collect();
    let ms = |ns: i128| ns as f64 / 1e6;
    let in_window = of_runs
        .iter()
        .filter(|(_, _, slot, ..)| (start..end).contains(slot))
        .count();
    let mut short = Vec::new();
    for (habit, number) in runs {
        let got: Vec<&&Delivery> = of_runs
            .iter()
            .filter(|d| d.0 == *habit && d.1 == *number)
            .collect();
        if got.len() < opts.subscribers {
            let slot = got.first().map_or("?".to_owned(), |d| rfc3339(d.2));
            short.push(format!(
                "h{habit:02} #{number} (slot {slot}): {} of {}",
                got.len(),
                opts.subscribers
            ));
        }
    }
    Measured {
        short,
        slots: opts.habits * opts.seconds as usize,
        runs: runs.len(),
        expected: runs.len() * opts.subscribers,
        delivered: of_runs.len(),
        wrong_size: of_runs.iter().filter(|d| d.5 != opts.bytes).count(),
        deliveries_per_s: in_window as f64 / opts.seconds as f64,
        lateness: Stats::of(of_runs.iter().map(|d| ms(d.4 - d.2)).collect()),
        after_run: if after_run {
            Stats::of(of_runs.iter().map(|d| ms(d.4 - d.3)).collect())
        } else {
            Stats::default()
        },
        cpu_pct,
    }
}

/// Starts the subscriber processes, each with its share of the sessions,
/// and waits until every one has declared its subscribers. They listen
/// until [`collect`] closes their input.
async fn start_subscribers(
    opts: Opts,
    exe: &std::path::Path,
    endpoint: &str,
    key: &str,
) -> anyhow::Result<Vec<tokio::process::Child>> {
    let mut children = Vec::new();
    for p in 0..opts.processes {
        let share =
            opts.subscribers / opts.processes + usize::from(p < opts.subscribers % opts.processes);
        children.push(
            tokio::process::Command::new(exe)
                .args(["--subscribe", "--endpoint", endpoint, "--key", key])
                .args(["--subscribers", &share.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()?,
        );
    }
    for child in &mut children {
        let mut lines = tokio::io::BufReader::new(child.stdout.take().context("stdout")?);
        read_ready(&mut lines, "a subscriber process").await?;
        // Put back for `collect`, which reads the report.
        child.stdout = Some(lines.into_inner());
    }
    Ok(children)
}

async fn read_ready(
    lines: &mut tokio::io::BufReader<tokio::process::ChildStdout>,
    who: &str,
) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(60), lines.read_line(&mut line))
        .await
        .with_context(|| format!("{who} was not ready within 60 s"))??;
    anyhow::ensure!(
        line.trim() == "ready",
        "{who} said {line:?} instead of ready"
    );
    Ok(())
}

/// Tells the subscriber processes to stop (by closing their input), and
/// gathers what they received.
async fn collect(mut children: Vec<tokio::process::Child>) -> anyhow::Result<Vec<Delivery>> {
    for child in &mut children {
        drop(child.stdin.take());
    }
    let mut all = Vec::new();
    for child in children {
        let out = child.wait_with_output().await?;
        anyhow::ensure!(out.status.success(), "a subscriber process failed");
        all.extend(
            serde_json::from_slice::<Vec<Delivery>>(&out.stdout)
                .context("a subscriber process's report")?,
        );
    }
    Ok(all)
}

/// `--publish`: the floor. Puts `habits` payloads at each whole second
/// until its input closes, then prints what it published as (habit,
/// number, slot).
async fn publish(opts: Opts, endpoint: &str) -> anyhow::Result<()> {
    let mut config = zenoh::Config::default();
    for (key, value) in [
        ("mode", "\"peer\"".to_owned()),
        ("listen/endpoints", format!("[\"{endpoint}\"]")),
        ("scouting/multicast/enabled", "false".to_owned()),
    ] {
        config
            .insert_json5(key, &value)
            .map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    }
    let session = zenoh::open(config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut publishers = Vec::new();
    for i in 0..opts.habits {
        publishers.push(
            session
                .declare_publisher(keys::habit_output("base", &format!("h{i:02}")))
                .congestion_control(CongestionControl::Block)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    println!("ready");
    let payload = vec![b'x'; opts.bytes];
    let mut published = Vec::new();
    let second = 1_000_000_000i128;
    let mut number = 0;
    let mut stop = std::pin::pin!(input_closed());
    loop {
        let slot = (now_ns() / second + 1) * second;
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(Duration::from_nanos((slot - now_ns()).max(0) as u64)) => {}
        }
        number += 1;
        let scheduled = rfc3339(slot);
        for (i, publisher) in publishers.iter().enumerate() {
            let meta = HabitRun {
                host: "base".into(),
                task: format!("h{i:02}"),
                number,
                scheduled: scheduled.clone(),
                started: scheduled.clone(),
                duration_ms: 0,
                exit_code: Some(0),
                outcome: "succeeded".into(),
                truncated: false,
                value: None,
            };
            publisher
                .put(payload.clone())
                .attachment(msg::encode(&meta))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            published.push((i, number, slot));
        }
    }
    println!("{}", serde_json::to_string(&published)?);
    let _ = session.close().await;
    Ok(())
}

/// `--subscribe`: `sessions` sessions, each subscribed to `key`, until its
/// input closes; then prints every delivery as JSON.
async fn subscribe(sessions: usize, endpoint: &str, key: &str) -> anyhow::Result<()> {
    let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let opened = futures::future::join_all((0..sessions).map(|_| async {
        zenoh::open(client_config(endpoint)?)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }))
    .await;
    let mut open = Vec::new();
    for session in opened {
        let session = session?;
        let sink = seen.clone();
        let subscriber = session
            .declare_subscriber(key)
            .callback(move |sample| {
                let received = now_ns();
                let Some(run) = sample
                    .attachment()
                    .and_then(|a| msg::decode::<HabitRun>(&a.to_bytes()).ok())
                else {
                    return;
                };
                let (Some(slot), Some(started)) = (ns_of(&run.scheduled), ns_of(&run.started))
                else {
                    return;
                };
                let ended = started + i128::from(run.duration_ms) * 1_000_000;
                let len = sample.payload().len();
                sink.lock().unwrap_or_else(|p| p.into_inner()).push((
                    habit_index(&run.task),
                    run.number,
                    slot,
                    ended,
                    received,
                    len,
                ));
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        open.push((session, subscriber));
    }
    println!("ready");
    input_closed().await;
    for (session, subscriber) in open {
        let _ = subscriber.undeclare().await;
        let _ = session.close().await;
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    println!("{}", serde_json::to_string(&seen)?);
    Ok(())
}

/// Returns once standard input is closed: how the orchestrator stops the
/// publisher and the subscribers.
async fn input_closed() {
    use tokio::io::AsyncReadExt;
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
}

/// A session as `tnet sub` opens one: peer mode, not listening, scouting
/// off, connected to `endpoint`.
fn client_config(endpoint: &str) -> anyhow::Result<zenoh::Config> {
    let mut config = zenoh::Config::default();
    for (key, value) in [
        ("mode", "\"peer\"".to_owned()),
        ("connect/endpoints", format!("[\"{endpoint}\"]")),
        ("listen/endpoints", "[]".to_owned()),
        ("scouting/multicast/enabled", "false".to_owned()),
    ] {
        config
            .insert_json5(key, &value)
            .map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    }
    Ok(config)
}

/// CPU of process `pid` between `start` and `end` (ns since the epoch), in
/// % of one core; returns at `end`.
async fn cpu_over_window(pid: &str, start: i128, end: i128) -> anyhow::Result<f64> {
    let until = |t: i128| Duration::from_nanos((t - now_ns()).max(0) as u64);
    tokio::time::sleep(until(start)).await;
    let (t0, c0) = (std::time::Instant::now(), Cpu::of(pid)?.own);
    tokio::time::sleep(until(end)).await;
    let (t1, c1) = (std::time::Instant::now(), Cpu::of(pid)?.own);
    // Linux reports these in USER_HZ, which is 100 on every current architecture.
    Ok((c1 - c0) as f64 / 100.0 / (t1 - t0).as_secs_f64() * 100.0)
}

fn free_endpoint() -> anyhow::Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    Ok(format!("tcp/127.0.0.1:{port}"))
}

/// `h07` -> 7.
fn habit_index(task: &str) -> usize {
    task.trim_start_matches('h').parse().unwrap_or(usize::MAX)
}

fn rfc3339(ns: i128) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns as i64).to_rfc3339_opts(SecondsFormat::Millis, true)
}
