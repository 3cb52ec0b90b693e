//! One service call: wait for a turn, run the commands with the caller's
//! input, stream their standard output back, and answer with how they ended
//! (the reply format is in `tnet_proto::msg::service`).
//!
//! Memory stays bounded whatever the output size: output is read in small
//! chunks over a bounded channel and sent in replies of at most
//! [`RESULT_CHUNK`] bytes; a reply waits while Zenoh's queue towards the
//! caller is full (calls use blocking congestion control), which stops the
//! reading, which blocks the command on its pipe.
//!
//! Each call gets a folder of its own under the host's records: the input
//! file (`TNET_INPUT`), room for scratch files (`TNET_CALL_DIR`), and the
//! process group of the command, so that a host killed during a call can
//! end it when it starts again. The folder goes when the call ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tnet_proto::msg::{
    self, CallEnd, CallError, CallRequest, ErrorKind, ResultMeta, RESULT_CHUNK, STDERR_TAIL,
};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use zenoh::query::Query;
use zenoh::Wait;

use super::folders::{Spares, INPUT};
use crate::callers::CallerWatch;
use crate::host::Shared;
use crate::runner::{Execution, Exit, Locator, OutputChunk, Stream};
use crate::store::{now_rfc3339, FinishedRun};
use crate::supervisor::{command_spec, TaskInfo};

/// How long a call's processes get between TERM and KILL when the call ends
/// early (time limit, caller gone, service stopped).
pub(crate) const CALL_GRACE: Duration = Duration::from_secs(2);

/// The longest time limit a call can have, whatever a caller asks for
/// (so that no deadline overflows the clock).
const LONGEST_CALL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Inputs and first replies up to this size are written and sent in place,
/// not under `block_in_place`: handing the thread's other tasks to another
/// thread costs a thread wake-up each time, more than a small write takes.
/// (A reply waits for room only when its caller's link is full, which a
/// small call's one reply meets only behind another call's large output.)
const IN_PLACE: usize = 64 << 10;

/// The name of the file in a call's folder that records its process group.
pub const GROUP_FILE: &str = "group";

/// What every call of one service shares.
pub(crate) struct CallContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) info: Arc<TaskInfo>,
    /// The service's own key, which every reply carries.
    pub(crate) key: String,
    /// `max_concurrent_calls` permits; tokio's semaphore is fair, so waiting calls go in order.
    pub(crate) limiter: Arc<Semaphore>,
    /// Cancelled when the service stops.
    pub(crate) stop: CancellationToken,
    /// The task's log: a call's standard error is kept there.
    pub(crate) log: mpsc::Sender<OutputChunk>,
    /// Calls running and waiting, for `tnet services`.
    pub(crate) load: Arc<super::CallLoad>,
    /// A warm service's queue of calls for its workers; `None` when cold.
    pub(crate) jobs: Option<flume::Sender<super::worker::Job>>,
    /// Call folders made ahead of calls.
    pub(crate) spares: Arc<Spares>,
}

/// A finished call, for the task's run history.
pub(crate) struct CallRecord {
    pub(crate) run: FinishedRun,
}

/// Serves one query from its arrival to its last reply.
pub(crate) async fn serve(ctx: Arc<CallContext>, query: Query) -> CallRecord {
    let arrived = Instant::now();
    let started_at = now_rfc3339();
    let (exit_code, outcome) = run(&ctx, &query, arrived).await;
    if outcome != "succeeded" {
        tracing::debug!(task = %ctx.info.name, outcome, "call ended");
    }
    CallRecord {
        run: FinishedRun {
            phase: "call",
            started_at,
            duration_ms: millis(arrived.elapsed()),
            exit_code,
            outcome,
        },
    }
}

