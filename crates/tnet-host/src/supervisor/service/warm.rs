//! One call of a warm service: its input written into its folder as for a
//! cold call, then handed to the service's workers as a [`Job`] and its
//! answer streamed back as it comes (`worker.rs` relays the frames).
//!
//! The call keeps the same rules as a cold one: its time limit counts from
//! its arrival (waiting for a worker included), a caller that goes away
//! cancels it, and a stopped service answers `cancelled`. Ending a call
//! early means killing the worker that answers it, which its keeper then
//! starts again at once, so the next call finds a fresh one.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tnet_proto::msg::{CallEnd, CallError, CallRequest, ErrorKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zenoh::query::Query;

use super::call::{
    answer, millis, reply_error, stopped, store_input, CallContext, ResultStream, Timing,
};
use super::worker::{Job, JobEvent};
use crate::callers::CallerWatch;
use crate::runner::{Exit, OutputChunk, Stream};

/// Runs a call on one of the service's workers and answers it.
pub(crate) async fn execute(
    ctx: &CallContext,
    jobs: &flume::Sender<Job>,
    query: &Query,
    request: &CallRequest,
    dir: &Path,
    timing: Timing,
    caller: &mut CallerWatch,
) -> (Option<i32>, &'static str) {
    let Some(input) = store_input(query, dir) else {
        return (None, "failed");
    };
    let (events, mut rx) = mpsc::channel(16);
    let abandoned = CancellationToken::new();
    let taken = Arc::new(AtomicBool::new(false));
    // However this call ends (even dropped), its worker stops working for
    // it; after the last frame the keeper no longer looks.
    let _abandon = abandoned.clone().drop_guard();
    let job = Job {
        args: request.args.clone(),
        input,
        input_len: query.payload().map_or(0, |p| p.len() as u64),
        call_dir: dir.to_path_buf(),
        deadline: timing.deadline,
        events,
        abandoned: abandoned.clone(),
        taken: taken.clone(),
    };
    if jobs.send(job).is_err() {
        return stopped(query, ctx);
    }
    let mut result = ResultStream::new(query, &ctx.key, ctx.log.clone());
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                // Already in the task's log: only the call's tail.
                Some(JobEvent::Stderr(bytes)) => result.note_stderr(&bytes),
                Some(JobEvent::Output(bytes)) => {
                    result.take(OutputChunk { stream: Stream::Stdout, bytes }).await;
                }
                Some(JobEvent::End { exit_code, stderr }) => {
                    if let Some(stderr) = stderr {
                        result.note_stderr(stderr.as_bytes());
                    }
                    return answer(ctx, query, result, Exit::Code(exit_code), timing.arrived);
                }
                Some(JobEvent::Died(exit)) => {
                    let end = result.end(exit, timing.arrived);
                    result.flush();
                    let how = match exit {
                        Exit::Code(code) => format!("exited with code {code}"),
                        Exit::Signal(signal) => format!("was killed by signal {signal}"),
                    };
                    let err = CallError {
                        kind: ErrorKind::CommandFailed,
                        message: format!(
                            "the service's worker {how} during the call; tnet starts it again (`tnet logs {}` shows its output)",
                            ctx.info.name
                        ),
                        end: Some(end),
                    };
                    reply_error(query, &err);
                    return (exit.code(), "failed");
                }
                // The keeper let the call go: the service is stopping.
                None => return stopped(query, ctx),
            },
            () = tokio::time::sleep_until(timing.deadline) => {
                abandoned.cancel();
                let limit = humantime::format_duration(timing.limit);
                let (message, end) = if taken.load(Ordering::Relaxed) {
                    (
                        format!("the call ran past its time limit of {limit}; its worker was killed and is starting again"),
                        Some(killed(&result, timing)),
                    )
                } else {
                    (
                        format!(
                            "the call waited {limit} for a worker of service `{}` and ran out of time; {}",
                            ctx.info.name,
                            ctx.load.workers_now()
                        ),
                        None,
                    )
                };
                reply_error(query, &CallError { kind: ErrorKind::Timeout, message, end });
                return (None, "timeout");
            }
            () = caller.gone() => {
                abandoned.cancel();
                return (None, "cancelled");
            }
            () = ctx.stop.cancelled() => return stopped(query, ctx),
        }
    }
}

/// How a call whose worker was killed for it ended: by the TERM it was sent.
fn killed(result: &ResultStream<'_>, timing: Timing) -> CallEnd {
    let mut end = result.end(Exit::Signal(15), timing.arrived);
    end.duration_ms = millis(timing.arrived.elapsed());
    end
}
