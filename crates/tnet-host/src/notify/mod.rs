//! Notifications (SPEC 11): one host-wide notifier actor.
//!
//! A task's actor hands each event, with the task's notifier settings, to
//! [`NotifyHandle::notify`], which never waits: the event is queued for the
//! notifier (or dropped with a warning if thousands are already waiting).
//! The notifier decides ([`policy`]) whether it notifies and through which
//! channels, then delivers each in a task of its own, so a slow or dead SMTP
//! server delays nothing, not even other notifications. Failed sends are
//! retried with backoff; one that still fails is kept in the inbox with the
//! reason. Every delivery and attempt is recorded (`tnet inbox --deliveries`).
//!
//! # Layout
//!
//! - [`config`]: `host.toml`'s notifier settings.
//! - [`policy`]: whether an event notifies, and the failure-streak throttle.
//! - [`email`]: the mail's format and SMTP.
//! - [`inbox`]: the inbox and delivery log in the store.

pub mod config;
pub mod email;
pub mod inbox;
pub mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tnet_proto::keys;
use tnet_proto::msg::{self, Event, HabitRun};
use tnet_proto::task::{Notifications, Notifier};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::host::Shared;
use crate::supervisor::TaskInfo;
use config::NotifyConfig;
use inbox::NewEntry;
use policy::{Notice, Streak};

/// Events waiting for the notifier at most; past it they are dropped (logged).
const QUEUE: usize = 4096;
/// Lines of output a notification carries.
const OUTPUT_LINES: usize = 20;
/// Bytes of the log read to find them.
const OUTPUT_BYTES: u64 = 16 * 1024;

/// Why one attempt failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// For people; never holds a secret.
    pub message: String,
    /// Retrying cannot help (a wrong password, a bad address).
    pub permanent: bool,
}

/// The values templates and payloads are made of.
#[derive(Debug, Clone, Default)]
pub struct Fields(BTreeMap<&'static str, String>);

impl Fields {
    /// Sets `{name}`.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        self.0.insert(name, value.into());
    }

    /// The value of `{name}`, if it is one.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// What webhooks and commands receive: the event, plus what the notice says.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// The event, field for field as published.
    #[serde(flatten)]
    pub event: Event,
    /// What is being told: `succeeded`, `failed`, `still failing (3 more failures)`...
    pub outcome: String,
    /// Failures counted in the notice (reminders and recoveries), else 0.
    pub failures: u32,
    /// When the run started, RFC 3339, if known.
    pub started: Option<String>,
    /// How long it ran, if known.
    pub duration_ms: Option<u64>,
    /// The last lines of its output.
    pub output: String,
}

/// An event of one task, with what the notifier needs of the task.
struct Job {
    event: Event,
    info: Arc<TaskInfo>,
}

/// Hands events to the notifier; cloned into every task's actor.
#[derive(Clone)]
pub struct NotifyHandle {
    tx: mpsc::Sender<Job>,
}

impl NotifyHandle {
    /// A handle and the receiving end the notifier runs on.
    pub fn new() -> (NotifyHandle, NotifyQueue) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (NotifyHandle { tx }, NotifyQueue(rx))
    }

    /// Queues an event of `info`'s task, without waiting.
    pub fn notify(&self, info: &Arc<TaskInfo>, event: &Event) {
        if !info.spec.notify.any() {
            return;
        }
        let job = Job {
            event: event.clone(),
            info: info.clone(),
        };
        if self.tx.try_send(job).is_err() {
            tracing::warn!(task = %info.name, "a notification was dropped: the notifier is far behind");
        }
    }
}

/// The notifier's end of the queue; see [`run`].
pub struct NotifyQueue(mpsc::Receiver<Job>);

/// The notifier actor: owns every task's failure streak and starts deliveries.
pub async fn run(shared: Arc<Shared>, config: Arc<NotifyConfig>, queue: NotifyQueue) {
    match shared.store.abandon_deliveries() {
        Ok(0) => {}
        Ok(n) => tracing::warn!("{n} notification(s) were not sent before the host stopped"),
        Err(err) => tracing::warn!("{err}"),
    }
    let mut rx = queue.0;
    let mut streaks: HashMap<String, Streak> = HashMap::new();
    while let Some(job) = rx.recv().await {
        let streak = streaks.entry(job.info.safe_name.clone()).or_default();
        let Some(notice) =
            policy::decide(streak, &job.event, Instant::now(), config.reminder_window)
        else {
            continue;
        };
        let channels = policy::channels(&job.info.spec.notify, notice);
        if channels.is_empty() {
            continue;
        }
        let notification = describe(&shared, &job.info, &job.event, notice);
        for channel in channels {
            tokio::spawn(deliver(
                shared.clone(),
                config.clone(),
                job.info.clone(),
                channel,
                notification.clone(),
            ));
        }
    }
}

