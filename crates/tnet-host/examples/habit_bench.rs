//! Benchmark (not a test): how late habits start when one host runs many of
//! them (SPEC 14), and what the host costs meanwhile, next to a bare Tokio
//! interval loop doing the same work (the floor), in the same run.
//!
//! ```text
//! cargo build --release -p tnet-host --bin tnet-host --example habit_bench
//! target/release/examples/habit_bench --habits 1000 --seconds 60 --warmup 10
//! target/release/examples/habit_bench --habits 100 --seconds 20 --warmup 5 --together
//! target/release/examples/habit_bench --habits 100 --seconds 20 --warmup 5 --secure
//! ```
//!
//! The floor runs first, then tnet; with `--together` it runs beside tnet,
//! over an overlapping window, so that both pay the same drift of a shared
//! machine (see `compare`).
//!
//! Both sides run `sh -c 'date +%s%N'` once a second for each of `--habits`
//! habits, phases spread over the second, and measure, for every run whose
//! slot falls in the measured window:
//!
//! - **command start lateness**: the time the command itself printed, minus
//!   the slot it was due at (what a user of the habit sees);
//! - **recorded start lateness** (tnet only): the `started` the host records
//!   and publishes, minus the slot (`scheduled`), both from the run's
//!   attachment; for the floor, the moment the process is spawned;
//! - runs that happened against slots that were due (overlaps and late wakes
//!   are skipped, on both sides);
//! - CPU of the process (and of its reaped children, the commands) over the
//!   window, and its peak resident memory (`VmHWM`), from `/proc`.
//!
//! tnet's side is the real `tnet-host` binary next to this example, started
//! on a loopback port in a temporary home, given its habits with ordinary
//! submit requests, and watched through a Zenoh subscription on
//! `tnet/bench/habit/*`. The floor is this program started again with
//! `--floor`, so neither measures the other.
//!
//! The host runs `--insecure` (plain TCP), unless `--secure`: then it runs on
//! the secure default, as a user's does (its gate, QUIC with mutual TLS, a
//! fleet it creates at its first start), and the bench subscribes and submits
//! with that fleet's admin identity.

mod bench;

use bench::{ask, now_ns, ns_of, Cpu, Stats};

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use tnet_proto::keys;
use tnet_proto::msg::{self, HabitRun, Request, Response, SubmitRequest};
use tokio::time::Instant;

/// What to measure.
#[derive(Debug, Clone, Copy)]
struct Opts {
    habits: usize,
    seconds: u64,
    warmup: u64,
    /// The floor runs at the same time as tnet (`--together`), not before.
    together: bool,
    /// The host runs on the secure default (`--secure`), not `--insecure`.
    secure: bool,
}

/// What one side measured.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Side {
    /// Runs whose slot was in the window.
    runs: usize,
    /// Slots in the window (habits × seconds).
    slots: usize,
    /// Runs in the window of a slot that had already run (the slot-once
    /// promise says none).
    #[serde(default)]
    twice: usize,
    command_start: Stats,
    recorded_start: Stats,
    /// CPU of the process itself over the window, in % of one core.
    cpu_pct: f64,
    /// CPU of its reaped children (the commands) over the window, in % of one core.
    children_cpu_pct: f64,
    /// Peak resident memory of the process, KiB.
    peak_rss_kib: u64,
    /// CPU of the process itself per run in the window, in ms.
    cpu_ms_per_run: f64,
    /// How long giving the side its habits took, in seconds (tnet: the
    /// submit requests, answered while the first habits already run).
    setup_s: f64,
}

