//! One actor per task: it owns the task's executions and its state.
//!
//! The rest of the host talks to a task only through its cloneable
//! [`SupervisorHandle`]: commands go in over a channel, and the current
//! [`Snapshot`] comes out through a watch channel that can be read without
//! waiting. The actor `select!`s between the running command and the next
//! control message, so a stop is never stuck behind a long command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tnet_proto::keys;
use tnet_proto::msg::{self, Event, EventKind, TaskState};
use tnet_proto::task::{TaskSpec, TaskType};
use tokio::sync::{mpsc, oneshot, watch};

use crate::host::Shared;
use crate::logs::TaskLog;
use crate::runner::{CommandSpec, Execution, Exit, OutputChunk};
use crate::store::{now_rfc3339, StoredRun};

mod capture;
mod daemon;
mod failure;
mod habit;
mod lane;
mod service;

pub use service::{read_call_group, CallLoad};

/// How long the processes of a host that died have between TERM and KILL
/// when the host comes back (a task's own stops use its `stop_grace`).
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What a task is, for everyone who holds its handle.
pub struct TaskInfo {
    /// `task_name` as written.
    pub name: String,
    /// Its folder and key chunk.
    pub safe_name: String,
    /// The validated task.
    pub spec: TaskSpec,
    /// The task file as submitted.
    pub task_toml: String,
    /// Its output log.
    pub log: Arc<TaskLog>,
    /// How its commands start: a process group, or an exec in its container.
    pub runner: Arc<dyn crate::runner::Runner>,
}

/// The state of a task at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Where it is in its life.
    pub state: TaskState,
    /// The running command's process id.
    pub pid: Option<u32>,
    /// Restarts so far.
    pub restarts: u32,
    /// Start of the last run.
    pub last_run: Option<String>,
    /// When the next run is due (habits), RFC 3339.
    pub next_run: Option<String>,
    /// Exit code of the last finished run.
    pub exit_code: Option<i32>,
}

