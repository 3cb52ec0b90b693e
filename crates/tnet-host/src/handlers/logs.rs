//! `tnet logs`: the end of a task's output.

use tnet_proto::msg::{ErrorReply, LogChunk, LogsRequest, Response};

use crate::host::Host;
use crate::logs::MAX_TAIL;

/// Returns the tail of a task's log.
pub fn handle(host: &Host, req: LogsRequest) -> Result<Response, ErrorReply> {
    let task = super::find_task(host, &req.name)?;
    let max = req.tail_bytes.unwrap_or(MAX_TAIL).min(MAX_TAIL);
    let (bytes, seq) = task
        .info
        .log
        .tail(max)
        .map_err(|e| super::host_failure(format!("cannot read the log: {e}")))?;
    Ok(Response::Logs(LogChunk {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        seq,
    }))
}
