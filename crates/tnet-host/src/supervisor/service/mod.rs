//! What a service does after setup (SPEC 6): take calls while it is ready.
//!
//! The actor declares the service's queryable and liveliness token (both on
//! [`keys::service`]), enters `ready`, and hands each query to a call task
//! ([`call`]). Calls run at most `max_concurrent_calls` at once; the others
//! wait for a permit of a fair semaphore, so they start in arrival order. A
//! stop, restart or shutdown first withdraws the token and the queryable (no
//! new calls arrive), then cancels the calls in progress and waits for them.
//! Each finished call is recorded as a run with phase `call`.
//!
//! A warm service (`warm = true`) also starts its workers here, one keeper
//! task each ([`worker`]), before it takes calls; a call then goes to a
//! worker as a job ([`warm`]) instead of starting the commands. Its turns
//! are `min(max_concurrent_calls, workers)`, since a worker answers one call
//! at a time. When every worker is in a crash loop, the service stops taking
//! calls and is in `crashloop`, as a daemon would be, until `tnet start`.

mod call;
mod folders;
mod frames;
mod warm;
mod worker;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tnet_proto::keys;
use tnet_proto::msg::{EventKind, TaskState, WarmStatus, WorkerState, WorkerStatus};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Actor, Control, Interrupt};
use crate::front::FrontQueryable;
use call::{CallContext, CallRecord};

/// The process group recorded in a call's folder, if any (see [`crate::paths::Paths::calls`]).
pub use call::read_group as read_call_group;

/// The most call folders a service makes ahead of its calls (`folders.rs`).
const MAX_SPARES: usize = 8;

/// How many calls of a service run, and how many wait for a turn, now; and
/// a warm service's workers.
#[derive(Debug, Default)]
pub struct CallLoad {
    running: AtomicU32,
    waiting: AtomicU32,
    workers: Mutex<Vec<WorkerStatus>>,
}

impl CallLoad {
    /// Calls whose commands run now.
    pub fn running(&self) -> u32 {
        self.running.load(Ordering::Relaxed)
    }

    /// Calls waiting for a turn now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// A warm service's workers now.
    pub fn warm(&self) -> WarmStatus {
        WarmStatus {
            workers: self.lock_workers().clone(),
        }
    }

    fn lock_workers(&self) -> std::sync::MutexGuard<'_, Vec<WorkerStatus>> {
        // Plain assignments only: nothing is left half-changed by a panic.
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the list of workers afresh: `n` workers, none started yet.
    pub(crate) fn reset_workers(&self, n: usize) {
        let mut workers = self.lock_workers();
        workers.clear();
        workers.resize(n, stopped_worker());
    }

    /// Changes worker `slot`'s entry, adding entries up to it.
    pub(crate) fn change_worker(&self, slot: usize, change: impl FnOnce(&mut WorkerStatus)) {
        let mut workers = self.lock_workers();
        if workers.len() <= slot {
            workers.resize(slot + 1, stopped_worker());
        }
        change(&mut workers[slot]);
    }

    /// Whether every worker is in a crash loop (a warm service that takes no more calls).
    pub(crate) fn all_crashloop(&self) -> bool {
        let workers = self.lock_workers();
        !workers.is_empty() && workers.iter().all(|w| w.state == WorkerState::Crashloop)
    }

    /// The workers' states in a sentence, for a call that waited for one.
    pub(crate) fn workers_now(&self) -> String {
        let workers = self.lock_workers();
        let states: Vec<String> = workers
            .iter()
            .map(|w| format!("{} after {} restart(s)", w.state.as_str(), w.restarts))
            .collect();
        format!(
            "its worker(s): {} (`tnet logs` shows their output)",
            states.join(", ")
        )
    }
}

/// How a service stopped taking calls.
enum Ended {
    /// A user, or the host, stopped it.
    Interrupt(Interrupt),
    /// Every worker of a warm service is in a crash loop.
    Crashloop,
}

/// A worker that is not running (yet).
fn stopped_worker() -> WorkerStatus {
    WorkerStatus {
        state: WorkerState::Stopped,
        pid: None,
        restarts: 0,
        calls: 0,
    }
}

/// Counts one call in a [`CallLoad`] counter for as long as it lives.
pub(crate) struct Counted<'a>(&'a AtomicU32);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicU32) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Counted(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CallLoad {
    /// Counts a call waiting for a turn.
    pub(crate) fn wait(&self) -> Counted<'_> {
        Counted::new(&self.waiting)
    }

    /// Counts a call that runs.
    pub(crate) fn run(&self) -> Counted<'_> {
        Counted::new(&self.running)
    }
}