enum Control {
    Start,
    Restart,
    Stop(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// How the actor begins.
#[derive(Debug, Clone, Copy)]
pub enum Initial {
    /// Run the task now.
    Start,
    /// Stay idle in this state until told to start.
    Idle(TaskState),
}

/// Talks to one task's actor.
#[derive(Clone)]
pub struct SupervisorHandle {
    tx: mpsc::Sender<Control>,
    snapshot: watch::Receiver<Snapshot>,
    /// The task.
    pub info: Arc<TaskInfo>,
    /// Calls running and waiting now (services only; zero otherwise).
    pub load: Arc<CallLoad>,
}

impl SupervisorHandle {
    /// The task's state now.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// Starts the task if it is not running.
    pub async fn start(&self) {
        let _ = self.tx.send(Control::Start).await;
    }

    /// Stops the running command (if any) and starts the task again.
    pub async fn restart(&self) {
        let _ = self.tx.send(Control::Restart).await;
    }

    /// Stops the task and waits until its processes are gone.
    pub async fn stop(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Control::Stop(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Stops the task and ends its actor.
    pub async fn shutdown(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Control::Shutdown(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Waits until the state satisfies `pred` (for tests and followers).
    pub async fn wait_for(&self, pred: impl Fn(&Snapshot) -> bool) {
        let mut rx = self.snapshot.clone();
        let _ = rx.wait_for(|s| pred(s)).await;
    }
}

/// Starts the actor of a task.
pub fn spawn(
    shared: Arc<Shared>,
    info: Arc<TaskInfo>,
    restarts: u32,
    setup_done: bool,
    initial: Initial,
) -> SupervisorHandle {
    let (tx, rx) = mpsc::channel(16);
    let first_state = match initial {
        Initial::Start => TaskState::SettingUp,
        Initial::Idle(s) => s,
    };
    let (snap_tx, snap_rx) = watch::channel(Snapshot {
        state: first_state,
        pid: None,
        restarts,
        last_run: None,
        next_run: None,
        exit_code: None,
    });
    // Habits run on threads of their own (`lane.rs`), everything else here.
    let runtime = match info.spec.task_type {
        TaskType::Habit => lane::next(),
        _ => tokio::runtime::Handle::current(),
    };
    let (out_tx, out_rx) = mpsc::channel(64);
    runtime.spawn(publish_output(shared.clone(), info.clone(), out_rx));
    let load = Arc::new(CallLoad::default());
    let actor = Actor {
        shared,
        info: info.clone(),
        rx,
        snap: snap_tx,
        output: out_tx,
        setup_done,
        last_run_number: None,
        last_reason: None,
        load: load.clone(),
    };
    runtime.spawn(actor.run(matches!(initial, Initial::Start)));
    SupervisorHandle {
        load,
        tx,
        snapshot: snap_rx,
        info,
    }
}

/// Appends a task's output to its log and publishes it for `tnet logs -f`.
async fn publish_output(
    shared: Arc<Shared>,
    info: Arc<TaskInfo>,
    mut rx: mpsc::Receiver<OutputChunk>,
) {
    let key = keys::task_log(&shared.name, &info.name);
    // A full disk fails every append until space returns: said once, not per line.
    let mut failing = false;
    while let Some(chunk) = rx.recv().await {
        let (seq, bytes) = match info.log.append(&chunk.bytes) {
            // The task was removed; what its children still print goes nowhere.
            Ok(None) => continue,
            Ok(Some(written)) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(task = %info.name, "the task's log is written again");
                }
                written
            }
            Err(err) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(task = %info.name, "cannot write the task's log (its output is dropped until it can): {err}");
                }
                continue;
            }
        };
        let attachment = serde_json::json!({ "seq": seq }).to_string();
        if let Err(err) = shared
            .front_session()
            .put(&key, bytes)
            .attachment(attachment)
            .await
        {
            tracing::debug!(task = %info.name, "cannot publish output: {err}");
        }
    }
}

/// Tells the task's notification channels of `event` and publishes it on
/// the task's event key.
pub(crate) async fn publish_event(shared: &Shared, info: &Arc<TaskInfo>, event: &Event) {
    shared.notify.notify(info, event);
    let key = keys::task_event(&shared.name, &info.name);
    if let Err(err) = shared.front_session().put(&key, msg::encode(event)).await {
        tracing::debug!(task = %info.name, "cannot publish an event: {err}");
    }
}

/// One of a task's commands, in its workspace, with the environment every
/// command of a task gets (`TNET_HOST`, `TNET_TASK`, `TNET_WORKSPACE`).
pub(crate) fn command_spec(shared: &Shared, info: &TaskInfo, command: &str) -> CommandSpec {
    let workdir = shared.paths.workspace(&info.safe_name);
    let env = vec![
        ("TNET_HOST".into(), shared.name.clone()),
        ("TNET_TASK".into(), info.name.clone()),
        (
            "TNET_WORKSPACE".into(),
            workdir.to_string_lossy().into_owned(),
        ),
    ];
    CommandSpec::new(command, workdir, env)
}

/// Why a sequence of commands stopped before its end.
pub(crate) enum Interrupt {
    Stop(oneshot::Sender<()>),
    Restart,
    Shutdown(oneshot::Sender<()>),
}

impl Interrupt {
    /// The outcome recorded for a run this interrupts: `shutdown` when the
    /// host is stopping (SIGTERM, `systemctl stop`), so the record tells a
    /// run the host ended on its way down from one a user stopped, and
    /// neither is a crash or a `lost` run. The next start runs the task again.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Interrupt::Stop(_) | Interrupt::Restart => "stopped",
            Interrupt::Shutdown(_) => "shutdown",
        }
    }
}

/// How a sequence of commands ended.
pub(crate) enum SeqEnd {
    Done(Exit),
    Interrupted(Interrupt),
}

pub(crate) struct Actor {
    shared: Arc<Shared>,
    info: Arc<TaskInfo>,
    rx: mpsc::Receiver<Control>,
    snap: watch::Sender<Snapshot>,
    output: mpsc::Sender<OutputChunk>,
    setup_done: bool,
    /// Number of the run `run_sequence` recorded last, for events.
    last_run_number: Option<u64>,
    /// Why that run failed, when the host knows more than its exit code.
    last_reason: Option<String>,
    load: Arc<CallLoad>,
}

impl Actor {
    fn set_state(&self, state: TaskState) {
        self.snap.send_modify(|s| {
            s.state = state;
            if state != TaskState::Running && state != TaskState::SettingUp {
                s.pid = None;
            }
        });
    }

    /// Publishes an event about this task on its event key.
    pub(crate) async fn emit(
        &self,
        kind: EventKind,
        run: Option<u64>,
        exit_code: Option<i32>,
        message: impl Into<String>,
    ) {
        self.emit_because(kind, run, exit_code, message, None).await;
    }

