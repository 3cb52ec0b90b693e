//! Benchmark of service calls (docs/benchmarks.md, "Services"); run it with
//! `scripts/bench-services.sh`, which builds it and starts the SSH server.
//!
//! In one run, against one real `tnet-host` on this machine:
//! - the round trip of a 64-byte call to a `cat` service through tnet's client
//!   library, next to a bare Zenoh query answered at once by another process
//!   (the floor) and to spawning `sh -c cat` here;
//! - the `tnet call` command end to end, the host found with no configured
//!   address (host cache; and by scouting alone, for reference), next to
//!   `ssh` to this machine running `cat` on a loopback OpenSSH server;
//! - the throughput of a 100 MiB input and of a 100 MiB output;
//! - warm services (docs/services.md): a 64-byte call to a warm echo worker
//!   (Python) next to the floor and to the cold `cat`; and the examples'
//!   model that loads for 2 s, warm (`examples/model-warm-service.toml`)
//!   next to its cold twin (`examples/model-cold-service.toml`).
//!
//! Prints a Markdown section on standard output.
//!
//! Measures the secure default (QUIC with mutual TLS; `TNET_IDENTITY` names
//! the admin bundle the host's first start creates in `TNET_FLEET`, and the
//! floor uses the same certificates), or plain TCP when `TNET_INSECURE=1`,
//! which the host and `tnet` read too. `scripts/bench-services.sh` runs both.
//!
//! `bench_services --bin-dir DIR [--ssh-port P --ssh-key FILE --ssh-user U] [--rounds N]`
//! (`--floor-server PORT` is the floor's other process, started by the benchmark itself).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tnet_cli::call::{CallOutcome, CallSpec, Caller};

mod shared;
use shared::{free_port, loopback_session, serve_until_stdin_closes};
use tnet_fleet::zenoh::quic_client_inserts;

const PAYLOAD: usize = 64;
const BIG: usize = 100 << 20;
const FLOOR_KEY: &str = "bench/floor";
/// Calls of the cold model, which loads for 2 s each time.
const COLD_MODEL_ROUNDS: usize = 5;

/// A warm worker that answers each call with its input (docs/services.md).
const ECHO_WORKER: &str = r#"import json, sys
out = sys.stdout.buffer
out.write(b'{"ready": true}\n')
out.flush()
for line in iter(sys.stdin.readline, ""):
    call = json.loads(line)
    with open(call["input"], "rb") as f:
        data = f.read()
    out.write(b'{"id": %d, "len": %d}\n' % (call["id"], len(data)) + data)
    out.flush()
"#;

struct Options {
    bin_dir: PathBuf,
    ssh: Option<Ssh>,
    rounds: usize,
}

struct Ssh {
    port: u16,
    key: PathBuf,
    user: String,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let [flag, port] = args.as_slice() {
        if flag == "--floor-server" {
            return runtime.block_on(floor_server(port.parse()?));
        }
    }
    let options = parse(&args)?;
    runtime.block_on(bench(options))
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut bin_dir = None;
    let (mut port, mut key, mut user) = (None, None, None);
    let mut rounds = 200;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("a flag without its value");
        match flag.as_str() {
            "--bin-dir" => bin_dir = Some(PathBuf::from(value()?)),
            "--ssh-port" => port = Some(value()?.parse()?),
            "--ssh-key" => key = Some(PathBuf::from(value()?)),
            "--ssh-user" => user = Some(value()?.clone()),
            "--rounds" => rounds = value()?.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    let ssh = match (port, key) {
        (Some(port), Some(key)) => Some(Ssh {
            port,
            key,
            user: user.unwrap_or_else(|| "root".to_owned()),
        }),
        _ => None,
    };
    Ok(Options {
        bin_dir: bin_dir.context("--bin-dir DIR (where tnet and tnet-host are built)")?,
        ssh,
        rounds,
    })
}

/// A bare Zenoh queryable that answers every query at once with its payload.
async fn floor_server(port: u16) -> anyhow::Result<()> {
    let (link, inserts) = link()?;
    let session = loopback_session(link, port, &inserts, true).await?;
    serve_until_stdin_closes(&session, FLOOR_KEY, |query| {
        query.payload().cloned().unwrap_or_default()
    })
    .await
}

fn insecure() -> bool {
    std::env::var("TNET_INSECURE")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// The link of this run's sessions and its TLS settings: `quic/` with the
/// `TNET_IDENTITY` bundle on the secure default, plain `tcp/` with `TNET_INSECURE=1`.
fn link() -> anyhow::Result<(&'static str, Vec<(String, String)>)> {
    if insecure() {
        return Ok(("tcp", Vec::new()));
    }
    let dir = std::env::var_os(tnet_fleet::ENV_IDENTITY)
        .context("TNET_IDENTITY: the secure default needs the fleet's admin bundle")?;
    let identity = tnet_fleet::Identity::load(Path::new(&dir))
        .map_err(|e| anyhow::anyhow!("identity {}: {e}", Path::new(&dir).display()))?;
    Ok(("quic", quic_client_inserts(&identity)))
}

/// Kills a child process when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SIGTERM, so a host ends its tasks' processes.
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.0.wait();
    }
}

