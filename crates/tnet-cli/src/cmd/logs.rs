//! `tnet logs <task> [-f]`: a task's output, and what it writes next.
//!
//! To follow without gaps or repeats, the subscription starts before the
//! tail is read; published chunks carry sequence numbers, and only those after
//! the tail's are printed.

use std::io::Write;

use anyhow::bail;
use tnet_proto::keys;
use tnet_proto::msg::{LogsRequest, Request, Response};

use crate::args::LogsArgs;
use crate::client::Client;
use crate::target;

/// Prints (and follows) a task's output.
pub async fn run(client: &Client, args: LogsArgs) -> anyhow::Result<u8> {
    let t = target::resolve(client, &args.task).await?;
    let subscriber = if args.follow {
        let sub = client
            .session
            .declare_subscriber(keys::task_log(&t.host, &t.name))
            .await
            .map_err(|e| anyhow::anyhow!("cannot follow the log: {e}"))?;
        Some(sub)
    } else {
        None
    };
    let chunk = match client
        .ask_host(
            &t.host,
            Request::Logs(LogsRequest {
                name: t.name.clone(),
                tail_bytes: args.tail,
            }),
        )
        .await?
    {
        Response::Logs(chunk) => chunk,
        other => bail!("host `{}` gave an unexpected answer: {other:?}", t.host),
    };
    let mut stamps = Stamps {
        keep: args.timestamps,
        at_line_start: true,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&stamps.filter(chunk.text.as_bytes()))?;
    out.flush()?;
    drop(out);
    let Some(sub) = subscriber else { return Ok(0) };
    loop {
        tokio::select! {
            sample = sub.recv_async() => {
                let Ok(sample) = sample else { return Ok(0) };
                let seq = sample
                    .attachment()
                    .and_then(|a| serde_json::from_slice::<serde_json::Value>(&a.to_bytes()).ok())
                    .and_then(|v| v["seq"].as_u64())
                    .unwrap_or(u64::MAX);
                if seq > chunk.seq {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&stamps.filter(&sample.payload().to_bytes()))?;
                    out.flush()?;
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}

/// The host stamps each line of a log with the time it started
/// (`2026-11-26T08:00:00.123Z `); this shows or hides the stamps.
struct Stamps {
    keep: bool,
    at_line_start: bool,
}

/// Length of a stamp with its trailing space.
const STAMP_LEN: usize = "2026-11-26T08:00:00.123Z ".len();

fn is_stamp(bytes: &[u8]) -> bool {
    bytes.len() >= STAMP_LEN
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[STAMP_LEN - 2] == b'Z'
        && bytes[STAMP_LEN - 1] == b' '
}

impl Stamps {
    fn filter(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.keep {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if self.at_line_start && is_stamp(line) {
                out.extend_from_slice(&line[STAMP_LEN..]);
            } else {
                out.extend_from_slice(line);
            }
            self.at_line_start = line.ends_with(b"\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_hidden_unless_asked_for() {
        let log = b"2026-11-26T08:00:00.123Z hello\n2026-11-26T08:00:01.000Z wor";
        let mut hide = Stamps {
            keep: false,
            at_line_start: true,
        };
        assert_eq!(hide.filter(log), b"hello\nwor");
        assert_eq!(hide.filter(b"ld\n"), b"ld\n");
        let mut keep = Stamps {
            keep: true,
            at_line_start: true,
        };
        assert_eq!(keep.filter(log), log);
    }
}