    /// [`Actor::emit`] with why a command failed (`failure.rs`).
    pub(crate) async fn emit_because(
        &self,
        kind: EventKind,
        run: Option<u64>,
        exit_code: Option<i32>,
        message: impl Into<String>,
        reason: Option<String>,
    ) {
        let event = self.event(kind, run, exit_code, message, reason);
        publish_event(&self.shared, &self.info, &event).await;
    }

    /// An event about this task, in its state now.
    pub(crate) fn event(
        &self,
        kind: EventKind,
        run: Option<u64>,
        exit_code: Option<i32>,
        message: impl Into<String>,
        reason: Option<String>,
    ) -> Event {
        Event {
            reason,
            host: self.shared.name.clone(),
            task: self.info.name.clone(),
            task_type: self.info.spec.task_type.as_str().to_owned(),
            kind,
            state: self.snap.borrow().state,
            run,
            exit_code,
            message: message.into(),
            time: now_rfc3339(),
        }
    }

    async fn run(mut self, mut go: bool) {
        loop {
            if go {
                go = false;
                match self.execute().await {
                    None => {}
                    Some(Interrupt::Restart) => {
                        self.count_restart();
                        go = true;
                        continue;
                    }
                    Some(Interrupt::Stop(ack)) => self.stopped(ack).await,
                    Some(Interrupt::Shutdown(ack)) => {
                        let _ = ack.send(());
                        return;
                    }
                }
            }
            match self.rx.recv().await {
                None => return,
                Some(Control::Start) => go = true,
                Some(Control::Restart) => {
                    self.count_restart();
                    go = true;
                }
                Some(Control::Stop(ack)) => self.stopped(ack).await,
                Some(Control::Shutdown(ack)) => {
                    let _ = ack.send(());
                    return;
                }
            }
        }
    }

    /// Records a stop a user asked for.
    async fn stopped(&self, ack: oneshot::Sender<()>) {
        let was = self.snap.borrow().state;
        self.info.runner.stopped().await;
        self.set_state(TaskState::Stopped);
        let _ = ack.send(());
        if was != TaskState::Stopped {
            let msg = format!("`{}` was stopped", self.info.name);
            self.emit(EventKind::Stopped, None, None, msg).await;
        }
    }

    /// Writes a line of tnet's own into the task's log, so a reader sees
    /// restarts and waits among the task's output.
    pub(crate) async fn note(&self, text: &str) {
        let line = format!("[tnet] {text}\n");
        let chunk = OutputChunk {
            stream: crate::runner::Stream::Stderr,
            bytes: line.into_bytes(),
        };
        let _ = self.output.send(chunk).await;
    }

    fn count_restart(&self) {
        let mut restarts = 0;
        self.snap.send_modify(|s| {
            s.restarts += 1;
            restarts = s.restarts;
        });
        if let Err(err) = self
            .shared
            .store
            .set_restarts(&self.info.safe_name, restarts)
        {
            tracing::warn!(task = %self.info.name, "{err}");
        }
    }

    /// Runs setup (once), then what the task's type does. `Some` when interrupted.
    async fn execute(&mut self) -> Option<Interrupt> {
        let info = self.info.clone();
        if !self.setup_done && !info.spec.setup_commands.is_empty() {
            self.set_state(TaskState::SettingUp);
            match self.run_sequence(&info.spec.setup_commands, "setup").await {
                SeqEnd::Interrupted(i) => return Some(i),
                SeqEnd::Done(exit) if !exit.success() => {
                    self.set_state(TaskState::Failed);
                    let reason = self.last_reason.clone();
                    let why = match &reason {
                        Some(reason) => format!(": {reason}"),
                        None => " (`tnet logs` shows why)".to_owned(),
                    };
                    let msg = format!(
                        "setup of `{}` failed; its commands were not started{why}",
                        info.name
                    );
                    let run = self.last_run_number;
                    self.emit_because(EventKind::SetupFailed, run, exit.code(), msg, reason)
                        .await;
                    return None;
                }
                SeqEnd::Done(_) => {
                    self.emit(
                        EventKind::SetupDone,
                        None,
                        Some(0),
                        format!("setup of `{}` done", info.name),
                    )
                    .await;
                    self.setup_done = true;
                    if let Err(err) = self.shared.store.set_setup_done(&info.safe_name, true) {
                        tracing::warn!(task = %info.name, "{err}");
                    }
                    if info.spec.task_type == TaskType::Daemon && info.spec.daemon.wait_after_setup
                    {
                        // The seed's game-server story: the user shells in, changes
                        // things, and an edit starts the commands.
                        self.set_state(TaskState::Waiting);
                        self.note("setup done; waiting for `tnet edit` (wait_after_setup)")
                            .await;
                        let msg = format!(
                            "setup of `{}` done; it waits for you: change its workspace, then `tnet edit {}`",
                            info.name, info.name
                        );
                        self.emit(EventKind::Waiting, None, Some(0), msg).await;
                        return None;
                    }
                }
            }
        }
        match info.spec.task_type {
            TaskType::Daemon => self.drive_daemon().await,
            TaskType::Habit => self.drive_habit().await,
            TaskType::Service => self.drive_service().await,
        }
    }