/// Runs a call; returns the exit code and outcome to record.
async fn run(ctx: &CallContext, query: &Query, arrived: Instant) -> (Option<i32>, &'static str) {
    let request = match read_request(query) {
        Ok(request) => request,
        Err(err) => {
            reply_error(query, &err);
            return (None, "rejected");
        }
    };
    let input_size = query.payload().map_or(0, |p| p.len() as u64);
    if let Err(err) = ctx.shared.guards.limits.check_service_input(input_size) {
        // Refused before a turn is taken or a byte is written.
        reply_error(query, &CallError::new(err.kind, err.message));
        return (None, "rejected");
    }
    let limit = request
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(ctx.info.spec.service.timeout)
        .min(LONGEST_CALL);
    let deadline = tokio::time::Instant::from_std(arrived + limit);
    let mut caller = ctx.shared.callers.watch(request.caller.as_deref());

    let waiting = ctx.load.wait();
    let permit = tokio::select! {
        permit = ctx.limiter.clone().acquire_owned() => match permit {
            Ok(permit) => permit,
            Err(_) => return stopped(query, ctx),
        },
        () = tokio::time::sleep_until(deadline) => {
            let err = CallError::new(
                ErrorKind::Timeout,
                format!(
                    "the call waited {} for a turn (service `{}` runs {} call(s) at once) and ran out of time",
                    humantime::format_duration(limit),
                    ctx.info.name,
                    ctx.info.spec.service.max_concurrent_calls
                ),
            );
            reply_error(query, &err);
            return (None, "timeout");
        }
        () = caller.gone() => return (None, "cancelled"),
        () = ctx.stop.cancelled() => return stopped(query, ctx),
    };

    drop(waiting);
    let _running = ctx.load.run();
    let (dir, held) = ctx.spares.take();
    let timing = Timing {
        arrived,
        deadline,
        limit,
    };
    let outcome = match &ctx.jobs {
        Some(jobs) => {
            super::warm::execute(ctx, jobs, query, &request, &dir, timing, &mut caller).await
        }
        None => execute(ctx, query, &request, &dir, timing, &mut caller).await,
    };
    drop(permit);
    let spares = ctx.spares.clone();
    let _ = tokio::task::spawn_blocking(move || {
        spares.give_back(dir, held);
        // The folder of a call to come, now that this one's answer has gone.
        spares.fill();
    })
    .await;
    outcome
}

/// When a call arrived, and until when it may run.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) arrived: Instant,
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) limit: Duration,
}

/// Runs the commands in order, stopping at the first that fails, and answers.
async fn execute(
    ctx: &CallContext,
    query: &Query,
    request: &CallRequest,
    dir: &Path,
    timing: Timing,
    caller: &mut CallerWatch,
) -> (Option<i32>, &'static str) {
    let Some(input) = store_input(query, dir) else {
        return (None, "failed");
    };
    let mut result = ResultStream::new(query, &ctx.key, ctx.log.clone());
    let mut last = Exit::Code(0);
    for command in &ctx.info.spec.commands {
        let mut spec = command_spec(&ctx.shared, &ctx.info, command);
        spec.args = request.args.clone();
        spec.stdin = Some(input.clone());
        spec.env.extend([
            ("TNET_INPUT".to_owned(), path_text(&input)),
            ("TNET_CALL_DIR".to_owned(), path_text(dir)),
            (
                "TNET_ARGS".to_owned(),
                String::from_utf8_lossy(&msg::encode(&request.args)).into_owned(),
            ),
        ]);
        let (tx, mut rx) = mpsc::channel(16);
        let mut exec = match ctx.info.runner.spawn(&spec, tx) {
            Ok(exec) => exec,
            Err(err) => {
                result.note_stderr(format!("tnet: cannot start `{command}`: {err}\n").as_bytes());
                last = Exit::Code(127);
                break;
            }
        };
        record_group(dir, exec.locator());
        let watched = watch(
            exec.as_mut(),
            &mut rx,
            &mut result,
            timing.deadline,
            caller,
            &ctx.stop,
        )
        .await;
        match watched {
            Watched::Exited(exit) => last = exit,
            Watched::TimedOut(exit) => {
                let err = CallError {
                    kind: ErrorKind::Timeout,
                    message: format!(
                        "the call ran past its time limit of {}; its processes were killed",
                        humantime::format_duration(timing.limit)
                    ),
                    end: Some(result.end(exit, timing.arrived)),
                };
                reply_error(query, &err);
                return (exit.code(), "timeout");
            }
            Watched::CallerGone => return (None, "cancelled"),
            Watched::Stopped => return stopped(query, ctx),
        }
        if !last.success() {
            break;
        }
    }
    answer(ctx, query, result, last, timing.arrived)
}

/// Answers a call whose commands (or worker) ended with `last`: a result, or
/// a failed call when the service counts a non-zero exit as one (SPEC 6.2).
pub(crate) fn answer(
    ctx: &CallContext,
    query: &Query,
    mut result: ResultStream<'_>,
    last: Exit,
    arrived: Instant,
) -> (Option<i32>, &'static str) {
    let end = result.end(last, arrived);
    if !last.success() && ctx.info.spec.service.service_fail_is_command_fail {
        result.flush();
        let how = match (last.code(), end.signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            (None, None) => "failed".to_owned(),
        };
        let err = CallError {
            kind: ErrorKind::CommandFailed,
            message: format!("the service's command {how}"),
            end: Some(end),
        };
        reply_error(query, &err);
        return (last.code(), "failed");
    }
    result.finish(end);
    let outcome = if last.success() {
        "succeeded"
    } else {
        "failed"
    };
    (last.code(), outcome)
}