fn main() -> anyhow::Result<()> {
    let mut opts = Opts {
        habits: 1000,
        seconds: 60,
        warmup: 10,
        together: false,
        secure: false,
    };
    let mut floor = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> anyhow::Result<u64> {
            args.next()
                .with_context(|| format!("{name} needs a number"))?
                .parse()
                .with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--habits" => opts.habits = number("--habits")? as usize,
            "--seconds" => opts.seconds = number("--seconds")?,
            "--warmup" => opts.warmup = number("--warmup")?,
            "--floor" => floor = true,
            "--together" => opts.together = true,
            "--secure" => opts.secure = true,
            other => bail!("unknown argument {other}; see the top of habit_bench.rs"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if floor {
        let side = runtime.block_on(floor_side(opts))?;
        println!("{}", serde_json::to_string(&side)?);
        return Ok(());
    }
    runtime.block_on(compare(opts))
}

/// Runs the floor, then tnet, and prints both. With `--together` the floor
/// runs beside tnet instead, its window overlapping tnet's (it warms up a
/// second longer, about as long as the host takes to start and take its
/// habits): on a machine whose speed drifts from one minute to the next
/// (this one's floor moved by half within an hour), both sides then pay
/// the same drift, and their ratio is steadier. Together they share the
/// cores, which costs each a little; at a hundred habits the two use about
/// a third of one core between them.
async fn compare(opts: Opts) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    eprintln!(
        "floor: {} tokio intervals for {} s (+{} s warm-up){}...",
        opts.habits,
        opts.seconds,
        opts.warmup,
        if opts.together { ", beside tnet" } else { "" }
    );
    let floor_warmup = opts.warmup + u64::from(opts.together);
    let mut floor_run = tokio::spawn(
        tokio::process::Command::new(&exe)
            .args(["--floor", "--habits", &opts.habits.to_string()])
            .args([
                "--seconds",
                &opts.seconds.to_string(),
                "--warmup",
                &floor_warmup.to_string(),
            ])
            .stderr(Stdio::inherit())
            .output(),
    );
    let floor_first = if opts.together {
        None
    } else {
        Some(floor_side_of((&mut floor_run).await??)?)
    };
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
    eprintln!(
        "tnet: {} habits on one tnet-host for {} s (+{} s warm-up)...",
        opts.habits, opts.seconds, opts.warmup
    );
    let tnet = tnet_side(opts, &host_bin).await?;
    let floor = match floor_first {
        Some(floor) => floor,
        None => floor_side_of(floor_run.await??)?,
    };

    println!(
        "{} habits at a 1 s interval, {} s measured after {} s of warm-up{}; lateness in ms\n",
        opts.habits,
        opts.seconds,
        opts.warmup,
        if opts.together {
            ", the floor beside tnet"
        } else {
            ""
        }
    );
    println!("| | floor (tokio interval) | tnet-host |");
    println!("|---|---|---|");
    let row = |name: &str, f: String, t: String| println!("| {name} | {f} | {t} |");
    let ms = |s: &Stats| format!("{:.1} / {:.1} / {:.1}", s.p50, s.p99, s.max);
    row(
        "runs / slots in the window",
        format!("{} / {}", floor.runs, floor.slots),
        format!("{} / {}", tnet.runs, tnet.slots),
    );
    row(
        "slots run twice",
        floor.twice.to_string(),
        tnet.twice.to_string(),
    );
    row(
        "command start lateness p50 / p99 / max",
        ms(&floor.command_start),
        ms(&tnet.command_start),
    );
    row(
        "recorded start lateness p50 / p99 / max",
        ms(&floor.recorded_start),
        ms(&tnet.recorded_start),
    );
    row(
        "CPU of the process (% of one core)",
        format!("{:.1}", floor.cpu_pct),
        format!("{:.1}", tnet.cpu_pct),
    );
    row(
        "CPU of the commands (% of one core)",
        format!("{:.1}", floor.children_cpu_pct),
        format!("{:.1}", tnet.children_cpu_pct),
    );
    row(
        "CPU of the process per run (ms)",
        format!("{:.3}", floor.cpu_ms_per_run),
        format!("{:.3}", tnet.cpu_ms_per_run),
    );
    row(
        "giving it the habits (s)",
        format!("{:.2}", floor.setup_s),
        format!("{:.2}", tnet.setup_s),
    );
    row(
        "peak memory (RSS)",
        format!("{:.1} MiB", floor.peak_rss_kib as f64 / 1024.0),
        format!("{:.1} MiB", tnet.peak_rss_kib as f64 / 1024.0),
    );
    Ok(())
}

/// What the floor's process reported.
fn floor_side_of(out: std::process::Output) -> anyhow::Result<Side> {
    anyhow::ensure!(out.status.success(), "the floor run failed");
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The floor: one Tokio interval per habit, spawning the command at each tick.
async fn floor_side(opts: Opts) -> anyhow::Result<Side> {
    let begin = Instant::now() + Duration::from_millis(200);
    let window_start = begin + Duration::from_secs(1 + opts.warmup);
    let window_end = window_start + Duration::from_secs(opts.seconds);
    let samples: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let mut tasks = Vec::new();
    for i in 0..opts.habits {
        let samples = samples.clone();
        let phase = Duration::from_secs(1) * i as u32 / opts.habits as u32;
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval_at(begin + phase, Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                let tick = every.tick().await;
                if tick >= window_end {
                    return;
                }
                let spawned = Instant::now();
                // The tick on the wall clock, to compare with what `date` prints.
                let tick_wall = now_ns() - (spawned - tick).as_nanos() as i128;
                let out = tokio::process::Command::new("sh")
                    .args(["-c", "date +%s%N"])
                    .stdin(Stdio::null())
                    .output()
                    .await;
                if tick < window_start {
                    continue;
                }
                let Some(ran) = out.ok().and_then(|o| printed_ns(&o.stdout)) else {
                    continue;
                };
                let recorded = (spawned - tick).as_secs_f64() * 1000.0;
                let command = (ran - tick_wall) as f64 / 1e6;
                samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((command, recorded));
            }
        }));
    }
    tokio::time::sleep_until(window_start).await;
    let cpu0 = Cpu::of("self")?;
    tokio::time::sleep_until(window_end).await;
    let cpu1 = Cpu::of("self")?;
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Side {
        cpu_ms_per_run: cpu1.own_ms_since(&cpu0) / samples.len().max(1) as f64,
        setup_s: 0.0,
        runs: samples.len(),
        twice: 0,
        slots: opts.habits * opts.seconds as usize,
        command_start: Stats::of(samples.iter().map(|s| s.0).collect()),
        recorded_start: Stats::of(samples.iter().map(|s| s.1).collect()),
        cpu_pct: cpu1.self_pct_since(&cpu0),
        children_cpu_pct: cpu1.children_pct_since(&cpu0),
        peak_rss_kib: peak_rss_kib("self")?,
    })
}

