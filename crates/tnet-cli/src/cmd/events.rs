//! `tnet events [TASK] [--json]`: what happens to tasks, live (setup done,
//! waiting, restarts, crash loops, stops), until Ctrl-C.

use std::io::Write;

use tnet_proto::keys;
use tnet_proto::msg::{self, Event};

use crate::args::EventsArgs;
use crate::client::Client;
use crate::output::when;
use crate::target;

/// Follows events.
pub async fn run(client: &Client, args: EventsArgs) -> anyhow::Result<u8> {
    let key = match &args.task {
        Some(spec) => {
            let t = target::resolve(client, spec).await?;
            keys::task_event(&t.host, &t.name)
        }
        None => keys::all_events(),
    };
    let sub = client
        .session
        .declare_subscriber(&key)
        .await
        .map_err(|e| anyhow::anyhow!("cannot follow events: {e}"))?;
    // A round trip to every host after declaring: once it is back, the hosts
    // know of this subscriber and no event after this point is missed.
    let hosts = client.hosts().await?;
    eprintln!(
        "following events of {} host(s); Ctrl-C to stop",
        hosts.len()
    );
    loop {
        tokio::select! {
            sample = sub.recv_async() => {
                let Ok(sample) = sample else { return Ok(0) };
                let Ok(event) = msg::decode::<Event>(&sample.payload().to_bytes()) else { continue };
                let mut out = std::io::stdout().lock();
                if args.json {
                    writeln!(out, "{}", serde_json::to_string(&event)?)?;
                } else {
                    writeln!(out, "{}  {}/{}  {:?}  {}", when(Some(&event.time)), event.host, event.task, event.kind, event.message)?;
                }
                out.flush()?;
            }
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}