/// How watching one command ended.
enum Watched {
    /// It exited and its output is all read.
    Exited(Exit),
    /// It ran past the deadline and was killed.
    TimedOut(Exit),
    /// The caller went away; the command was killed.
    CallerGone,
    /// The service stopped; the command was killed.
    Stopped,
}

/// Streams one command's output until it has exited and its pipes are
/// closed, or until the call ends early.
async fn watch(
    exec: &mut dyn Execution,
    rx: &mut mpsc::Receiver<OutputChunk>,
    result: &mut ResultStream<'_>,
    deadline: tokio::time::Instant,
    caller: &mut CallerWatch,
    stop: &CancellationToken,
) -> Watched {
    let mut exit = None;
    let mut open = true;
    loop {
        if let (Some(exit), false) = (exit, open) {
            return Watched::Exited(exit);
        }
        tokio::select! {
            chunk = rx.recv(), if open => match chunk {
                Some(chunk) => result.take(chunk).await,
                None => open = false,
            },
            status = exec.wait(), if exit.is_none() => {
                let status = status.unwrap_or_else(|err| {
                    // Where the caller looks: the call's error output.
                    tracing::warn!("lost track of a call's command: {err}");
                    result.note_stderr(format!("tnet: the command could not run: {err}\n").as_bytes());
                    Exit::Code(-1)
                });
                // The call is over: anything its command left running goes
                // too, and with it the last holders of the output pipes.
                let _ = exec.terminate(CALL_GRACE).await;
                exit = Some(status);
            }
            () = tokio::time::sleep_until(deadline) => {
                return Watched::TimedOut(end_early(exec).await);
            }
            () = caller.gone() => {
                end_early(exec).await;
                return Watched::CallerGone;
            }
            () = stop.cancelled() => {
                end_early(exec).await;
                return Watched::Stopped;
            }
        }
    }
}

/// Ends a command's process group (TERM, then KILL after the grace period).
async fn end_early(exec: &mut dyn Execution) -> Exit {
    exec.terminate(CALL_GRACE).await.unwrap_or_else(|err| {
        tracing::warn!("stopping a call's command failed: {err}");
        Exit::Code(-1)
    })
}

/// The answer to a call interrupted by the service stopping.
pub(crate) fn stopped(query: &Query, ctx: &CallContext) -> (Option<i32>, &'static str) {
    let name = &ctx.info.name;
    let message = if ctx.load.all_crashloop() {
        format!(
            "service `{name}` stopped taking calls: its worker(s) kept crashing (crashloop); `tnet logs {name}` shows why, `tnet start {name}` tries again"
        )
    } else {
        format!("service `{name}` was stopped during the call; its processes were killed")
    };
    let err = CallError::new(ErrorKind::Cancelled, message);
    reply_error(query, &err);
    (None, "cancelled")
}

/// The call's attachment, or the error to answer when it is not one.
fn read_request(query: &Query) -> Result<CallRequest, CallError> {
    let Some(attachment) = query.attachment() else {
        return Ok(CallRequest::default());
    };
    let request: CallRequest = msg::decode(&attachment.to_bytes()).map_err(|e| {
        CallError::new(
            ErrorKind::BadRequest,
            format!("the call's attachment is not a tnet call request ({e}); send JSON like {{\"args\": [\"a\"], \"timeout_ms\": 5000}}, or no attachment"),
        )
    })?;
    if request.timeout_ms == Some(0) {
        return Err(CallError::new(
            ErrorKind::BadRequest,
            "`timeout_ms` must be more than 0",
        ));
    }
    Ok(request)
}

/// Writes the call's input into its folder; when it cannot, answers the
/// caller with the reason and gives `None`.
pub(crate) fn store_input(query: &Query, dir: &Path) -> Option<PathBuf> {
    match write_input(query, dir) {
        Ok(input) => Some(input),
        Err(err) => {
            let err = CallError::new(
                ErrorKind::HostFailure,
                format!("the host could not store the call's input: {err}"),
            );
            reply_error(query, &err);
            None
        }
    }
}

/// Writes the call's input into its folder and returns the file's path.
fn write_input(query: &Query, dir: &Path) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let path = dir.join(INPUT);
    let len = query.payload().map_or(0, |p| p.len());
    let write = || {
        // A spare folder (`folders.rs`) has the file, empty: written in place.
        std::fs::create_dir_all(dir)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut file = std::io::BufWriter::new(file);
        if let Some(payload) = query.payload() {
            for slice in payload.slices() {
                file.write_all(slice)?;
            }
        }
        // Not synced to disk: the input only has to outlive this call.
        file.flush()
    };
    if len <= IN_PLACE {
        write()?;
    } else {
        without_stalling(write)?;
    }
    Ok(path)
}