/// Gathers what a notification says about the run an event concerns.
fn describe(shared: &Shared, info: &TaskInfo, event: &Event, notice: Notice) -> Notification {
    let failures = match notice {
        Notice::StillFailing { failures } | Notice::Recovered { failures } => failures,
        _ => 0,
    };
    let mut started = None;
    let mut duration_ms = None;
    let mut output = None;
    if let Some(number) = event.run {
        if let Ok(runs) = shared.store.recent_runs(&info.safe_name, 5) {
            if let Some(run) = runs.iter().find(|r| r.number == number) {
                started = Some(run.started_at.clone());
                duration_ms = run.duration_ms;
            }
        }
        // A habit's stdout is stored before its event is emitted; the log
        // (written by another task) may not have it yet.
        if let Ok(kept) = shared.store.habit_outputs(&info.safe_name, Some(3)) {
            output = kept.iter().find_map(|(meta, bytes)| {
                let meta: HabitRun = serde_json::from_str(meta).ok()?;
                (meta.number == number).then(|| String::from_utf8_lossy(bytes).into_owned())
            });
        }
    }
    let output = output.unwrap_or_else(|| {
        info.log
            .tail(OUTPUT_BYTES)
            .map(|(bytes, _)| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    });
    Notification {
        event: event.clone(),
        outcome: notice.outcome(),
        failures,
        started,
        duration_ms,
        output: last_lines(&output, OUTPUT_LINES),
    }
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The template fields of a notification.
fn fields(n: &Notification) -> Fields {
    let mut f = Fields::default();
    let dash = || "-".to_owned();
    f.set("host", n.event.host.clone());
    f.set("task", n.event.task.clone());
    f.set("type", n.event.task_type.clone());
    f.set("outcome", n.outcome.clone());
    f.set(
        "exit_code",
        n.event.exit_code.map_or_else(dash, |c| c.to_string()),
    );
    f.set("run", n.event.run.map_or_else(dash, |r| r.to_string()));
    f.set("started", n.started.clone().unwrap_or_else(dash));
    f.set(
        "duration",
        n.duration_ms.map_or_else(dash, |ms| {
            humantime::format_duration(Duration::from_millis(ms)).to_string()
        }),
    );
    f.set("output", n.output.clone());
    f.set("message", n.event.message.clone());
    f
}

/// Delivers one notification through one channel, retrying with backoff,
/// and keeps it in the inbox if it cannot go.
async fn deliver(
    shared: Arc<Shared>,
    config: Arc<NotifyConfig>,
    info: Arc<TaskInfo>,
    channel: Notifier,
    n: Notification,
) {
    let store = &shared.store;
    let kind = serde_json::to_value(n.event.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let id = match store.start_delivery(&info.name, channel.as_str(), &kind) {
        Ok(id) => Some(id),
        Err(err) => {
            tracing::warn!(task = %info.name, "{err}");
            None
        }
    };
    let record = |state: &str, attempts: u32, error: Option<&str>| {
        if let Some(id) = id {
            if let Err(err) = store.update_delivery(id, state, attempts, error) {
                tracing::warn!(task = %info.name, "{err}");
            }
        }
    };
    let summary = format!("{} on {}: {}", n.event.task, n.event.host, n.outcome);
    if channel == Notifier::Qmail {
        keep(&shared, "qmail", "queued", &summary, None, 0, &n.event).await;
        record("queued", 0, None);
        return;
    }
    let mut delay = config.retry_delay;
    let mut attempts = 0;
    let failure = loop {
        attempts += 1;
        // Each step has its own time limit; this bounds the whole attempt.
        let result = tokio::time::timeout(
            config.send_timeout,
            attempt(&config, &info.spec.notify, channel, &n),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Failure {
                message: format!(
                    "no answer within {}",
                    humantime::format_duration(config.send_timeout)
                ),
                permanent: false,
            })
        });
        match result {
            Ok(()) => {
                record("sent", attempts, None);
                tracing::info!(task = %info.name, channel = channel.as_str(), "notification sent");
                return;
            }
            Err(f) if f.permanent || attempts >= config.attempts => break f,
            Err(f) => {
                tracing::warn!(task = %info.name, channel = channel.as_str(), attempt = attempts, "notification not sent, retrying in {}: {}", humantime::format_duration(delay), f.message);
                record("retrying", attempts, Some(&f.message));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(300));
            }
        }
    };
    tracing::warn!(task = %info.name, channel = channel.as_str(), "notification kept in the inbox after {attempts} attempt(s): {}", failure.message);
    record("failed", attempts, Some(&failure.message));
    let reason = format!(
        "{} not sent after {attempts} attempt(s): {}",
        channel.as_str(),
        failure.message
    );
    keep(
        &shared,
        channel.as_str(),
        "failed",
        &summary,
        Some(&reason),
        attempts,
        &n.event,
    )
    .await;
}