impl Actor {
    /// Takes calls until told to stop. `Some` when interrupted.
    pub(crate) async fn drive_service(&mut self) -> Option<Interrupt> {
        let key = keys::service(&self.shared.name, &self.info.safe_name);
        let session = self.shared.session.clone();
        let declared = async {
            let queryable = FrontQueryable::declare(self.shared.front.clone(), key.clone()).await?;
            let token = session
                .liveliness()
                .declare_token(keys::service_token(&self.shared.name, &self.info.safe_name))
                .await?;
            Ok::<_, zenoh::Error>((queryable, token))
        }
        .await;
        let (mut queryable, token) = match declared {
            Ok(pair) => pair,
            Err(err) => {
                self.set_state(TaskState::Failed);
                let msg = format!("service `{}` cannot take calls: {err}", self.info.name);
                tracing::error!(task = %self.info.name, "{msg}");
                self.emit(EventKind::Failed, None, None, msg).await;
                return None;
            }
        };
        let details = &self.info.spec.service;
        // A warm service's worker takes one call at a time: more calls than
        // workers would only wait in a second queue.
        let at_once = if details.warm {
            details.max_concurrent_calls.min(details.workers)
        } else {
            details.max_concurrent_calls
        };
        let (jobs, for_workers) = flume::unbounded();
        let spares = Arc::new(folders::Spares::new(
            self.shared.paths.calls(),
            (at_once as usize + 1).min(MAX_SPARES),
        ));
        let filling = tokio::task::spawn_blocking({
            let spares = spares.clone();
            move || spares.fill()
        });
        let ctx = Arc::new(CallContext {
            shared: self.shared.clone(),
            info: self.info.clone(),
            key,
            limiter: Arc::new(Semaphore::new(at_once as usize)),
            stop: CancellationToken::new(),
            log: self.output.clone(),
            load: self.load.clone(),
            jobs: details.warm.then_some(jobs),
            spares,
        });
        // Workers start before calls are taken; calls wait for the first ready one.
        let mut workers = JoinSet::new();
        if details.warm {
            self.load.reset_workers(details.workers as usize);
            for slot in 0..details.workers as usize {
                workers.spawn(worker::keep(ctx.clone(), slot, for_workers.clone()));
            }
        }
        drop(for_workers);
        self.set_state(TaskState::Ready);
        tracing::info!(task = %self.info.name, "service ready");

        let mut calls: JoinSet<CallRecord> = JoinSet::new();
        let ended = loop {
            tokio::select! {
                query = queryable.recv() => match query {
                    Some(query) => { calls.spawn(call::serve(ctx.clone(), query)); }
                    // The host closed its network side: it is going down.
                    None => break Ended::Interrupt(Interrupt::Shutdown(oneshot::channel().0)),
                },
                Some(done) = calls.join_next(), if !calls.is_empty() => self.record_call(done),
                // A keeper ends before the service stops only when its worker
                // is in a crash loop; with none left, no call can be answered.
                Some(_) = workers.join_next(), if !workers.is_empty() => {
                    if workers.is_empty() {
                        break Ended::Crashloop;
                    }
                }
                ctl = self.rx.recv() => match ctl {
                    Some(Control::Start) => continue,
                    Some(Control::Restart) => break Ended::Interrupt(Interrupt::Restart),
                    Some(Control::Stop(ack)) => break Ended::Interrupt(Interrupt::Stop(ack)),
                    Some(Control::Shutdown(ack)) => break Ended::Interrupt(Interrupt::Shutdown(ack)),
                    None => break Ended::Interrupt(Interrupt::Shutdown(oneshot::channel().0)),
                },
            }
        };
        // No new calls from here: callers see the service go at once.
        if let Err(err) = token.undeclare().await {
            tracing::debug!(task = %self.info.name, "withdrawing the token: {err}");
        }
        queryable.undeclare().await;
        ctx.stop.cancel();
        while let Some(done) = calls.join_next().await {
            self.record_call(done);
        }
        while workers.join_next().await.is_some() {}
        let _ = filling.await;
        let spares = ctx.spares.clone();
        let _ = tokio::task::spawn_blocking(move || spares.clear()).await;
        match ended {
            Ended::Interrupt(interrupt) => Some(interrupt),
            Ended::Crashloop => {
                self.crashloop().await;
                None
            }
        }
    }

    /// Every worker of the service is in a crash loop: like a daemon's, it
    /// says so once and waits for `tnet start`.
    async fn crashloop(&mut self) {
        self.set_state(TaskState::Crashloop);
        let name = &self.info.name;
        let policy = &self.info.spec.daemon;
        let msg = format!(
            "the worker(s) of service `{name}` exited {} times in a row, each within {} of starting; it takes no calls until `tnet start {name}` (`tnet logs {name}` shows why)",
            policy.crashloop_after,
            humantime::format_duration(policy.stable_after),
        );
        self.note(&msg).await;
        self.emit(EventKind::Crashloop, None, None, msg).await;
    }

    /// Shows a finished call in the task's state and records it as a run.
    fn record_call(&self, done: Result<CallRecord, tokio::task::JoinError>) {
        let record = match done {
            Ok(record) => record,
            Err(err) => {
                tracing::error!(task = %self.info.name, "a call task failed: {err}");
                return;
            }
        };
        self.snap.send_modify(|s| {
            s.last_run = Some(record.run.started_at.clone());
            s.exit_code = record.run.exit_code;
        });
        let task = self.info.safe_name.clone();
        // Queued now, written with the ledger's next batch: calls never wait
        // for it, and the host's last `written` covers it.
        let recorded = self.shared.store.ledger().record_call(&task, record.run);
        tokio::spawn(async move {
            if let Err(err) = recorded.await {
                tracing::warn!(task = %task, "{err}");
            }
        });
    }
}
