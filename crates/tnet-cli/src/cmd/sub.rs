//! `tnet sub <habit>...`: each run's output as it is published (SPEC 7.2).
//!
//! Raw output goes to stdout byte for byte, so `tnet sub price | grep x`
//! works; `--json` prints one line per run with its metadata instead. A
//! plain `name` follows that habit on every host that has it (now or later),
//! `host/name` one host's. With `--last N` the subscription starts first and
//! the hosts' histories are read after, so no run falls between the two; a
//! run seen in both is printed once (runs are numbered per host and habit).
//! Ctrl-C (or SIGTERM) undeclares the subscriptions and exits 0; a closed
//! pipe ends it quietly.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;
use futures::StreamExt;
use serde::Serialize;
use tnet_proto::keys;
use tnet_proto::msg::{self, HabitRun, Request, Response, TaskSummary};
use tnet_proto::task::problems::did_you_mean_hint;
use tnet_proto::task::{safe_name, TaskType};
use zenoh::qos::CongestionControl;
use zenoh::query::ConsolidationMode;
use zenoh::sample::Sample;

use crate::args::SubArgs;
use crate::client::Client;
use crate::settle::wait_for_match;
use crate::target;

/// How long to wait for a host's history queryable to be heard of.
const DISCOVERY_WAIT: Duration = Duration::from_secs(2);

/// One habit the user named, and the hosts that have it now.
struct Wanted {
    /// What the subscription listens on: one host's key, or every host's.
    key: String,
    /// `(host, task name)` of each habit found, for the history.
    found: Vec<(String, String)>,
}

/// A run as `--json` prints it: its metadata and its output.
#[derive(Serialize)]
struct JsonRun<'a> {
    #[serde(flatten)]
    run: &'a HabitRun,
    /// The output as text (invalid UTF-8 replaced).
    output: String,
    /// The exact bytes, only when the output is not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    output_base64: Option<String>,
}

/// Subscribes to habits until Ctrl-C.
pub async fn run(client: &Client, args: SubArgs) -> anyhow::Result<u8> {
    let wanted = find_habits(client, &args.habits).await?;
    let mut subscribers = Vec::new();
    for w in &wanted {
        let sub = client
            .session
            .declare_subscriber(w.key.as_str())
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to {}: {e}", w.key))?;
        subscribers.push(sub);
    }
    // The newest run the history printed per (host, task): live samples up to
    // it are repeats, and the first one past it ends the join for that habit.
    let mut joins: HashMap<(String, String), u64> = HashMap::new();
    if let Some(n) = args.last {
        // Every host at once: a habit on 200 hosts is 200 round trips.
        let reads = wanted
            .iter()
            .flat_map(|w| &w.found)
            .map(|(host, task)| read_history(client, host, task, n));
        let mut history = Vec::new();
        for runs in futures::future::try_join_all(reads).await? {
            history.extend(runs);
        }
        history.sort_by(|a, b| a.0.started.cmp(&b.0.started));
        for (meta, bytes) in history {
            print_run(&meta, &bytes, args.json)?;
            let newest = joins.entry((meta.host, meta.task)).or_insert(0);
            *newest = (*newest).max(meta.number);
        }
    }
    let mut live = futures::stream::select_all(subscribers.iter().map(|s| s.stream()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            sample = live.next() => {
                let Some(sample) = sample else { break };
                let Some((meta, bytes)) = decode(&sample) else { continue };
                let habit = (meta.host.clone(), meta.task.clone());
                if let Some(&newest) = joins.get(&habit) {
                    if meta.number <= newest {
                        continue;
                    }
                    joins.remove(&habit);
                }
                print_run(&meta, &bytes, args.json)?;
            }
            _ = &mut ctrl_c => break,
            _ = term.recv() => break,
        }
    }
    drop(live);
    for sub in subscribers {
        let _ = sub.undeclare().await;
    }
    Ok(0)
}