/// Notes the process group of a call's command, for a host that restarts after a crash.
pub(crate) fn record_group(dir: &Path, locator: Option<Locator>) {
    let Some(loc) = locator else { return };
    // Not synced to disk: it only matters if the host process dies, and the
    // page cache outlives a process.
    let text = format!("{} {}\n", loc.pgid, loc.start_ticks);
    if let Err(err) = std::fs::write(dir.join(GROUP_FILE), text) {
        tracing::warn!("cannot record a call's process group: {err}");
    }
}

/// Reads what [`record_group`] wrote.
pub fn read_group(dir: &Path) -> Option<Locator> {
    let text = std::fs::read_to_string(dir.join(GROUP_FILE)).ok()?;
    let mut parts = text.split_whitespace();
    Some(Locator {
        pgid: parts.next()?.parse().ok()?,
        start_ticks: parts.next()?.parse().ok()?,
    })
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs `f`, which may block (a reply waiting for room in Zenoh's queue, a
/// large file write), without stalling the other tasks of this worker thread.
fn without_stalling<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Answers a call with an error reply.
pub(crate) fn reply_error(query: &Query, err: &CallError) {
    let payload = msg::encode(err);
    if let Err(e) = without_stalling(|| query.reply_err(payload).wait()) {
        tracing::debug!("cannot answer a call: {e}");
    }
}

/// A call's standard output on its way to the caller, and the end of its
/// standard error.
pub(crate) struct ResultStream<'q> {
    query: &'q Query,
    key: &'q str,
    log: mpsc::Sender<OutputChunk>,
    /// Output not sent yet; less than [`RESULT_CHUNK`] bytes between replies.
    buffer: Vec<u8>,
    /// Sequence number of the next reply.
    seq: u64,
    /// Output bytes sent so far.
    sent: u64,
    stderr_tail: Vec<u8>,
}

impl<'q> ResultStream<'q> {
    pub(crate) fn new(query: &'q Query, key: &'q str, log: mpsc::Sender<OutputChunk>) -> Self {
        ResultStream {
            query,
            key,
            log,
            buffer: Vec::with_capacity(RESULT_CHUNK),
            seq: 0,
            sent: 0,
            stderr_tail: Vec::new(),
        }
    }

    /// Takes one chunk of output: stdout towards the caller, stderr to the
    /// tail and the task's log.
    pub(crate) async fn take(&mut self, chunk: OutputChunk) {
        match chunk.stream {
            Stream::Stdout => {
                self.buffer.extend_from_slice(&chunk.bytes);
                while self.buffer.len() >= RESULT_CHUNK {
                    let rest = self.buffer.split_off(RESULT_CHUNK);
                    let full = std::mem::replace(&mut self.buffer, rest);
                    self.send(full, None);
                }
            }
            Stream::Stderr => {
                self.note_stderr(&chunk.bytes);
                if self.log.send(chunk).await.is_err() {
                    tracing::debug!("the task's log is closed");
                }
            }
        }
    }

    /// Keeps the end of standard error.
    pub(crate) fn note_stderr(&mut self, bytes: &[u8]) {
        self.stderr_tail.extend_from_slice(bytes);
        let excess = self.stderr_tail.len().saturating_sub(STDERR_TAIL);
        self.stderr_tail.drain(..excess);
    }

    /// How the call ended, with what was sent.
    pub(crate) fn end(&self, exit: Exit, arrived: Instant) -> CallEnd {
        CallEnd {
            exit_code: exit.code(),
            signal: match exit {
                Exit::Signal(s) => Some(s),
                Exit::Code(_) => None,
            },
            stderr_tail: String::from_utf8_lossy(&self.stderr_tail).into_owned(),
            bytes: self.sent + self.buffer.len() as u64,
            duration_ms: millis(arrived.elapsed()),
        }
    }

    /// Sends what is buffered as a data reply, if anything is.
    pub(crate) fn flush(&mut self) {
        if !self.buffer.is_empty() {
            let bytes = std::mem::take(&mut self.buffer);
            self.send(bytes, None);
        }
    }

    /// Sends the last reply: the rest of the output, and how the call ended.
    pub(crate) fn finish(&mut self, end: CallEnd) {
        let bytes = std::mem::take(&mut self.buffer);
        self.send(bytes, Some(end));
    }

    fn send(&mut self, bytes: Vec<u8>, end: Option<CallEnd>) {
        let meta = ResultMeta { seq: self.seq, end };
        let len = bytes.len() as u64;
        let in_place = self.seq == 0 && bytes.len() <= IN_PLACE;
        let reply = || {
            self.query
                .reply(self.key, bytes)
                .attachment(msg::encode(&meta))
                .wait()
        };
        let sent = if in_place {
            reply()
        } else {
            without_stalling(reply)
        };
        if let Err(err) = sent {
            tracing::debug!("cannot send a call's output: {err}");
        }
        self.seq += 1;
        self.sent += len;
    }
}