/// tnet: the real host with `opts.habits` habits, watched through Zenoh.
async fn tnet_side(opts: Opts, host_bin: &std::path::Path) -> anyhow::Result<Side> {
    let home = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let log = std::fs::File::create(home.path().join("host.log"))?;
    // On the secure default the host takes `tcp/` as `quic/`, and creates
    // its fleet (authority, admin identity) here at its first start.
    let fleet = home.path().join("fleet");
    let mut host = tokio::process::Command::new(host_bin);
    host.args(["--name", "bench", "--home"])
        .arg(home.path().join("tasks"))
        .args(["-l", &endpoint, "--no-multicast-scouting"])
        .env(tnet_fleet::ENV_FLEET, &fleet)
        .env_remove("TNET_INSECURE");
    if !opts.secure {
        host.arg("--insecure");
    }
    let mut host = host
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    let pid = host.id().context("the host has a pid")?.to_string();

    let mut inserts = Vec::new();
    let endpoint = if opts.secure {
        let admin = fleet.join("clients").join("admin");
        let deadline = Instant::now() + Duration::from_secs(30);
        let identity = loop {
            match tnet_fleet::Identity::load(&admin) {
                Ok(identity) => break identity,
                Err(err) => anyhow::ensure!(
                    Instant::now() < deadline,
                    "the host made no admin identity in {} within 30 s: {err}",
                    admin.display()
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        inserts = tnet_fleet::zenoh::quic_client_inserts(&identity);
        format!("quic/127.0.0.1:{port}")
    } else {
        endpoint
    };
    let mut config = zenoh::Config::default();
    for (key, value) in [
        ("mode", "\"peer\"".to_owned()),
        ("connect/endpoints", format!("[\"{endpoint}\"]")),
        ("listen/endpoints", "[]".to_owned()),
        ("scouting/multicast/enabled", "false".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .chain(inserts)
    {
        config
            .insert_json5(&key, &value)
            .map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    }
    let session = zenoh::open(config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ask(&session, "bench", Request::HostInfo).await.is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the host did not answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let sink = seen.clone();
    let subscriber = session
        .declare_subscriber(keys::all_habits("bench"))
        .callback(move |sample| {
            let Some(run) = sample
                .attachment()
                .and_then(|a| msg::decode::<HabitRun>(&a.to_bytes()).ok())
            else {
                return;
            };
            let (Some(slot), Some(started)) = (ns_of(&run.scheduled), ns_of(&run.started)) else {
                return;
            };
            let printed = printed_ns(&sample.payload().to_bytes());
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((run.task, slot, started, printed));
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let submitted = Instant::now();
    // A habit's phase is the moment it was submitted (it runs at once, then
    // every second): habit i is sent no sooner than i/n of a second after the
    // first, so that the phases spread over the second as the floor's do,
    // however fast the host takes submissions.
    let start = tokio::time::Instant::now();
    let spacing = Duration::from_secs(1) / opts.habits.max(1) as u32;
    let session = &session;
    for chunk in (0..opts.habits).collect::<Vec<_>>().chunks(25) {
        let submits = chunk.iter().map(|&i| async move {
            tokio::time::sleep_until(start + spacing * i as u32).await;
            let toml = format!(
                "task_name = \"h{i:04}\"\ntask_type = \"habit\"\ncommands = [\"date +%s%N\"]\n\
                 [habit_details]\ntime_between_runs = \"1s\"\n"
            );
            ask(
                session,
                "bench",
                Request::Submit(SubmitRequest {
                    file_name: format!("h{i:04}.toml"),
                    task_toml: toml,
                    files: Vec::new(),
                    progress: None,
                }),
            )
            .await
        });
        for answer in futures::future::join_all(submits).await {
            match answer? {
                Response::Task(_) => {}
                other => bail!("a submission failed: {other:?}"),
            }
        }
    }
    let setup_s = submitted.elapsed().as_secs_f64();
    eprintln!("  {} habits submitted in {setup_s:.1} s", opts.habits);

    tokio::time::sleep(Duration::from_secs(opts.warmup)).await;
    let window_start = now_ns();
    let cpu0 = Cpu::of(&pid)?;
    tokio::time::sleep(Duration::from_secs(opts.seconds)).await;
    // Exactly `seconds` long, so that it holds habits × seconds slots.
    let window_end = window_start + i128::from(opts.seconds) * 1_000_000_000;
    let cpu1 = Cpu::of(&pid)?;
    let peak = peak_rss_kib(&pid)?;
    // Runs due at the end of the window are still being published.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = subscriber.undeclare().await;
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(id) = host.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(id),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), host.wait()).await;
    let _ = session.close().await;

    let in_window: Vec<_> = seen
        .iter()
        .filter(|(_, slot, _, _)| *slot >= window_start && *slot < window_end)
        .collect();
    let once: std::collections::HashSet<(&str, i128)> = in_window
        .iter()
        .map(|(task, slot, _, _)| (task.as_str(), *slot))
        .collect();
    Ok(Side {
        cpu_ms_per_run: cpu1.own_ms_since(&cpu0) / in_window.len().max(1) as f64,
        setup_s,
        runs: in_window.len(),
        twice: in_window.len() - once.len(),
        slots: opts.habits * opts.seconds as usize,
        command_start: Stats::of(
            in_window
                .iter()
                .filter_map(|(_, slot, _, printed)| printed.map(|p| (p - slot) as f64 / 1e6))
                .collect(),
        ),
        recorded_start: Stats::of(
            in_window
                .iter()
                .map(|(_, slot, started, _)| (started - slot) as f64 / 1e6)
                .collect(),
        ),
        cpu_pct: cpu1.self_pct_since(&cpu0),
        children_cpu_pct: cpu1.children_pct_since(&cpu0),
        peak_rss_kib: peak,
    })
}

/// A published run: its slot, its recorded start, and the time its command
/// printed (if it did), in nanoseconds since the epoch.
/// A run heard: its habit, its slot, its recorded start, when `date` ran.
type Seen = (String, i128, i128, Option<i128>);

/// `VmHWM` of a process, KiB.
fn peak_rss_kib(pid: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc status")
}

/// The nanoseconds `date +%s%N` printed.
fn printed_ns(bytes: &[u8]) -> Option<i128> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}