/// Checks that each named habit exists, and where.
async fn find_habits(client: &Client, names: &[String]) -> anyhow::Result<Vec<Wanted>> {
    let answers = client.ask(None, Request::List).await?;
    if answers.is_empty() {
        bail!("{}", client.no_host_hint());
    }
    let mut tasks: Vec<TaskSummary> = Vec::new();
    for env in answers {
        if let Response::Tasks { tasks: t } = env.response {
            tasks.extend(t);
        }
    }
    let mut wanted = Vec::new();
    for spec in names {
        let (host, name) = target::split(spec);
        let matching: Vec<&TaskSummary> = tasks
            .iter()
            .filter(|t| t.name == name || safe_name(&t.name) == name)
            .filter(|t| host.is_none_or(|h| t.host == h))
            .collect();
        if matching.is_empty() {
            let habits: Vec<&str> = tasks
                .iter()
                .filter(|t| t.task_type == TaskType::Habit.as_str())
                .filter(|t| host.is_none_or(|h| t.host == h))
                .map(|t| t.name.as_str())
                .collect();
            let hint = did_you_mean_hint(name, &habits);
            match host {
                Some(h) => bail!(
                    "host `{h}` has no habit `{name}` (or is not up){hint}; `tnet ls` lists the tasks"
                ),
                None => bail!("no host has a habit named `{name}`{hint}; `tnet ls` lists the tasks"),
            }
        }
        if let Some(other) = matching
            .iter()
            .find(|t| t.task_type != TaskType::Habit.as_str())
        {
            bail!(
                "`{}/{}` is a {}, not a habit: only habits publish their runs",
                other.host,
                other.name,
                other.task_type
            );
        }
        wanted.push(Wanted {
            key: keys::habit_output(host.unwrap_or(keys::ANY_HOST), name),
            found: matching
                .iter()
                .map(|t| (t.host.clone(), t.name.clone()))
                .collect(),
        });
    }
    Ok(wanted)
}

/// The last `n` runs a host keeps of one habit, oldest first.
pub(crate) async fn read_history(
    client: &Client,
    host: &str,
    task: &str,
    n: usize,
) -> anyhow::Result<Vec<(HabitRun, Vec<u8>)>> {
    let querier = client
        .session
        .declare_querier(keys::habit_output(host, task))
        // Every run is its own reply on the same key: nothing may be merged.
        .consolidation(ConsolidationMode::None)
        .congestion_control(CongestionControl::Block)
        .timeout(client.timeout)
        .await
        .map_err(|e| anyhow::anyhow!("cannot prepare a history query: {e}"))?;
    wait_for_match(&querier, DISCOVERY_WAIT.min(client.timeout)).await;
    let replies = querier
        .get()
        .parameters(keys::history_parameters(n))
        .await
        .map_err(|e| anyhow::anyhow!("cannot ask for the history: {e}"))?;
    let mut runs = Vec::new();
    while let Ok(reply) = replies.recv_async().await {
        match reply.result() {
            Ok(sample) => runs.extend(decode(sample)),
            Err(err) => {
                let text = String::from_utf8_lossy(&err.payload().to_bytes()).into_owned();
                let text = msg::decode::<msg::ErrorReply>(text.as_bytes())
                    .map(|e| e.message)
                    .unwrap_or(text);
                return Err(anyhow::anyhow!("{text}")).with_context(|| {
                    format!("host `{host}` did not give the history of `{task}`")
                });
            }
        }
    }
    Ok(runs)
}

/// A sample's metadata and output; `None` (and a warning) for a sample that
/// is not a tnet habit run.
fn decode(sample: &Sample) -> Option<(HabitRun, Vec<u8>)> {
    let meta = sample
        .attachment()
        .and_then(|a| msg::decode::<HabitRun>(&a.to_bytes()).ok());
    match meta {
        Some(meta) => Some((meta, sample.payload().to_bytes().into_owned())),
        None => {
            tracing::warn!(
                "ignoring a publication on {} without run metadata",
                sample.key_expr()
            );
            None
        }
    }
}

/// Prints one run: its raw output, or a JSON line.
fn print_run(meta: &HabitRun, bytes: &[u8], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let text = std::str::from_utf8(bytes);
        let line = JsonRun {
            run: meta,
            output: String::from_utf8_lossy(bytes).into_owned(),
            output_base64: text
                .is_err()
                .then(|| base64::engine::general_purpose::STANDARD.encode(bytes)),
        };
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    } else {
        out.write_all(bytes)?;
    }
    out.flush()?;
    Ok(())
}