async fn bench(options: Options) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let tnet = options.bin_dir.join("tnet");
    let host_bin = options.bin_dir.join("tnet-host");
    let name = format!("bench-{}", std::process::id());
    let port = free_port()?;
    let local = format!("tcp/127.0.0.1:{port}");
    // Default host settings: listens on every interface and scouts, so
    // `tnet call` can find it without an address.
    let spawn_host = || -> anyhow::Result<Guard> {
        Ok(Guard(
            Command::new(&host_bin)
                .args(["--name", &name, "--home"])
                .arg(work.path().join("tasks"))
                .args(["-l", &format!("tcp/0.0.0.0:{port}")])
                .env("RUST_LOG", "warn")
                .env_remove("TNET_CONNECT")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(work.path().join("host.log"))?,
                )
                .spawn()
                .context("start tnet-host")?,
        ))
    };
    let mut host = spawn_host()?;
    let cat = format!("cat-{}", std::process::id());
    let services = [
        (cat.clone(), "cat".to_owned()),
        ("swallow".to_owned(), "wc -c".to_owned()),
        ("spill".to_owned(), format!("head -c {BIG} /dev/zero")),
    ];
    // A secure host's first start with a new fleet can exit at once, its
    // QUIC port "already in use" when the gate reopens (seen in this
    // benchmark): started again, it keeps running.
    let mut restarts = 0;
    wait_for(
        || {
            if let Ok(Some(status)) = host.0.try_wait() {
                restarts += 1;
                eprintln!("tnet-host exited ({status}) before answering; starting it again");
                match spawn_host() {
                    // Already reaped: no `kill` of a pid that may be reused.
                    Ok(h) => std::mem::forget(std::mem::replace(&mut host, h)),
                    Err(_) => return false,
                }
            }
            tnet_ok(&tnet, &local, &["hosts"])
        },
        "the host answers",
    )?;
    if restarts > 0 {
        let log = std::fs::read_to_string(work.path().join("host.log")).unwrap_or_default();
        eprintln!("host log before it answered:\n{log}");
    }
    std::fs::write(work.path().join("echo.py"), ECHO_WORKER)?;
    let mut files: Vec<PathBuf> = Vec::new();
    for (service, command) in &services {
        let file = work.path().join(format!("{service}.toml"));
        std::fs::write(
            &file,
            format!(
                "task_name = \"{service}\"\ntask_type = \"service\"\ncommands = [\"{command}\"]\n"
            ),
        )?;
        files.push(file);
    }
    let warm_echo = work.path().join("warm-echo.toml");
    std::fs::write(
        &warm_echo,
        "task_name = \"warm-echo\"\ntask_type = \"service\"\ncommands = [\"python3 echo.py\"]\n\
         necessary_files = [\"echo.py\"]\n[service_details]\nwarm = true\n",
    )?;
    files.push(warm_echo);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    files.push(examples.join("model-warm-service.toml"));
    files.push(examples.join("model-cold-service.toml"));
    for file in &files {
        let path = file.to_string_lossy().into_owned();
        // Named: another host on this machine or LAN (the README's
        // scripts/try.sh leaves one up) is found too, and `run` would not
        // know which to pick.
        if !tnet_ok(&tnet, &local, &["run", "--host", &name, &path]) {
            bail!("cannot submit {path}");
        }
    }
    wait_for(
        || {
            let out = Command::new(&tnet)
                .args(["--connect", &local, "ls", "--json"])
                .output();
            // Only this benchmark's host: others may have services of their own.
            out.is_ok_and(|o| {
                serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok_and(|tasks| {
                    tasks.as_array().is_some_and(|tasks| {
                        tasks
                            .iter()
                            .filter(|t| t["host"] == name.as_str() && t["state"] == "ready")
                            .count()
                            == files.len()
                    })
                })
            })
        },
        "the services are ready",
    )?;
    wait_for(
        || {
            let out = Command::new(&tnet)
                .args(["--connect", &local, "services", "--json"])
                .output();
            out.is_ok_and(|o| {
                serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok_and(|list| {
                    let ready = |s: &serde_json::Value| {
                        s["warm"]["workers"]
                            .as_array()
                            .is_some_and(|w| w.iter().all(|w| w["state"] == "ready"))
                    };
                    list.as_array().is_some_and(|list| {
                        list.iter()
                            .filter(|s| s["host"] == name.as_str() && ready(s))
                            .count()
                            == 2
                    })
                })
            })
        },
        "the warm workers are ready",
    )?;
    let input = pseudo_text(PAYLOAD);
    let rounds = options.rounds;
    let mut report = Report::default();
    println!(
        "{}",
        if insecure() {
            "Mode: `--insecure` (plain TCP, no certificates)."
        } else {
            "Mode: the secure default (QUIC with mutual TLS, through the host's gate; the floor on QUIC with the same certificates)."
        }
    );
    println!();

    // The floor: a bare Zenoh query to a queryable in another process.
    let floor_port = free_port()?;
    let mut floor = Command::new(std::env::current_exe()?)
        .args(["--floor-server", &floor_port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    {
        let mut line = String::new();
        let mut out = std::io::BufReader::new(floor.stdout.take().context("floor stdout")?);
        std::io::BufRead::read_line(&mut out, &mut line)?;
    }
    let floor_session = open_connected(floor_port).await?;
    let querier = floor_session
        .declare_querier(FLOOR_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tnet_cli::settle::wait_for_match(&querier, Duration::from_secs(5)).await;
    let mut floor_times = Vec::with_capacity(rounds);
    for i in 0..rounds + 10 {
        let elapsed = floor_query(&floor_session, &input).await?;
        if i >= 10 {
            floor_times.push(elapsed);
        }
    }
    report.row(
        "bare Zenoh query, 64 B, answered at once (floor)",
        &floor_times,
    );

    // tnet's client library: one session, calls of `cat` with 64 bytes.
    let session = open_connected(port).await?;
    let caller = Caller::new(&session).await?;
    anyhow::ensure!(
        tnet_cli::call::host_offers(&session, &name, &cat, Duration::from_secs(5)).await?,
        "the host does not offer {cat}"
    );
    let spec = CallSpec {
        service: cat.clone(),
        ..CallSpec::default()
    };
    let mut lib_times = Vec::with_capacity(rounds);
    for i in 0..rounds + 10 {
        let mut got = Vec::new();
        let t = Instant::now();
        let outcome = caller
            .call(&name, &spec, input.clone(), &mut |b| {
                got.extend_from_slice(b);
                Ok(())
            })
            .await?;
        let elapsed = t.elapsed();
        anyhow::ensure!(matches!(outcome, CallOutcome::Done(ref e) if e.success()));
        anyhow::ensure!(got == input, "cat answered something else");
        if i >= 10 {
            lib_times.push(elapsed);
        }
    }
    report.row("call of `cat`, 64 B, tnet client library", &lib_times);

    // The host's own cheapest answer on the same path as a call (on the
    // secure default: through its gate, one hop more than the floor): a
    // `services` request, answered from memory by a task of its own.
    let request = tnet_proto::msg::encode(&tnet_proto::msg::RequestEnvelope {
        version: tnet_proto::msg::PROTOCOL_VERSION,
        request: tnet_proto::msg::Request::Services,
    });
    let control = tnet_proto::keys::host_control(&name);
    let mut request_times = Vec::with_capacity(rounds);
    for i in 0..rounds + 10 {
        let t = Instant::now();
        let replies = session
            .get(&control)
            .payload(request.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let reply = replies
            .recv_async()
            .await
            .map_err(|e| anyhow::anyhow!("services request: {e}"))?;
        anyhow::ensure!(reply.result().is_ok(), "the services request failed");
        if i >= 10 {
            request_times.push(t.elapsed());
        }
    }
    report.row(
        "`services` request to the host, library (its own request path, no call)",
        &request_times,
    );

    // The same through a warm worker (a Python echo), and the 2 s model.
    let warm_times = timed_calls(&caller, &name, "warm-echo", &input, rounds, 10, |got| {
        got == input.as_slice()
    })
    .await?;
    report.row(
        "call of a warm echo worker (Python), 64 B, tnet client library",
        &warm_times,
    );
    // The same two in turn, one floor query then one warm call, so that
    // both see the same moments of a machine whose load changes.
    let mut floor_turns = Vec::with_capacity(rounds);
    let mut warm_turns = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        floor_turns.push(floor_query(&floor_session, &input).await?);
        let warm = timed_calls(&caller, &name, "warm-echo", &input, 1, 0, |got| {
            got == input.as_slice()
        })
        .await?;
        warm_turns.extend(warm);
    }
    drop(querier);
    let _ = floor_session.close().await;
    drop(floor.stdin.take());
    let _ = floor.wait();
    report.row(
        "in turn with the next row: bare Zenoh query (floor)",
        &floor_turns,
    );
    report.row(
        "in turn with the previous row: warm echo call, library",
        &warm_turns,
    );
    let model_ok = |got: &[u8]| got.ends_with(b"(64 bytes)\n");
    let model_rounds = rounds.min(50);
    let warm_model = timed_calls(
        &caller,
        &name,
        "model-warm",
        &input,
        model_rounds,
        3,
        model_ok,
    )
    .await?;
    let cold_model = timed_calls(
        &caller,
        &name,
        "model-cold",
        &input,
        COLD_MODEL_ROUNDS,
        0,
        model_ok,
    )
    .await?;
    report.row(
        "call of `model-warm` (2 s load, loaded once), 64 B, library",
        &warm_model,
    );
    report.row(
        "call of `model-cold` (2 s load on every call), 64 B, library",
        &cold_model,
    );

    // The same process spawned here.
    let mut spawn_times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let out = run_with_input(Command::new("sh").args(["-c", "cat"]), &input)?;
        spawn_times.push(t.elapsed());
        anyhow::ensure!(out == input);
    }
    report.row("`sh -c cat` spawned locally, 64 B", &spawn_times);

    // Throughput, through the library.
    let big: Vec<u8> = pseudo_text(BIG);
    let mut in_times = Vec::new();
    for _ in 0..3 {
        let mut got = Vec::new();
        let t = Instant::now();
        caller
            .call(
                &name,
                &CallSpec {
                    service: "swallow".into(),
                    ..CallSpec::default()
                },
                big.clone(),
                &mut |b| {
                    got.extend_from_slice(b);
                    Ok(())
                },
            )
            .await?;
        in_times.push(t.elapsed());
        anyhow::ensure!(String::from_utf8_lossy(&got).trim() == BIG.to_string());
    }
    let mut out_times = Vec::new();
    for _ in 0..3 {
        let mut bytes = 0usize;
        let t = Instant::now();
        caller
            .call(
                &name,
                &CallSpec {
                    service: "spill".into(),
                    ..CallSpec::default()
                },
                Vec::new(),
                &mut |b| {
                    bytes += b.len();
                    Ok(())
                },
            )
            .await?;
        out_times.push(t.elapsed());
        anyhow::ensure!(bytes == BIG);
    }
    drop(caller);
    let _ = session.close().await;

    // The command line, end to end, with no address: host cache, then scouting alone.
    let cache = work.path().join("cache");
    let input_file = work.path().join("input64");
    std::fs::write(&input_file, &input)?;
    let call_args = ["call", &cat, "--input", &input_file.to_string_lossy()];
    let tnet_call = || -> anyhow::Result<Duration> {
        let mut cmd = Command::new(&tnet);
        cmd.args(call_args)
            .env("XDG_CACHE_HOME", &cache)
            .env_remove("TNET_CONNECT")
            .stdin(Stdio::null());
        let t = Instant::now();
        let out = cmd.output()?;
        let elapsed = t.elapsed();
        anyhow::ensure!(
            out.status.success() && out.stdout == input,
            "tnet call failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(elapsed)
    };
    let cli_rounds = (rounds / 4).max(10);
    let mut scout_times = Vec::new();
    for _ in 0..cli_rounds.min(20) {
        let _ = std::fs::remove_dir_all(&cache);
        scout_times.push(tnet_call()?);
    }
    let mut cache_times = Vec::new();
    tnet_call()?; // remembers the host
    for _ in 0..cli_rounds {
        cache_times.push(tnet_call()?);
    }
    report.row(
        "`tnet call` command, host from the cache (no address given)",
        &cache_times,
    );
    report.row(
        "`tnet call` command, host found by scouting (no cache)",
        &scout_times,
    );

    if let Some(ssh) = &options.ssh {
        let mut ssh_times = Vec::new();
        for _ in 0..cli_rounds {
            let mut cmd = Command::new("ssh");
            cmd.args(["-p", &ssh.port.to_string(), "-i"])
                .arg(&ssh.key)
                .args([
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "LogLevel=ERROR",
                    &format!("{}@127.0.0.1", ssh.user),
                    "cat",
                ]);
            let t = Instant::now();
            let out = run_with_input(&mut cmd, &input)?;
            ssh_times.push(t.elapsed());
            anyhow::ensure!(out == input, "ssh cat answered something else");
        }
        report.row(
            "`ssh localhost cat` (OpenSSH on loopback), 64 B",
            &ssh_times,
        );
        report.ratio(
            "`ssh localhost cat` / `tnet call` (cache)",
            median(&ssh_times),
            median(&cache_times),
        );
    }
    report.ratio(
        "library call / floor",
        median(&lib_times),
        median(&floor_times),
    );
    report.ratio(
        "library call / local spawn",
        median(&lib_times),
        median(&spawn_times),
    );
    report.ratio(
        "warm echo call / floor (goal ≤ 3×)",
        median(&warm_times),
        median(&floor_times),
    );
    report.ratio(
        "warm echo call / floor, measured in turn (goal ≤ 3×)",
        median(&warm_turns),
        median(&floor_turns),
    );
    report.ratio(
        "warm echo call / `services` request",
        median(&warm_times),
        median(&request_times),
    );
    report.ratio(
        "cold `cat` call / warm echo call",
        median(&lib_times),
        median(&warm_times),
    );
    report.ratio(
        "`model-cold` / `model-warm`",
        median(&cold_model),
        median(&warm_model),
    );
    report.throughput("100 MiB input (payload → `wc -c`), library", &in_times);
    report.throughput(
        "100 MiB output (`head -c 100M /dev/zero` → caller), library",
        &out_times,
    );
    report.print(rounds, cli_rounds, options.ssh.is_some());
    Ok(())
}

/// Times one bare Zenoh query to the floor's queryable, answer checked.
async fn floor_query(session: &zenoh::Session, input: &[u8]) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let replies = session
        .get(FLOOR_KEY)
        .payload(input.to_vec())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let reply = replies
        .recv_async()
        .await
        .map_err(|e| anyhow::anyhow!("floor: {e}"))?;
    let elapsed = t.elapsed();
    let got = reply.result().map_err(|_| anyhow::anyhow!("floor error"))?;
    anyhow::ensure!(got.payload().to_bytes() == input);
    Ok(elapsed)
}

/// Times `rounds` calls of `service` with `input` (after `warmup` untimed
/// ones), each answer checked by `good`.
async fn timed_calls(
    caller: &Caller<'_>,
    host: &str,
    service: &str,
    input: &[u8],
    rounds: usize,
    warmup: usize,
    good: impl Fn(&[u8]) -> bool,
) -> anyhow::Result<Vec<Duration>> {
    let spec = CallSpec {
        service: service.to_owned(),
        ..CallSpec::default()
    };
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds + warmup {
        let mut got = Vec::new();
        let t = Instant::now();
        let outcome = caller
            .call(host, &spec, input.to_vec(), &mut |b| {
                got.extend_from_slice(b);
                Ok(())
            })
            .await?;
        let elapsed = t.elapsed();
        anyhow::ensure!(
            matches!(outcome, CallOutcome::Done(ref e) if e.success()),
            "{service} failed: {outcome:?}"
        );
        anyhow::ensure!(
            good(&got),
            "{service} answered {:?}",
            String::from_utf8_lossy(&got)
        );
        if i >= warmup {
            times.push(elapsed);
        }
    }
    Ok(times)
}

/// A session connected to `port` on loopback only, as the library's users
/// would open one.
async fn open_connected(port: u16) -> anyhow::Result<zenoh::Session> {
    let (link, inserts) = link()?;
    loopback_session(link, port, &inserts, false).await
}

fn tnet_ok(tnet: &Path, endpoint: &str, args: &[&str]) -> bool {
    Command::new(tnet)
        .args(["--connect", endpoint])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_for(mut check: impl FnMut() -> bool, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("timed out waiting until {what}")
}

fn run_with_input(cmd: &mut Command, input: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(input)?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(out.status.success(), "{cmd:?} failed");
    Ok(out.stdout)
}

/// Printable bytes, so `cat` and `wc` see ordinary text.
fn pseudo_text(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i * 7 % 26) as u8).collect()
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[derive(Default)]
struct Report {
    rows: Vec<String>,
    ratios: Vec<String>,
    throughput: Vec<String>,
}

impl Report {
    fn row(&mut self, what: &str, times: &[Duration]) {
        self.rows.push(format!(
            "| {what} | {} | {} | {} |",
            ms(median(times)),
            ms(percentile(times, 90)),
            times.len()
        ));
    }

    fn ratio(&mut self, what: &str, a: Duration, b: Duration) {
        let ratio = a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        self.ratios.push(format!("| {what} | {ratio:.1}× |"));
    }

    fn throughput(&mut self, what: &str, times: &[Duration]) {
        let mib = (BIG >> 20) as f64;
        let median = median(times);
        self.throughput.push(format!(
            "| {what} | {:.0} | {:.0} MiB/s |",
            median.as_secs_f64() * 1000.0,
            mib / median.as_secs_f64()
        ));
    }

    fn print(&self, rounds: usize, cli_rounds: usize, ssh: bool) {
        println!("| what | median ms | p90 ms | runs |");
        println!("|---|---:|---:|---:|");
        for r in &self.rows {
            println!("{r}");
        }
        println!();
        println!("| ratio (medians) | |");
        println!("|---|---:|");
        for r in &self.ratios {
            println!("{r}");
        }
        println!();
        println!("| transfer (median of 3) | ms | rate |");
        println!("|---|---:|---:|");
        for t in &self.throughput {
            println!("{t}");
        }
        println!();
        println!(
            "Library rounds: {rounds} after 10 warm-up calls; command-line rounds: {cli_rounds}{}.",
            if ssh {
                ""
            } else {
                " (no SSH server given: ssh not measured)"
            }
        );
    }
}
