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
    let mut out = std::io::stdout().lock();
    out.write_all(chunk.text.as_bytes())?;
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
                    out.write_all(&sample.payload().to_bytes())?;
                    out.flush()?;
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}
