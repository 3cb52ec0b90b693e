//! Benchmark of `tnet ui`'s own cost (docs/benchmarks.md, "tnet ui"); run it
//! with `scripts/bench-ui.sh`.
//!
//! A fleet of 10 hosts × 100 tasks is played by one process here: for each
//! host, its liveliness token and a control queryable that answers `tnet ls`
//! and `tnet hosts` with the real message types, and each task's events
//! published on its real key at a steady rate (the fabric's traffic as hosts
//! make it, without 1000 processes competing with the dashboard for the CPU).
//! The real `tnet ui` (and, as the baseline, the real `tnet events`) runs
//! against it on plain TCP; the dashboard has 1 or 10 pages open, read as a
//! browser reads their live stream. Its CPU and memory come from `/proc`.
//!
//! Prints a Markdown section on standard output.
//!
//! `ui_bench --bin-dir DIR [--seconds N] [--rate EVENTS_PER_SECOND]`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tnet_proto::keys;
use tnet_proto::msg::{
    self, Event, EventKind, HostInfo, Request, RequestEnvelope, Response, ResponseEnvelope,
    TaskState, TaskSummary, PROTOCOL_VERSION,
};

const HOSTS: usize = 10;
const TASKS: usize = 100;

struct Options {
    bin_dir: PathBuf,
    seconds: u64,
    rate: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let mut opts = Options {
        bin_dir: PathBuf::new(),
        seconds: 20,
        rate: 1000,
    };
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--bin-dir" => opts.bin_dir = PathBuf::from(value),
            "--seconds" => opts.seconds = value.parse()?,
            "--rate" => opts.rate = value.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    if opts.bin_dir.as_os_str().is_empty() {
        bail!("usage: ui_bench --bin-dir DIR [--seconds N] [--rate EVENTS_PER_SECOND]");
    }
    Ok(opts)
}

fn host_name(h: usize) -> String {
    format!("bench-{h:02}")
}

fn task_name(t: usize) -> String {
    format!("task-{t:03}")
}

/// One host's answer to `tnet ls`.
fn tasks_of(host: &str) -> Vec<TaskSummary> {
    (0..TASKS)
        .map(|t| TaskSummary {
            host: host.to_owned(),
            name: task_name(t),
            task_type: if t % 2 == 0 { "daemon" } else { "habit" }.to_owned(),
            state: TaskState::Running,
            pid: Some(1000 + u32::try_from(t).unwrap_or(0)),
            restarts: 0,
            last_run: Some("2026-12-01T10:00:00.000Z".to_owned()),
            next_run: None,
            exit_code: None,
        })
        .collect()
}

