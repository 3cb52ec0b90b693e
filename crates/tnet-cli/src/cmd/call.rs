//! `tnet call <service> [--input FILE|-] [-o FILE] [-- ARGS]`: run a service
//! on the host that offers it and print its result.
//!
//! The host is found through the host cache when it can be (see
//! `discovery`), so a call does not wait for multicast scouting. The result
//! streams to standard output (or `-o`) as it arrives, except with `--json`,
//! which needs all of it to encode it.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;
use serde::Serialize;
use tnet_proto::fabric::FabricArgs;
use tnet_proto::msg::{CallEnd, CallError, ErrorKind, Request, Response};

use crate::args::CallArgs;
use crate::call::{CallOutcome, CallSpec, Caller};
use crate::client::Client;
use crate::discovery::{self, Route};
use crate::hostcache::HostCache;
use crate::{output, target};

/// The exit status of a call that ran past its time limit, as `timeout(1)` uses.
pub const EXIT_TIMEOUT: u8 = 124;

/// Calls a service; returns the exit status.
pub async fn run(
    fabric: &FabricArgs,
    wait: Duration,
    limit: Option<Duration>,
    args: CallArgs,
) -> anyhow::Result<u8> {
    let (host, service) = match (args.host.as_deref(), target::split(&args.service)) {
        (Some(flag), (Some(named), _)) if flag != named => bail!(
            "`{}` names host `{named}` but --host says `{flag}`; give one",
            args.service
        ),
        (flag, (named, service)) => (flag.or(named).map(str::to_owned), service.to_owned()),
    };
    let input = read_input(args.input.as_deref())?;
    let found = discovery::find_service(fabric, wait, host.as_deref(), &service).await?;
    let session = &found.client.session;
    let caller = Caller::new(session).await?;
    let spec = CallSpec {
        service: service.clone(),
        args: args.args.clone(),
        timeout: limit,
    };
    let mut sink = Sink::open(args.output.as_deref(), args.json)?;
    let outcome = caller
        .call(&found.host, &spec, input, &mut |bytes| sink.write(bytes))
        .await;
    let written = sink.finish();
    match found.route {
        // A configured session is the user's; one remembered endpoint says
        // nothing of the other hosts.
        Route::Configured | Route::ServiceCache => {}
        Route::Cache | Route::Scouting => remember(&found.client, &found.host, &service).await,
    }
    let outcome = outcome?;
    let result = written?;
    let report = Report {
        host: &found.host,
        service: &service,
        outcome: &outcome,
        result,
        output: args.output.as_deref(),
    };
    report.print(args.json)
}

/// Rewrites the host cache from a session that saw every host, noting which
/// host answered `service` and where it was reached, so the next call of it
/// dials that host alone.
async fn remember(client: &Client, host: &str, service: &str) {
    let Some(mut cache) = HostCache::refreshed(&client.session).await else {
        return;
    };
    if cache.service_endpoint(service, Some(host)).is_none() {
        let addresses = client
            .ask(Some(host), Request::HostInfo)
            .await
            .unwrap_or_default()
            .into_iter()
            .find_map(|env| match env.response {
                Response::HostInfo(info) => Some(info.addresses),
                _ => None,
            })
            .unwrap_or_default();
        if !cache.note_service(service, host, &addresses) {
            tracing::debug!("none of {host}'s addresses {addresses:?} is a remembered endpoint");
        }
    }
    cache.keep();
}

/// The call's input: a file's bytes, standard input (`-`), or nothing.
fn read_input(input: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match input {
        None => Ok(Vec::new()),
        Some(p) if p.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("cannot read the input from standard input")?;
            Ok(bytes)
        }
        Some(p) => {
            std::fs::read(p).with_context(|| format!("cannot read the input {}", p.display()))
        }
    }
}

/// Where the result goes as it arrives.
enum Sink {
    /// Standard output.
    Stdout(std::io::BufWriter<std::io::Stdout>),
    /// `-o FILE`.
    File(std::io::BufWriter<std::fs::File>),
    /// `--json`: kept whole, to be encoded.
    Memory(Vec<u8>),
}

