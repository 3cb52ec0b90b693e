//! A warm service's workers (`docs/services.md`, "Warm services"): each is
//! kept by a task of its own that starts the worker's command, waits for its
//! `{"ready": true}`, hands it one call at a time from the service's queue,
//! and starts it again when it ends.
//!
//! The keeper owns its worker's process: a call never signals it. A call
//! that ends early (time limit, caller gone) cancels its [`Job`], and the
//! keeper kills the worker and starts it again at once; a worker that exits
//! on its own is started again after a pause that doubles while it keeps
//! exiting quickly, and after too many quick exits in a row it is left in
//! `crashloop`, as a daemon's restarts are (`daemon.rs`, with the task's
//! `[daemon_details]`). A call the worker was answering when it died is
//! told so ([`JobEvent::Died`]).
//!
//! The keeper reads the worker's standard output itself, cut into frames
//! by a cancel-safe reader (`frames.rs`), and relays a call's frames to it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tnet_proto::msg::{WorkerState, WorkerStatus};
use tnet_proto::worker::CallFrame;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::call::{record_group, CallContext, CALL_GRACE};
use super::frames::{Frame, FrameReader};
use crate::runner::{Execution, Exit, OutputChunk, Piped, Stream};
use crate::supervisor::command_spec;
use crate::supervisor::daemon::{Backoff, Decision};

/// When a worker that has not said it is ready gets a note in the log.
const READY_NOTE_AFTER: Duration = Duration::from_secs(10);
/// How long a call whose worker died waits for the rest of its standard error.
const STDERR_SETTLE: Duration = Duration::from_secs(1);

/// A call waiting for, or being answered by, a worker.
pub(crate) struct Job {
    /// The caller's arguments.
    pub(crate) args: Vec<String>,
    /// The file holding the input, and its size.
    pub(crate) input: PathBuf,
    pub(crate) input_len: u64,
    /// The call's folder.
    pub(crate) call_dir: PathBuf,
    /// When the call runs out of time (told to the worker).
    pub(crate) deadline: tokio::time::Instant,
    /// What happens to the call, for its task.
    pub(crate) events: mpsc::Sender<JobEvent>,
    /// Cancelled when the call ended early: its worker is killed.
    pub(crate) abandoned: CancellationToken,
    /// Set when a worker takes the call (for what a timeout says); a flag,
    /// not an event, so that the call is not woken for it.
    pub(crate) taken: Arc<AtomicBool>,
}

/// What a keeper tells a call.
pub(crate) enum JobEvent {
    /// A piece of the result.
    Output(Vec<u8>),
    /// The worker's last frame for the call.
    End {
        exit_code: i32,
        stderr: Option<String>,
    },
    /// The worker ended during the call.
    Died(Exit),
    /// Standard error the worker wrote during the call (also in the log).
    Stderr(Vec<u8>),
}

/// How one life of a worker ended.
enum Life {
    /// The service stops.
    Stopped,
    /// The host killed it (a call ran out of time or lost its caller).
    Killed,
    /// It exited on its own, or could not start.
    Exited(String),
}

/// How a keeper ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kept {
    /// The service stopped.
    Stopped,
    /// Its worker kept exiting soon after it started; it is not started again.
    Crashloop,
}

/// Keeps worker `slot` of a service running until the service stops, or
/// until the worker is in a crash loop by the task's `[daemon_details]`
/// policy (its delays, `stable_after` and `crashloop_after`; the restart
/// flags do not apply: a worker is always started again until then).
pub(crate) async fn keep(ctx: Arc<CallContext>, slot: usize, jobs: flume::Receiver<Job>) -> Kept {
    let policy = &ctx.info.spec.daemon;
    let mut backoff = Backoff::new(policy);
    let mut restarts = 0;
    let kept = loop {
        let began = Instant::now();
        let why = live(&ctx, slot, &jobs).await;
        let delay = match why {
            Life::Stopped => break Kept::Stopped,
            Life::Killed => Duration::ZERO,
            Life::Exited(how) => match backoff.after_crash(policy, began.elapsed()) {
                Decision::RestartAfter(delay) => {
                    note(
                        &ctx,
                        &format!(
                            "worker {} {how}; starting it again in {}",
                            slot + 1,
                            humantime::format_duration(delay)
                        ),
                    )
                    .await;
                    delay
                }
                Decision::Crashloop | Decision::End => {
                    note(
                        &ctx,
                        &format!(
                            "worker {} {how} ({} times in a row, each within {} of its start); it is not started again until `tnet start {}`",
                            slot + 1,
                            policy.crashloop_after,
                            humantime::format_duration(policy.stable_after),
                            ctx.info.name
                        ),
                    )
                    .await;
                    break Kept::Crashloop;
                }
            },
        };
        restarts += 1;
        set(&ctx, slot, |w| {
            w.restarts = restarts;
            w.pid = None;
            if !delay.is_zero() {
                w.state = WorkerState::Backoff;
            }
        });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = ctx.stop.cancelled() => break Kept::Stopped,
        }
    };
    set(&ctx, slot, |w| {
        w.state = match kept {
            Kept::Stopped => WorkerState::Stopped,
            Kept::Crashloop => WorkerState::Crashloop,
        };
        w.pid = None;
    });
    kept
}

