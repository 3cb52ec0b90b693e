//! `tnet inbox`: the unread notifications of every host (`qmail`, and
//! notifications no channel could deliver), acknowledging, following.

use std::io::Write;

use anyhow::bail;
use tnet_proto::keys;
use tnet_proto::msg::{self, Delivery, InboxEntry, InboxRequest, Request, Response};

use crate::args::InboxArgs;
use crate::client::Client;
use crate::output::{self, when};

/// Lists, acknowledges or follows inbox entries.
pub async fn run(client: &Client, args: InboxArgs) -> anyhow::Result<u8> {
    // Subscribed before listing, so no entry falls between the two.
    let sub = if args.follow {
        Some(
            client
                .session
                .declare_subscriber(keys::all_inboxes())
                .await
                .map_err(|e| anyhow::anyhow!("cannot follow inboxes: {e}"))?,
        )
    } else {
        None
    };
    let Listing {
        entries,
        deliveries,
        acked,
        hosts,
    } = match &args.ack {
        Some(id) => ack_one(client, id).await?,
        None => {
            ask(
                client,
                None,
                InboxRequest {
                    ack: None,
                    ack_all: args.ack_all,
                },
            )
            .await?
        }
    };
    if args.ack.is_some() || args.ack_all {
        eprintln!(
            "marked {acked} entr{} read",
            if acked == 1 { "y" } else { "ies" }
        );
    }
    if args.deliveries {
        if deliveries.is_empty() && !args.json {
            println!("no deliveries on the {hosts} host(s) that answered");
            return Ok(0);
        }
        return print_deliveries(&deliveries, args.json);
    }
    print_entries(&entries, args.json)?;
    if entries.is_empty() && !args.json {
        println!("the inbox is empty on the {hosts} host(s) that answered");
    }
    let Some(sub) = sub else { return Ok(0) };
    let mut seen: std::collections::HashSet<(String, u64)> =
        entries.iter().map(|e| (e.host.clone(), e.id)).collect();
    loop {
        tokio::select! {
            sample = sub.recv_async() => {
                let Ok(sample) = sample else { return Ok(0) };
                let Ok(entry) = msg::decode::<InboxEntry>(&sample.payload().to_bytes()) else { continue };
                if seen.insert((entry.host.clone(), entry.id)) {
                    print_entries(std::slice::from_ref(&entry), args.json)?;
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}

/// What the hosts asked answered.
struct Listing {
    /// Unread entries, oldest first.
    entries: Vec<InboxEntry>,
    /// Recent deliveries, with their host.
    deliveries: Vec<(String, Delivery)>,
    /// How many entries were marked read.
    acked: u64,
    /// How many hosts answered, for an empty listing.
    hosts: usize,
}

/// Asks one host or every host.
async fn ask(
    client: &Client,
    host: Option<&str>,
    request: InboxRequest,
) -> anyhow::Result<Listing> {
    let answers = client.ask(host, Request::Inbox(request)).await?;
    if answers.is_empty() {
        bail!("{}", client.no_host_hint());
    }
    let hosts = answers.len();
    let (mut entries, mut deliveries, mut acked) = (Vec::new(), Vec::new(), 0);
    let mut failed = None;
    for env in answers {
        match env.response {
            Response::Inbox {
                entries: e,
                deliveries: d,
                acked: a,
            } => {
                entries.extend(e);
                deliveries.extend(d.into_iter().map(|d| (env.host.clone(), d)));
                acked += a;
            }
            Response::Error(err) => {
                eprintln!("tnet: host `{}`: {err}", env.host);
                failed = Some(err);
            }
            _ => eprintln!("tnet: host `{}` gave an unexpected answer", env.host),
        }
    }
    if let (Some(err), Some(_)) = (failed, host) {
        bail!("{err}");
    }
    entries.sort_by(|a, b| (&a.created, &a.host, a.id).cmp(&(&b.created, &b.host, b.id)));
    Ok(Listing {
        entries,
        deliveries,
        acked,
        hosts,
    })
}

/// `--ack ID` or `--ack HOST/ID`.
async fn ack_one(client: &Client, spec: &str) -> anyhow::Result<Listing> {
    let (host, id) = match spec.rsplit_once('/') {
        Some((host, id)) => (Some(host.to_owned()), id),
        None => (None, spec),
    };
    let Ok(id) = id.parse::<u64>() else {
        bail!("`{spec}` is not an inbox entry: give its ID (`3`) or HOST/ID (`lab1/3`) as `tnet inbox` shows");
    };
    let host = match host {
        Some(h) => h,
        None => {
            let entries = ask(client, None, InboxRequest::default()).await?.entries;
            let hosts: Vec<&str> = entries
                .iter()
                .filter(|e| e.id == id)
                .map(|e| e.host.as_str())
                .collect();
            match hosts.as_slice() {
                [one] => (*one).to_owned(),
                [] => bail!("no host has an unread inbox entry {id}; `tnet inbox` lists them"),
                many => bail!(
                    "several hosts have an entry {id} ({}); write HOST/{id}",
                    many.join(", ")
                ),
            }
        }
    };
    ask(
        client,
        Some(&host),
        InboxRequest {
            ack: Some(id),
            ack_all: false,
        },
    )
    .await
}

fn print_entries(entries: &[InboxEntry], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        // One JSON array per listing; `-f` adds one array per new entry.
        writeln!(out, "{}", serde_json::to_string(entries)?)?;
    } else {
        for e in entries {
            writeln!(
                out,
                "{}/{}  {}  {}  [{}]",
                e.host,
                e.id,
                when(Some(&e.created)),
                e.summary,
                e.channel
            )?;
            if let Some(reason) = &e.reason {
                writeln!(out, "    {reason}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn print_deliveries(deliveries: &[(String, Delivery)], json: bool) -> anyhow::Result<u8> {
    if json {
        let list: Vec<serde_json::Value> = deliveries
            .iter()
            .map(|(host, d)| {
                let mut v = serde_json::to_value(d).unwrap_or_default();
                v["host"] = serde_json::Value::String(host.clone());
                v
            })
            .collect();
        output::json(&list)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = deliveries
        .iter()
        .map(|(host, d)| {
            vec![
                host.clone(),
                d.id.to_string(),
                d.task.clone(),
                d.event.clone(),
                d.channel.clone(),
                d.state.clone(),
                d.attempts.to_string(),
                d.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "HOST", "ID", "TASK", "EVENT", "CHANNEL", "STATE", "ATTEMPTS", "ERROR",
        ],
        &rows,
    )?;
    Ok(0)
}
