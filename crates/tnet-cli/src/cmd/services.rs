//! `tnet services [--json] [--watch]`: every service on every host, with how
//! to call it (SPEC 6.3); with `--watch`, services as they come and go.

use std::io::Write;

use anyhow::bail;
use serde::Serialize;
use tnet_proto::keys;
use tnet_proto::msg::{Request, Response, ServiceInfo};
use tnet_proto::task::InputKind;
use zenoh::sample::SampleKind;

use crate::args::ServicesArgs;
use crate::client::Client;
use crate::output;

/// Lists (or watches) services.
pub async fn run(client: &Client, args: ServicesArgs) -> anyhow::Result<u8> {
    if args.watch {
        return watch(client, args.json).await;
    }
    let answers = client.ask(None, Request::Services).await?;
    if answers.is_empty() {
        bail!("{}", client.no_host_hint());
    }
    let hosts = answers.len();
    let mut services: Vec<ServiceInfo> = Vec::new();
    for env in answers {
        match env.response {
            Response::Services { services: s } => services.extend(s),
            Response::Error(err) => eprintln!("tnet: host `{}`: {err}", env.host),
            _ => eprintln!("tnet: host `{}` gave an unexpected answer", env.host),
        }
    }
    services.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
    if args.json {
        output::json(&services)?;
        return Ok(0);
    }
    if services.is_empty() {
        println!("no services on the {hosts} host(s) that answered");
        return Ok(0);
    }
    let mut out = std::io::stdout().lock();
    for (i, s) in services.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        describe(&mut out, s)?;
    }
    Ok(0)
}

/// One service as a block of lines.
fn describe(out: &mut impl Write, s: &ServiceInfo) -> std::io::Result<()> {
    let about = if s.description.is_empty() {
        String::new()
    } else {
        format!(": {}", s.description)
    };
    writeln!(out, "{}/{} ({}){about}", s.host, s.name, s.state)?;
    let input = match (&s.input.kind, &s.input.media_type) {
        (InputKind::None, _) => "none".to_owned(),
        (kind, Some(media)) => format!("{} ({media})", kind.as_str()),
        (kind, None) => kind.as_str().to_owned(),
    };
    writeln!(out, "  input:  {input}")?;
    let width = s.arguments.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for (i, arg) in s.arguments.iter().enumerate() {
        let label = if i == 0 { "  args:   " } else { "          " };
        writeln!(out, "{label}{:<width$}  {}", arg.name, arg.help)?;
    }
    let limit = humantime::format_duration(std::time::Duration::from_millis(s.timeout_ms));
    let failing = if s.fail_is_command_fail {
        ", a failed command is a failed call"
    } else {
        ""
    };
    // A warm worker takes one call at a time: fewer workers than the limit are the limit.
    let at_once = match &s.warm {
        Some(warm) if !warm.workers.is_empty() => {
            let workers = u32::try_from(warm.workers.len()).unwrap_or(u32::MAX);
            s.max_concurrent_calls.min(workers)
        }
        _ => s.max_concurrent_calls,
    };
    writeln!(
        out,
        "  limits: {at_once} call(s) at once, {limit} each{failing}"
    )?;
    if let Some(warm) = &s.warm {
        // Warm: one long-lived worker per line, with its state.
        for (i, w) in warm.workers.iter().enumerate() {
            let label = if i == 0 { "  warm:   " } else { "          " };
            let pid = w.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
            writeln!(
                out,
                "{label}worker {}: {}{pid}, {} call(s), {} restart(s)",
                i + 1,
                w.state.as_str(),
                w.calls,
                w.restarts
            )?;
        }
    }
    if s.calls_running + s.calls_waiting > 0 {
        writeln!(
            out,
            "  now:    {} running, {} waiting",
            s.calls_running, s.calls_waiting
        )?;
    }
    writeln!(out, "  call:   {}", s.call)
}

/// A service appearing or going, for `--watch --json`.
#[derive(Serialize)]
struct Change<'a> {
    /// `up` or `down`.
    event: &'a str,
    host: &'a str,
    service: &'a str,
}

/// Prints services as their liveliness tokens come and go, until Ctrl-C.
async fn watch(client: &Client, json: bool) -> anyhow::Result<u8> {
    let tokens = client
        .session
        .liveliness()
        .declare_subscriber(keys::all_services())
        .history(true)
        .await
        .map_err(|e| anyhow::anyhow!("cannot watch services: {e}"))?;
    loop {
        tokio::select! {
            sample = tokens.recv_async() => {
                let Ok(sample) = sample else { return Ok(0) };
                let Some((host, service)) = keys::service_of(sample.key_expr().as_str()) else {
                    continue;
                };
                let up = sample.kind() == SampleKind::Put;
                let mut out = std::io::stdout().lock();
                if json {
                    let event = if up { "up" } else { "down" };
                    serde_json::to_writer(&mut out, &Change { event, host, service })?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "{} {host}/{service}", if up { '+' } else { '-' })?;
                }
                out.flush()?;
            }
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}