/// One life of a worker: start, wait until ready, answer calls, end.
async fn live(ctx: &CallContext, slot: usize, jobs: &flume::Receiver<Job>) -> Life {
    set(ctx, slot, |w| w.state = WorkerState::Starting);
    // A folder of its own under the calls' folder: a host killed while the
    // worker runs ends its process group when it starts again.
    let dir = ctx
        .shared
        .paths
        .calls()
        .join(format!("worker-{}", uuid::Uuid::new_v4()));
    // Held like a call's folder, so the sweep never clears it under the worker.
    let held = crate::retention::calls::hold(&dir);
    if let Err(err) = std::fs::create_dir_all(&dir) {
        return Life::Exited(format!(
            "could not start: cannot create {}: {err}",
            dir.display()
        ));
    }
    let Some(command) = ctx.info.spec.commands.first() else {
        return Life::Exited("has no command".to_owned());
    };
    let mut spec = command_spec(&ctx.shared, &ctx.info, command);
    spec.env.extend([
        ("TNET_WORKER".to_owned(), (slot + 1).to_string()),
        (
            "TNET_WORKER_DIR".to_owned(),
            dir.to_string_lossy().into_owned(),
        ),
    ]);
    // Standard error goes to the task's log, and during a call also to the
    // call's stderr tail (a crash's last words reach its caller).
    let (stderr, stderr_rx) = mpsc::channel(16);
    let current = Arc::new(std::sync::Mutex::new(None));
    let forward = tokio::spawn(forward_stderr(stderr_rx, ctx.log.clone(), current.clone()));
    let why = match ctx.info.runner.spawn_piped(&spec, stderr).await {
        Ok(piped) => {
            record_group(&dir, piped.exec.locator());
            let mut worker = Worker::new(piped, current, forward);
            set(ctx, slot, |w| w.pid = worker.exec.pid());
            let why = worker.run(ctx, slot, jobs).await;
            // Whatever ended it, nothing it started outlives it.
            let grace = match why {
                Life::Stopped => ctx.info.spec.stop_grace,
                _ => CALL_GRACE,
            };
            if let Err(err) = worker.exec.terminate(grace).await {
                tracing::warn!(task = %ctx.info.name, "stopping a worker failed: {err}");
            }
            worker.forward.abort();
            why
        }
        Err(err) => {
            forward.abort();
            Life::Exited(format!("could not start: {err}"))
        }
    };
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&dir)).await;
    drop(held);
    why
}

/// A running worker and the frames of its standard output.
struct Worker {
    exec: Box<dyn Execution>,
    stdin: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    frames: FrameReader,
    /// Where its standard error goes during a call ([`forward_stderr`]).
    current: Current,
    /// The task that forwards its standard error; it ends when the pipe closes.
    forward: tokio::task::JoinHandle<()>,
    /// The id of the next call.
    next_id: u64,
}

/// The call a worker answers now, for its standard error.
type Current = Arc<std::sync::Mutex<Option<mpsc::Sender<JobEvent>>>>;

/// Sets or clears [`Current`] (nothing awaits under the lock).
fn set_current(current: &Current, to: Option<mpsc::Sender<JobEvent>>) {
    *current.lock().unwrap_or_else(|p| p.into_inner()) = to;
}