    fn command_spec(&self, command: &str) -> CommandSpec {
        command_spec(&self.shared, &self.info, command)
    }

    /// Runs commands in order, stopping at the first that fails, as one recorded run.
    async fn run_sequence(&mut self, commands: &[String], phase: &str) -> SeqEnd {
        let started = Instant::now();
        let run = match self.shared.store.start_run(&self.info.safe_name, phase) {
            Ok(run) => Some(run),
            Err(err) => {
                tracing::warn!(task = %self.info.name, "{err}");
                None
            }
        };
        self.last_run_number = run.as_ref().map(|r| r.number);
        self.last_reason = None;
        let mut reason = None;
        self.snap.send_modify(|s| {
            s.last_run = Some(
                run.as_ref()
                    .map(|r| r.started_at.clone())
                    .unwrap_or_else(now_rfc3339),
            )
        });
        let mut last = Exit::Code(0);
        for command in commands {
            let spec = self.command_spec(command);
            let mut exec = match self.info.runner.spawn(&spec, self.output.clone()) {
                Ok(exec) => exec,
                Err(err) => {
                    reason = Some(failure::cannot_start(command, &spec.workdir, &err));
                    last = Exit::Code(127);
                    break;
                }
            };
            self.snap.send_modify(|s| s.pid = exec.pid());
            if let (Some(run), Some(loc)) = (&run, exec.locator()) {
                if let Err(err) = self.shared.store.set_run_locator(run.id, &loc) {
                    tracing::warn!(task = %self.info.name, "{err}");
                }
            }
            match self.supervise(exec.as_mut()).await {
                Ok(Ok(exit)) => last = exit,
                Ok(Err(err)) => {
                    reason = Some(failure::could_not_run(command, &err));
                    last = Exit::Code(-1);
                }
                Err(interrupt) => {
                    self.finish_run(run.as_ref(), started, None, interrupt.outcome());
                    return SeqEnd::Interrupted(interrupt);
                }
            }
            if !last.success() {
                break;
            }
        }
        let outcome = if last.success() {
            "succeeded"
        } else {
            "failed"
        };
        self.finish_run(run.as_ref(), started, last.code(), outcome);
        let reason = reason.or_else(|| failure::shell_verdict(last));
        if let Some(reason) = &reason {
            self.record_reason(run.as_ref().map(|r| r.number), reason)
                .await;
        }
        self.last_reason = reason;
        self.snap.send_modify(|s| {
            s.exit_code = last.code();
            s.pid = None;
        });
        SeqEnd::Done(last)
    }

    /// Waits for one execution, handling control messages meanwhile; an
    /// inner `Err` when the runner could not run it or lost it.
    async fn supervise(
        &mut self,
        exec: &mut dyn Execution,
    ) -> Result<std::io::Result<Exit>, Interrupt> {
        loop {
            tokio::select! {
                exit = exec.wait() => return Ok(exit),
                ctl = self.rx.recv() => {
                    let interrupt = match ctl {
                        Some(Control::Start) => continue,
                        Some(Control::Restart) => Interrupt::Restart,
                        Some(Control::Stop(ack)) => Interrupt::Stop(ack),
                        Some(Control::Shutdown(ack)) => Interrupt::Shutdown(ack),
                        None => Interrupt::Shutdown(oneshot::channel().0),
                    };
                    if let Err(err) = exec.terminate(self.info.spec.stop_grace).await {
                        tracing::warn!(task = %self.info.name, "stopping a command failed: {err}");
                    }
                    return Err(interrupt);
                }
            }
        }
    }

    fn finish_run(
        &self,
        run: Option<&StoredRun>,
        started: Instant,
        code: Option<i32>,
        outcome: &str,
    ) {
        let Some(run) = run else { return };
        let ms = started.elapsed().as_millis() as u64;
        if let Err(err) = self
            .shared
            .store
            .finish_run(&self.info.safe_name, run, ms, code, outcome)
        {
            tracing::warn!(task = %self.info.name, "{err}");
        }
    }
}