/// Keeps a notification in the inbox and publishes it on the host's inbox key.
async fn keep(
    shared: &Shared,
    channel: &str,
    state: &str,
    summary: &str,
    reason: Option<&str>,
    attempts: u32,
    event: &Event,
) {
    let entry = NewEntry {
        channel,
        state,
        summary,
        reason,
        attempts,
        event,
    };
    match shared.store.add_inbox_entry(&shared.name, &entry) {
        Ok(stored) => {
            let key = keys::inbox(&shared.name);
            if let Err(err) = shared.front_session().put(&key, msg::encode(&stored)).await {
                tracing::debug!("cannot publish an inbox entry: {err}");
            }
        }
        Err(err) => tracing::error!(task = %event.task, "a notification is lost: {err}"),
    }
}

/// One attempt through one channel.
async fn attempt(
    config: &NotifyConfig,
    task: &Notifications,
    channel: Notifier,
    n: &Notification,
) -> Result<(), Failure> {
    let permanent = |m: &str| Failure {
        message: m.to_owned(),
        permanent: true,
    };
    match channel {
        Notifier::None | Notifier::Qmail => Ok(()),
        Notifier::Email => {
            let Some(email) = &config.email else {
                return Err(permanent("no [email] in the host config (host.toml)"));
            };
            let f = fields(n);
            let subject = email::render(
                task.email_subject
                    .as_deref()
                    .unwrap_or(email::DEFAULT_SUBJECT),
                &f,
            );
            let body = email::render(
                task.email_body.as_deref().unwrap_or(email::DEFAULT_BODY),
                &f,
            );
            let to = if task.email_to.is_empty() {
                &email.to
            } else {
                &task.email_to
            };
            email::send(email, to, subject.trim(), body, config.send_timeout).await
        }
        Notifier::Webhook => {
            let Some(url) = task
                .webhook_url
                .clone()
                .or_else(|| config.webhook_url.clone())
            else {
                return Err(permanent(
                    "no webhook_url in the task and no [webhook] url in the host config",
                ));
            };
            let body = serde_json::to_string(n).expect("a notification always serializes");
            let timeout = config.send_timeout;
            tokio::task::spawn_blocking(move || post(&url, body, timeout))
                .await
                .unwrap_or_else(|e| {
                    Err(Failure {
                        message: format!("the webhook sender failed: {e}"),
                        permanent: false,
                    })
                })
        }
        Notifier::Command => {
            let Some(program) = task
                .notify_command
                .clone()
                .or_else(|| config.command.clone())
            else {
                return Err(permanent(
                    "no notify_command in the task and no [command] program in the host config",
                ));
            };
            run_command(&program, n, config.send_timeout).await
        }
    }
}

/// POSTs `body` as JSON to `url`; any status but 2xx is a failure.
fn post(url: &str, body: String, timeout: Duration) -> Result<(), Failure> {
    let result = ureq::post(url)
        .config()
        .timeout_global(Some(timeout))
        .build()
        .content_type("application/json")
        .send(body);
    match result {
        Ok(_) => Ok(()),
        Err(ureq::Error::StatusCode(code)) => Err(Failure {
            message: format!("webhook {url} answered HTTP {code}"),
            permanent: (400..500).contains(&code) && code != 408 && code != 429,
        }),
        Err(e) => Err(Failure {
            message: format!("webhook {url}: {e}"),
            permanent: false,
        }),
    }
}

/// Runs `sh -c program` with the notification as JSON on stdin.
async fn run_command(program: &str, n: &Notification, timeout: Duration) -> Result<(), Failure> {
    let fail = |m: String| Failure {
        message: m,
        permanent: false,
    };
    let mut cmd = tokio::process::Command::new("sh");
    crate::zenoh_pools::hide_from(cmd.as_std_mut());
    let mut child = cmd
        .arg("-c")
        .arg(program)
        .env("TNET_HOST", &n.event.host)
        .env("TNET_TASK", &n.event.task)
        .env("TNET_OUTCOME", &n.outcome)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot start `{program}`: {e}")))?;
    let json = serde_json::to_vec(n).expect("a notification always serializes");
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input is its own business.
        let _ = stdin.write_all(&json).await;
    }
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| {
            fail(format!(
                "`{program}` took longer than {}",
                humantime::format_duration(timeout)
            ))
        })?
        .map_err(|e| fail(format!("`{program}`: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(fail(format!(
            "`{program}` {}: {}",
            out.status,
            last_lines(&stderr, 3)
        )))
    }
}
