//! The transport's floor for an upload (docs/benchmarks.md, "Upload"): how
//! fast bare Zenoh carries bytes from one process to another on this machine,
//! with nothing of tnet's around it (no files, no hashing, no disk, no host),
//! on each of tnet's two links: QUIC with mutual TLS (the secure default) and
//! plain TCP (`--insecure`).
//!
//! The client sends `--mib` MiB as queries of one chunk each (1 MiB, as
//! `tnet` sends), `--in-flight` at once (24: `tnet` keeps three files with
//! eight chunks each in flight), to a queryable in another process that
//! answers each with a few bytes, as the host answers a chunk. What it
//! prints, for each link, is the median time of the rounds and the CPU both
//! processes spent: a `tnet` upload of the same bytes cannot be faster than
//! its link's row, whatever the host does with them.
//!
//! `transport_floor [--mib N] [--rounds N] [--in-flight N]`
//! (`--server LINK PORT [FLEET]` is the receiving process, started by the
//! benchmark itself.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use tnet_fleet::{Fleet, Identity, Role, Validity};
use zenoh::bytes::ZBytes;

mod shared;
use shared::{free_port, loopback_session, serve_until_stdin_closes};
use tnet_fleet::zenoh::quic_client_inserts;

const KEY: &str = "bench/sink";
const CHUNK: usize = 1 << 20;

struct Options {
    mib: usize,
    rounds: usize,
    in_flight: usize,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new()?;
    if args.first().map(String::as_str) == Some("--server") {
        let link = args.get(1).context("--server LINK PORT [FLEET]")?;
        let port: u16 = args.get(2).context("--server LINK PORT")?.parse()?;
        return runtime.block_on(server(link, port, args.get(3).map(Path::new)));
    }
    let options = parse(&args)?;
    runtime.block_on(bench(options))
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        mib: 1024,
        rounds: 3,
        in_flight: 24,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || -> anyhow::Result<usize> {
            it.next()
                .with_context(|| format!("{flag} needs a number"))?
                .parse()
                .with_context(|| format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--mib" => options.mib = value()?,
            "--rounds" => options.rounds = value()?.max(1),
            "--in-flight" => options.in_flight = value()?.max(1),
            other => bail!(
                "unknown argument {other}: transport_floor [--mib N] [--rounds N] [--in-flight N]"
            ),
        }
    }
    Ok(options)
}

async fn bench(options: Options) -> anyhow::Result<()> {
    // A fleet of this run's own: an authority, the admin bundle, a host's.
    let dir = tempfile::tempdir()?;
    // A folder the fleet creates itself (it is written whole, then renamed into place).
    let fleet = Fleet::init(&dir.path().join("fleet")).map_err(|e| anyhow::anyhow!("{e}"))?;
    fleet
        .add(Role::Host, "sink", Validity::days(1))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "| {} MiB in 1 MiB queries, {} in flight | median time | MiB/s | CPU s, sender | CPU s, receiver | rounds (s) |",
        options.mib, options.in_flight
    );
    println!("|---|---:|---:|---:|---:|---|");
    for link in ["quic", "tcp"] {
        let port = free_port()?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["--server", link, &port.to_string()]);
        if link == "quic" {
            cmd.arg(fleet.bundle_dir(Role::Host, "sink"));
        }
        let mut server = Guard(cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?);
        let mut ready = String::new();
        BufReader::new(server.0.stdout.take().context("server stdout")?).read_line(&mut ready)?;
        anyhow::ensure!(
            ready.trim() == "ready",
            "the receiving process did not start"
        );
        let admin = (link == "quic").then(|| fleet.bundle_dir(Role::Admin, "admin"));
        let session = open(link, port, admin.as_deref(), false).await?;
        let querier = session
            .declare_querier(KEY)
            .timeout(Duration::from_secs(30))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // One small round first: the link is up and its window open.
        send(&querier, 16, options.in_flight).await?;
        let mut times = Vec::new();
        let mut sender_cpu = Vec::new();
        let mut receiver_cpu = Vec::new();
        for _ in 0..options.rounds {
            let (own0, other0) = (cpu_s("self")?, cpu_s(&server.0.id().to_string())?);
            let started = Instant::now();
            send(&querier, options.mib, options.in_flight).await?;
            times.push(started.elapsed().as_secs_f64());
            sender_cpu.push(cpu_s("self")? - own0);
            receiver_cpu.push(cpu_s(&server.0.id().to_string())? - other0);
        }
        drop(querier);
        let _ = session.close().await;
        let every: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
        let took = median(&times);
        println!(
            "| bare Zenoh, `{link}/`{} | {took:.3} s | {:.0} | {:.2} | {:.2} | {} |",
            if link == "quic" {
                " with mutual TLS (secure default)"
            } else {
                " (`--insecure`)"
            },
            options.mib as f64 / took,
            median(&sender_cpu),
            median(&receiver_cpu),
            every.join(" "),
        );
    }
    Ok(())
}

/// Sends `mib` chunks of 1 MiB, `in_flight` at once, each answered.
async fn send(
    querier: &zenoh::query::Querier<'_>,
    mib: usize,
    in_flight: usize,
) -> anyhow::Result<()> {
    // Random-looking bytes, as a file's would be; one buffer shared by all.
    let chunk = ZBytes::from(
        (0..CHUNK)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    );
    let answered = futures::stream::iter(0..mib)
        .map(|_| {
            let chunk = chunk.clone();
            async move {
                let replies = querier
                    .get()
                    .payload(chunk)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let reply = replies
                    .recv_async()
                    .await
                    .map_err(|_| anyhow::anyhow!("a chunk was not answered"))?;
                reply
                    .result()
                    .map(|_| ())
                    .map_err(|_| anyhow::anyhow!("a chunk was refused"))
            }
        })
        .buffer_unordered(in_flight)
        .collect::<Vec<_>>()
        .await;
    answered.into_iter().collect()
}

/// The receiving process: a queryable that answers every chunk with its length.
async fn server(link: &str, port: u16, bundle: Option<&Path>) -> anyhow::Result<()> {
    let session = open(link, port, bundle, true).await?;
    serve_until_stdin_closes(&session, KEY, |query| {
        query.payload().map_or(0, ZBytes::len).to_string().into()
    })
    .await
}

/// A session on `link` at `port` on loopback, with the TLS settings of
/// `bundle` (as `tnet` and the host use them).
async fn open(
    link: &str,
    port: u16,
    bundle: Option<&Path>,
    listen: bool,
) -> anyhow::Result<zenoh::Session> {
    let inserts = match bundle {
        Some(bundle) => {
            quic_client_inserts(&Identity::load(bundle).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        None => Vec::new(),
    };
    loopback_session(link, port, &inserts, listen).await
}

/// User and system CPU seconds of a process (`self` or a pid), from `/proc`.
fn cpu_s(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which ends with the last ')'.
    let rest = stat.rsplit_once(')').context("/proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    // USER_HZ, which Linux fixes at 100 for what it shows in /proc.
    Ok(ticks / 100.0)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Ends the receiving process when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
