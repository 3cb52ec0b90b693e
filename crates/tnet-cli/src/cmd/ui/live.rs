//! Live updates: the Zenoh subscriptions of `tnet events`, `tnet sub`,
//! `tnet inbox -f` and `tnet services --watch`, and the hosts' liveliness
//! tokens, declared once and fanned out to every open page as Server-Sent
//! Events. A task's page also follows its log, as `tnet logs -f` does.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tnet_proto::keys;
use tnet_proto::msg::{self, Event, HabitRun, InboxEntry, LogsRequest, Request};
use tokio::sync::broadcast;
use zenoh::sample::{Sample, SampleKind};

use super::server::Shared;
use super::task::strip_stamps;
use crate::target;

/// Updates a slow page may fall behind by before it is told to reload what it shows.
const BACKLOG: usize = 4096;

/// How much of a task's log its page starts with.
pub const LOG_TAIL: u64 = 64 * 1024;

/// One update for the pages: the SSE event's name and its JSON data.
pub type Update = (&'static str, String);

/// The fan-out of the dashboard's subscriptions.
pub struct Live {
    tx: broadcast::Sender<Update>,
}

impl Live {
    /// Declares the subscriptions and starts feeding every page.
    pub async fn start(session: &zenoh::Session) -> anyhow::Result<Live> {
        let (tx, _) = broadcast::channel(BACKLOG);
        let fail = |what: &str, e: zenoh::Error| anyhow::anyhow!("cannot follow {what}: {e}");
        let events = session
            .declare_subscriber(keys::all_events())
            .await
            .map_err(|e| fail("events", e))?;
        let habits = session
            .declare_subscriber(keys::all_habits(keys::ANY_HOST))
            .await
            .map_err(|e| fail("habits", e))?;
        let inboxes = session
            .declare_subscriber(keys::all_inboxes())
            .await
            .map_err(|e| fail("inboxes", e))?;
        let hosts = session
            .liveliness()
            .declare_subscriber(keys::host_alive(keys::ANY_HOST))
            .await
            .map_err(|e| fail("hosts", e))?;
        let services = session
            .liveliness()
            .declare_subscriber(keys::all_services())
            .await
            .map_err(|e| fail("services", e))?;
        let feed = tx.clone();
        tokio::spawn(async move {
            loop {
                let update = tokio::select! {
                    s = events.recv_async() => s.ok().and_then(|s| event(&s)),
                    s = habits.recv_async() => s.ok().and_then(|s| habit(&s)),
                    s = inboxes.recv_async() => s.ok().and_then(|s| inbox(&s)),
                    s = hosts.recv_async() => s.ok().and_then(|s| host(&s)),
                    s = services.recv_async() => s.ok().and_then(|s| service(&s)),
                };
                if let Some(update) = update {
                    // No page open: nothing to do.
                    let _ = feed.send(update);
                }
            }
        });
        Ok(Live { tx })
    }

    /// A new page's view of the updates.
    fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.tx.subscribe()
    }
}

/// A task's event, as `tnet events --json` prints it.
fn event(sample: &Sample) -> Option<Update> {
    let event = msg::decode::<Event>(&sample.payload().to_bytes()).ok()?;
    Some(("task", serde_json::to_string(&event).ok()?))
}

/// A habit's run: its metadata, the number it printed (`value`) among it.
fn habit(sample: &Sample) -> Option<Update> {
    let meta = msg::decode::<HabitRun>(&sample.attachment()?.to_bytes()).ok()?;
    Some(("habit", json!({ "run": meta }).to_string()))
}

/// A new inbox entry.
fn inbox(sample: &Sample) -> Option<Update> {
    let entry = msg::decode::<InboxEntry>(&sample.payload().to_bytes()).ok()?;
    Some((
        "inbox",
        json!({"host": entry.host, "id": entry.id}).to_string(),
    ))
}

/// A host coming or going.
fn host(sample: &Sample) -> Option<Update> {
    let host = keys::host_of(sample.key_expr().as_str())?;
    let up = sample.kind() == SampleKind::Put;
    Some(("host", json!({"host": host, "up": up}).to_string()))
}

/// A service becoming ready or going.
fn service(sample: &Sample) -> Option<Update> {
    let (host, service) = keys::service_of(sample.key_expr().as_str())?;
    let up = sample.kind() == SampleKind::Put;
    Some((
        "service",
        json!({"host": host, "service": service, "up": up}).to_string(),
    ))
}

/// `/live`'s parameters.
#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// `host/name`: also follow this task's log.
    log: Option<String>,
}

/// `GET /live`: the updates as Server-Sent Events, for as long as the page is open.
pub async fn stream(State(ui): Shared, Query(q): Query<LiveQuery>) -> Response {
    let updates = stream::unfold(ui.live.subscribe(), |mut rx| async move {
        let update = match rx.recv().await {
            Ok(update) => update,
            // Fell behind: the page reloads what it shows instead.
            Err(broadcast::error::RecvError::Lagged(_)) => ("resync", "{}".to_owned()),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((update, rx))
    });
    let hello = stream::once(async { ("hello", "{}".to_owned()) });
    let log = match q.log.as_deref().map(target::split) {
        Some((Some(host), name)) => follow_log(&ui, host, name).await,
        _ => stream::empty().boxed(),
    };
    let all = hello
        .chain(stream::select(updates, log))
        .map(|(name, data)| Ok::<_, Infallible>(SseEvent::default().event(name).data(data)));
    Sse::new(all)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A task's log as `tnet logs -f` follows it: subscribed first, then the
/// tail read (sent as one `log` update that replaces what the page shows),
/// then each chunk published after the tail.
async fn follow_log(
    ui: &super::server::Ui,
    host: &str,
    name: &str,
) -> futures::stream::BoxStream<'static, Update> {
    let client = &ui.client;
    let Ok(sub) = client
        .session
        .declare_subscriber(keys::task_log(host, name))
        .await
    else {
        return stream::empty().boxed();
    };
    let request = Request::Logs(LogsRequest {
        name: name.to_owned(),
        tail_bytes: Some(LOG_TAIL),
    });
    let (text, seq) = match client.ask_host(host, request).await {
        Ok(msg::Response::Logs(chunk)) => (chunk.text, chunk.seq),
        Ok(_) => (String::new(), 0),
        Err(err) => (format!("(cannot read the log: {err:#})\n"), 0),
    };
    let first = json!({"reset": true, "text": strip_stamps(&text), "seq": seq}).to_string();
    let chunks = stream::unfold(sub, move |sub| async move {
        loop {
            let sample = sub.recv_async().await.ok()?;
            let chunk_seq = sample
                .attachment()
                .and_then(|a| serde_json::from_slice::<serde_json::Value>(&a.to_bytes()).ok())
                .and_then(|v| v["seq"].as_u64())
                .unwrap_or(u64::MAX);
            if chunk_seq > seq {
                let text = String::from_utf8_lossy(&sample.payload().to_bytes()).into_owned();
                let data = json!({"text": strip_stamps(&text), "seq": chunk_seq}).to_string();
                return Some((("log", data), sub));
            }
        }
    });
    stream::once(async move { ("log", first) })
        .chain(chunks)
        .boxed()
}