/// Plays the fleet: tokens, queryables, and events at `rate` per second until `stop`.
async fn fleet(
    session: zenoh::Session,
    rate: u64,
    sent: Arc<AtomicU64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut keep = Vec::new();
    for h in 0..HOSTS {
        let host = host_name(h);
        let token = session
            .liveliness()
            .declare_token(keys::host_alive(&host))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = host.clone();
        let queryable = session
            .declare_queryable(keys::host_control(&host))
            .callback(move |query| {
                let Some(payload) = query.payload() else {
                    return;
                };
                let Ok(env) = msg::decode::<RequestEnvelope>(&payload.to_bytes()) else {
                    return;
                };
                let response = match env.request {
                    Request::List => Response::Tasks {
                        tasks: tasks_of(&name),
                    },
                    Request::HostInfo => Response::HostInfo(HostInfo {
                        host: name.clone(),
                        version: "bench".to_owned(),
                        tasks: TASKS,
                        bytes_received: 0,
                        ssh: None,
                        addresses: vec!["tcp/127.0.0.1:1".to_owned()],
                        docker: false,
                        insecure: true,
                        roster_version: None,
                        disk: None,
                    }),
                    _ => return,
                };
                let reply = ResponseEnvelope {
                    version: PROTOCOL_VERSION,
                    host: name.clone(),
                    response,
                };
                use zenoh::Wait;
                let _ = query
                    .reply(keys::host_control(&name), msg::encode(&reply))
                    .wait();
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        keep.push((token, queryable));
    }
    let mut publishers = Vec::new();
    for h in 0..HOSTS {
        for t in 0..TASKS {
            let p = session
                .declare_publisher(keys::task_event(&host_name(h), &task_name(t)))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            publishers.push((host_name(h), task_name(t), p));
        }
    }
    if rate == 0 {
        let _ = stop.changed().await;
        return Ok(());
    }
    // Events in ticks of 10 ms, so the flow is steady rather than a burst a second.
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut next = 0usize;
    let mut run = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return Ok(()),
        }
        for _ in 0..per_tick {
            let (host, task, publisher) = &publishers[next % publishers.len()];
            next += 1;
            run += 1;
            let kind = if run % 2 == 0 {
                EventKind::Succeeded
            } else {
                EventKind::Failed
            };
            let event = Event {
                host: host.clone(),
                task: task.clone(),
                task_type: "habit".to_owned(),
                kind,
                state: if run % 2 == 0 {
                    TaskState::Scheduled
                } else {
                    TaskState::Failed
                },
                run: Some(run),
                exit_code: Some(i32::from(run % 2 == 1)),
                message: format!("run {run} ended"),
                reason: None,
                time: chrono::Utc::now().to_rfc3339(),
            };
            let _ = publisher.put(msg::encode(&event)).await;
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// CPU seconds (user + system) a process used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

/// A `VmRSS`-style field of `/proc/<pid>/status`, in MiB.
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A page's live stream, read as a browser reads it; counts the updates.
fn open_page(base: &str, cookie: &str, received: Arc<AtomicU64>) -> anyhow::Result<()> {
    let address = base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address)?;
    write!(
        stream,
        "GET /live HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )?;
    std::thread::spawn(move || {
        let reader = BufReader::new(stream);
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if line == "event: task" {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok(())
}

/// What one scenario measured.
struct Figures {
    cpu_percent: f64,
    rss_mib: f64,
    peak_mib: f64,
    delivered_per_page: f64,
    sent_per_second: f64,
}

/// Runs `child` (already started) for `seconds` while the fleet sends, with `pages` open.
fn measure(
    pid: u32,
    seconds: u64,
    sent: &AtomicU64,
    received: &AtomicU64,
    pages: usize,
) -> Figures {
    // Settle first: the session connected, the first page rendered.
    std::thread::sleep(Duration::from_secs(2));
    let (cpu0, sent0, got0, t0) = (
        cpu_seconds(pid),
        sent.load(Ordering::Relaxed),
        received.load(Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(seconds));
    let wall = t0.elapsed().as_secs_f64();
    Figures {
        cpu_percent: (cpu_seconds(pid) - cpu0) / wall * 100.0,
        rss_mib: memory_mib(pid, "VmRSS:"),
        peak_mib: memory_mib(pid, "VmHWM:"),
        delivered_per_page: (received.load(Ordering::Relaxed) - got0) as f64
            / wall
            / pages.max(1) as f64,
        sent_per_second: (sent.load(Ordering::Relaxed) - sent0) as f64 / wall,
    }
}

/// `tnet` with plain TCP to the fleet's endpoint, scouting off.
fn tnet(opts: &Options, endpoint: &str) -> Command {
    let mut cmd = Command::new(opts.bin_dir.join("tnet"));
    cmd.args(["--insecure", "--no-multicast-scouting", "-e", endpoint])
        .env_remove("TNET_CONNECT")
        .stdin(Stdio::null());
    cmd
}

/// Starts `tnet ui`; returns it, its base URL and the cookie a browser would hold.
fn start_ui(opts: &Options, endpoint: &str) -> anyhow::Result<(Child, String, String)> {
    let mut child = tnet(opts, endpoint)
        .args(["ui", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start tnet ui")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("tnet ui: ")
        .with_context(|| format!("not a URL: {line}"))?;
    let (base, token) = url.split_once("/?token=").context("no token")?;
    let port = base.rsplit(':').next().context("no port")?;
    Ok((child, base.to_owned(), format!("tnet_ui_{port}={token}")))
}

/// Loads `/tasks` (1000 rows): how long the page takes.
fn load_tasks_page(base: &str, cookie: &str) -> anyhow::Result<(Duration, usize)> {
    let address = base.trim_start_matches("http://");
    let started = Instant::now();
    let mut stream = TcpStream::connect(address)?;
    write!(
        stream,
        "GET /tasks HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )?;
    let mut page = String::new();
    stream.read_to_string(&mut page)?;
    let rows = page.matches("<tr data-task=").count();
    Ok((started.elapsed(), rows))
}

fn main() -> anyhow::Result<()> {
    let opts = options()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let mut config = zenoh::Config::default();
    for (key, value) in [
        ("mode", "\"peer\"".to_owned()),
        ("listen/endpoints", format!("[\"{endpoint}\"]")),
        ("scouting/multicast/enabled", "false".to_owned()),
    ] {
        config
            .insert_json5(key, &value)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let session = runtime
        .block_on(async { zenoh::open(config).await })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sent = Arc::new(AtomicU64::new(0));

    let mut rows = Vec::new();
    // Idle, then events flowing with 1 and 10 pages open, then the baseline.
    for (label, events, pages) in [
        ("tnet ui, no events, 1 page", 0, 1usize),
        ("tnet ui, 1 page", opts.rate, 1),
        ("tnet ui, 10 pages", opts.rate, 10),
    ] {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let feeder = runtime.spawn(fleet(session.clone(), events, sent.clone(), stop_rx));
        let (mut child, base, cookie) = start_ui(&opts, &endpoint)?;
        let (took, listed) = load_tasks_page(&base, &cookie)?;
        let received = Arc::new(AtomicU64::new(0));
        for _ in 0..pages {
            open_page(&base, &cookie, received.clone())?;
        }
        let f = measure(child.id(), opts.seconds, &sent, &received, pages);
        rows.push(format!(
            "| {label} | {:.0} | {:.1} % | {:.1} MiB | {:.1} MiB | {:.0} | {} rows in {} ms |",
            f.sent_per_second,
            f.cpu_percent,
            f.rss_mib,
            f.peak_mib,
            f.delivered_per_page,
            listed,
            took.as_millis()
        ));
        let _ = child.kill();
        let _ = child.wait();
        let _ = stop_tx.send(true);
        let _ = runtime.block_on(feeder);
    }
    // The baseline: the CLI following the same events, printing them.
    {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let feeder = runtime.spawn(fleet(session.clone(), opts.rate, sent.clone(), stop_rx));
        let mut child = tnet(&opts, &endpoint)
            .args(["events", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start tnet events")?;
        let nothing = AtomicU64::new(0);
        let f = measure(child.id(), opts.seconds, &sent, &nothing, 0);
        rows.push(format!(
            "| `tnet events --json` (baseline) | {:.0} | {:.1} % | {:.1} MiB | {:.1} MiB | - | - |",
            f.sent_per_second, f.cpu_percent, f.rss_mib, f.peak_mib
        ));
        let _ = child.kill();
        let _ = child.wait();
        let _ = stop_tx.send(true);
        let _ = runtime.block_on(feeder);
    }
    println!(
        "{HOSTS} hosts × {TASKS} tasks, events for {} s per row (CPU: share of one core; memory: resident now / peak)\n",
        opts.seconds
    );
    println!(
        "| process | events/s sent | CPU | memory | peak | updates/s per page | `/tasks` page |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    std::io::stdout().flush()?;
    Ok(())
}