/// Copies a worker's standard error into the task's log, and into the
/// stderr tail of the call it answers, until the pipe closes.
async fn forward_stderr(
    mut stderr: mpsc::Receiver<OutputChunk>,
    log: mpsc::Sender<OutputChunk>,
    current: Current,
) {
    while let Some(chunk) = stderr.recv().await {
        let call = current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .cloned();
        if let Some(call) = call {
            // Never waits: a call busy with its output may miss some stderr
            // in its tail; the log has it all.
            let _ = call.try_send(JobEvent::Stderr(chunk.bytes.clone()));
        }
        if log.send(chunk).await.is_err() {
            tracing::debug!("the task's log is closed");
        }
    }
}

/// How serving one call ended.
enum Served {
    Answered,
    Ended(Life),
}

impl Worker {
    fn new(piped: Piped, current: Current, forward: tokio::task::JoinHandle<()>) -> Worker {
        Worker {
            exec: piped.exec,
            stdin: piped.stdin,
            frames: FrameReader::new(piped.stdout),
            current,
            forward,
            next_id: 1,
        }
    }

    async fn run(&mut self, ctx: &CallContext, slot: usize, jobs: &flume::Receiver<Job>) -> Life {
        if let Some(end) = self.until_ready(ctx).await {
            return end;
        }
        set(ctx, slot, |w| w.state = WorkerState::Ready);
        loop {
            tokio::select! {
                job = jobs.recv_async() => {
                    let Ok(job) = job else { return Life::Stopped };
                    if job.abandoned.is_cancelled() {
                        continue;
                    }
                    set(ctx, slot, |w| w.state = WorkerState::Busy);
                    match self.serve(ctx, job).await {
                        Served::Answered => set(ctx, slot, |w| {
                            w.calls += 1;
                            w.state = WorkerState::Ready;
                        }),
                        Served::Ended(life) => return life,
                    }
                }
                frame = self.frames.next() => match frame {
                    Some(Frame::Ready) => {}
                    Some(Frame::Noise(line)) => log_noise(ctx, line).await,
                    Some(Frame::Data { id, .. } | Frame::End { id, .. }) => {
                        note(ctx, &format!("worker {} answered call {id}, which it was not given", slot + 1)).await;
                    }
                    None => return self.exited(ctx).await,
                },
                exit = self.exec.wait() => return Life::Exited(describe(exit)),
                () = ctx.stop.cancelled() => return Life::Stopped,
            }
        }
    }

    /// Waits for `{"ready": true}`; `Some` when the worker ended first.
    async fn until_ready(&mut self, ctx: &CallContext) -> Option<Life> {
        let noted = tokio::time::sleep(READY_NOTE_AFTER);
        tokio::pin!(noted);
        let mut late = false;
        loop {
            tokio::select! {
                frame = self.frames.next() => match frame {
                    Some(Frame::Ready) => return None,
                    Some(Frame::Noise(line)) => log_noise(ctx, line).await,
                    Some(_) => note(ctx, "a worker answered a call before it said {\"ready\": true}; ignored").await,
                    None => return Some(self.exited(ctx).await),
                },
                exit = self.exec.wait() => return Some(Life::Exited(describe(exit))),
                () = ctx.stop.cancelled() => return Some(Life::Stopped),
                () = &mut noted, if !late => {
                    late = true;
                    note(ctx, &format!(
                        "a worker has not said it is ready after {}: a worker writes the line {{\"ready\": true}} on its standard output when it can take calls",
                        humantime::format_duration(READY_NOTE_AFTER)
                    )).await;
                }
            }
        }
    }

    /// Its standard output closed: it is ending (or closed it, which is as bad).
    async fn exited(&mut self, ctx: &CallContext) -> Life {
        match tokio::time::timeout(CALL_GRACE, self.exec.wait()).await {
            Ok(exit) => Life::Exited(describe(exit)),
            Err(_) => {
                note(ctx, "a worker closed its standard output; it is killed").await;
                Life::Exited("closed its standard output".to_owned())
            }
        }
    }

    /// Gives `job` to the worker and relays its answer and standard error.
    async fn serve(&mut self, ctx: &CallContext, job: Job) -> Served {
        set_current(&self.current, Some(job.events.clone()));
        let served = self.relay(ctx, job).await;
        set_current(&self.current, None);
        served
    }