impl Sink {
    fn open(output: Option<&Path>, json: bool) -> anyhow::Result<Sink> {
        Ok(match output {
            Some(path) => Sink::File(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot write the result to {}", path.display()))?,
            )),
            None if json => Sink::Memory(Vec::new()),
            None => Sink::Stdout(std::io::BufWriter::with_capacity(
                1 << 16,
                std::io::stdout(),
            )),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Stdout(out) => out.write_all(bytes),
            Sink::File(out) => out.write_all(bytes),
            Sink::Memory(all) => {
                all.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// Flushes; returns the result when it was kept in memory.
    fn finish(self) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Sink::Stdout(mut out) => out.flush()?,
            Sink::File(out) => {
                out.into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .context("cannot write the result file")?;
            }
            Sink::Memory(all) => return Ok(Some(all)),
        }
        Ok(None)
    }
}

/// What `tnet call` says about a finished call.
struct Report<'a> {
    host: &'a str,
    service: &'a str,
    outcome: &'a CallOutcome,
    /// The result, when kept in memory (`--json` without `-o`).
    result: Option<Vec<u8>>,
    output: Option<&'a Path>,
}

/// `tnet call --json`.
#[derive(Serialize)]
struct CallJson<'a> {
    host: &'a str,
    service: &'a str,
    /// Whether the call delivered a result (the exit code may still be non-zero).
    ok: bool,
    exit_code: Option<i32>,
    signal: Option<i32>,
    stderr_tail: &'a str,
    bytes: u64,
    duration_ms: Option<u64>,
    error: Option<&'a CallError>,
    result_base64: Option<String>,
    output_file: Option<String>,
}

impl Report<'_> {
    fn print(self, json: bool) -> anyhow::Result<u8> {
        let (end, error) = match self.outcome {
            CallOutcome::Done(end) => (Some(end), None),
            CallOutcome::Failed(err) => (err.end.as_ref(), Some(err)),
        };
        if json {
            let out = CallJson {
                host: self.host,
                service: self.service,
                ok: error.is_none(),
                exit_code: end.and_then(|e| e.exit_code),
                signal: end.and_then(|e| e.signal),
                stderr_tail: end.map_or("", |e| e.stderr_tail.as_str()),
                bytes: end.map_or(0, |e| e.bytes),
                duration_ms: end.map(|e| e.duration_ms),
                error,
                result_base64: self
                    .result
                    .as_ref()
                    .map(|r| base64::engine::general_purpose::STANDARD.encode(r)),
                output_file: self.output.map(|p| p.display().to_string()),
            };
            output::json(&out)?;
        } else if let Some(end) = end.filter(|e| !e.success()) {
            // The command's own complaint first, as if it had run here.
            let mut err = std::io::stderr().lock();
            err.write_all(end.stderr_tail.as_bytes())?;
            if !end.stderr_tail.is_empty() && !end.stderr_tail.ends_with('\n') {
                writeln!(err)?;
            }
        }
        let where_ = format!("service `{}` on host `{}`", self.service, self.host);
        match (self.outcome, error) {
            (CallOutcome::Done(end), _) if !end.success() => {
                eprintln!(
                    "tnet: {where_}: the command {}; its output is the result (the service does not count this as a failed call)",
                    how_it_ended(end)
                );
                Ok(0)
            }
            (_, Some(err)) => {
                eprintln!("tnet: {where_}: {}", err.message);
                Ok(exit_status(err))
            }
            _ => Ok(0),
        }
    }
}

fn how_it_ended(end: &CallEnd) -> String {
    match (end.exit_code, end.signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "failed".to_owned(),
    }
}

/// `tnet call`'s exit status for a failed call.
fn exit_status(err: &CallError) -> u8 {
    match err.kind {
        ErrorKind::Timeout => EXIT_TIMEOUT,
        ErrorKind::CommandFailed => match err.end.as_ref().map(|e| (e.exit_code, e.signal)) {
            Some((Some(code), _)) => u8::try_from(code).ok().filter(|c| *c != 0).unwrap_or(1),
            Some((None, Some(signal))) => u8::try_from(128 + signal).unwrap_or(1),
            _ => 1,
        },
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: ErrorKind, exit_code: Option<i32>, signal: Option<i32>) -> CallError {
        CallError {
            kind,
            message: String::new(),
            end: Some(CallEnd {
                exit_code,
                signal,
                stderr_tail: String::new(),
                bytes: 0,
                duration_ms: 0,
            }),
        }
    }

    #[test]
    fn exit_status_follows_the_command() {
        assert_eq!(
            exit_status(&failed(ErrorKind::CommandFailed, Some(3), None)),
            3
        );
        assert_eq!(
            exit_status(&failed(ErrorKind::CommandFailed, None, Some(9))),
            137
        );
        assert_eq!(
            exit_status(&failed(ErrorKind::CommandFailed, Some(300), None)),
            1
        );
        assert_eq!(
            exit_status(&failed(ErrorKind::Timeout, None, Some(15))),
            124
        );
        assert_eq!(exit_status(&CallError::new(ErrorKind::Cancelled, "x")), 1);
    }
}