    /// Gives `job` to the worker and relays its answer.
    async fn relay(&mut self, ctx: &CallContext, job: Job) -> Served {
        let id = self.next_id;
        self.next_id += 1;
        job.taken.store(true, Ordering::Relaxed);
        let left = job
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        let frame = CallFrame {
            id,
            args: job.args.clone(),
            input: job.input.to_string_lossy().into_owned(),
            input_len: job.input_len,
            call_dir: job.call_dir.to_string_lossy().into_owned(),
            timeout_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
        };
        let line = frame.line();
        let written = async {
            self.stdin.write_all(&line).await?;
            self.stdin.flush().await
        };
        tokio::select! {
            sent = written => if sent.is_err() {
                // It no longer reads: it is ending.
                let life = self.exited(ctx).await;
                return self.died(job, life).await;
            },
            () = job.abandoned.cancelled() => return Served::Ended(Life::Killed),
            () = ctx.stop.cancelled() => return Served::Ended(Life::Stopped),
        }
        let mut exited = None;
        loop {
            tokio::select! {
                biased;
                frame = self.frames.next() => match frame {
                    Some(Frame::Data { id: of, bytes }) if of == id => {
                        tokio::select! {
                            sent = job.events.send(JobEvent::Output(bytes)) => {
                                if sent.is_err() {
                                    return Served::Ended(Life::Killed);
                                }
                            }
                            () = job.abandoned.cancelled() => return Served::Ended(Life::Killed),
                            () = ctx.stop.cancelled() => return Served::Ended(Life::Stopped),
                        }
                    }
                    Some(Frame::End { id: of, exit_code, stderr }) if of == id => {
                        let _ = job.events.send(JobEvent::End { exit_code, stderr }).await;
                        return match exited {
                            Some(exit) => Served::Ended(Life::Exited(describe(Ok(exit)))),
                            None => Served::Answered,
                        };
                    }
                    Some(Frame::Ready) => {}
                    Some(Frame::Noise(line)) => log_noise(ctx, line).await,
                    Some(Frame::Data { id: of, .. } | Frame::End { id: of, .. }) => {
                        note(ctx, &format!("a worker answered call {of} during call {id}; ignored")).await;
                    }
                    None => {
                        let life = match exited {
                            Some(exit) => Life::Exited(describe(Ok(exit))),
                            None => self.exited(ctx).await,
                        };
                        return self.died(job, life).await;
                    }
                },
                exit = self.exec.wait(), if exited.is_none() => {
                    // What it wrote before exiting is still read; ending its
                    // group closes the pipe for good.
                    let _ = self.exec.terminate(CALL_GRACE).await;
                    exited = Some(exit.unwrap_or(Exit::Code(-1)));
                }
                () = job.abandoned.cancelled() => return Served::Ended(Life::Killed),
                () = ctx.stop.cancelled() => return Served::Ended(Life::Stopped),
            }
        }
    }

    /// The worker ended during `job`: the call is told.
    async fn died(&mut self, job: Job, life: Life) -> Served {
        // Ends what may be left of it (a worker that closed its output but
        // runs on), and reads how it ended.
        let exit = self
            .exec
            .terminate(CALL_GRACE)
            .await
            .unwrap_or(Exit::Code(-1));
        // Its last words (a traceback) before the news: the pipe closes
        // once it is dead, unless something it started holds it.
        let _ = tokio::time::timeout(STDERR_SETTLE, &mut self.forward).await;
        let _ = job.events.send(JobEvent::Died(exit)).await;
        Served::Ended(life)
    }
}

/// How an exit reads in the task's log.
fn describe(exit: std::io::Result<Exit>) -> String {
    match exit {
        Ok(Exit::Code(code)) => format!("exited with code {code}"),
        Ok(Exit::Signal(signal)) => format!("was killed by signal {signal}"),
        Err(err) => format!("was lost track of ({err})"),
    }
}

/// A line of a worker's standard output that is not a frame: its own
/// output, which goes to the task's log.
async fn log_noise(ctx: &CallContext, line: Vec<u8>) {
    let chunk = OutputChunk {
        stream: Stream::Stdout,
        bytes: line,
    };
    let _ = ctx.log.send(chunk).await;
}

/// Changes worker `slot`'s entry in what `tnet services` shows.
fn set(ctx: &CallContext, slot: usize, change: impl FnOnce(&mut WorkerStatus)) {
    ctx.load.change_worker(slot, change);
}

/// Writes a line of tnet's own into the task's log.
async fn note(ctx: &CallContext, text: &str) {
    let chunk = OutputChunk {
        stream: Stream::Stderr,
        bytes: format!("[tnet] {text}\n").into_bytes(),
    };
    let _ = ctx.log.send(chunk).await;
}
