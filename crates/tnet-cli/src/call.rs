//! Calling services (SPEC 6) from Rust: find a host that offers a service,
//! send it the input, receive the result as it streams back.
//!
//! The wire format is in `tnet_proto::msg::service`. A [`Caller`] holds the
//! liveliness token that lets hosts cancel its calls when it goes away; one
//! per session is enough for any number of calls.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tnet_proto::keys;
use tnet_proto::msg::{self, CallEnd, CallError, CallRequest, ResultMeta};
use zenoh::bytes::ZBytes;
use zenoh::handlers::FifoChannel;
use zenoh::liveliness::LivelinessToken;
use zenoh::query::ConsolidationMode;
use zenoh::Session;

/// How long a call may go on before the caller gives up on the host, when it
/// has no time limit of its own (the host enforces the service's) or a longer one.
pub const NO_LIMIT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Extra time given to a host past a call's time limit, to kill the command
/// and say so, before the caller stops waiting.
const LIMIT_MARGIN: Duration = Duration::from_secs(10);

/// Result replies buffered on the caller's side: a slow reader slows the host
/// down instead of piling up the result in memory.
const REPLY_QUEUE: usize = 8;

/// What to call.
#[derive(Debug, Clone, Default)]
pub struct CallSpec {
    /// The service's name (as written in its task file, or its safe name).
    pub service: String,
    /// Arguments for its commands.
    pub args: Vec<String>,
    /// The call's time limit, instead of the service's `timeout`.
    pub timeout: Option<Duration>,
}

/// How a call ended.
#[derive(Debug, Clone)]
pub enum CallOutcome {
    /// The result was delivered; `end.exit_code` may still be non-zero when the
    /// service counts that as a result (`service_fail_is_command_fail = false`).
    Done(CallEnd),
    /// The host answered with an error: the command failed (and the service
    /// counts that as a failed call), the time limit passed, the service stopped...
    Failed(CallError),
}

/// A session's identity as a caller of services.
pub struct Caller<'s> {
    session: &'s Session,
    id: String,
    _token: LivelinessToken,
}

impl<'s> Caller<'s> {
    /// Declares the caller token of `session`.
    pub async fn new(session: &'s Session) -> anyhow::Result<Caller<'s>> {
        let id = session.zid().to_string();
        let token = session
            .liveliness()
            .declare_token(keys::caller(&id))
            .await
            .map_err(|e| anyhow::anyhow!("cannot declare this caller: {e}"))?;
        Ok(Caller {
            session,
            id,
            _token: token,
        })
    }

    /// Calls `spec.service` on `host` with `input`, giving each piece of the
    /// result to `sink` in order as it arrives.
    pub async fn call(
        &self,
        host: &str,
        spec: &CallSpec,
        input: impl Into<ZBytes>,
        sink: &mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send),
    ) -> anyhow::Result<CallOutcome> {
        let request = CallRequest {
            args: spec.args.clone(),
            timeout_ms: spec
                .timeout
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)),
            caller: Some(self.id.clone()),
        };
        let patience = spec
            .timeout
            .map_or(NO_LIMIT, |t| t.saturating_add(LIMIT_MARGIN).min(NO_LIMIT));
        let key = keys::service(host, &spec.service);
        let replies = self
            .session
            .get(&key)
            .payload(input)
            .attachment(msg::encode(&request))
            .consolidation(ConsolidationMode::None)
            .timeout(patience)
            .with(FifoChannel::new(REPLY_QUEUE))
            .await
            .map_err(|e| anyhow::anyhow!("cannot send the call: {e}"))?;
        let started = Instant::now();
        let mut next_seq = 0;
        let mut received: u64 = 0;
        while let Ok(reply) = replies.recv_async().await {
            let sample = match reply.result() {
                Ok(sample) => sample,
                Err(err) => {
                    let bytes = err.payload().to_bytes();
                    if let Ok(call_error) = msg::decode::<CallError>(&bytes) {
                        return Ok(CallOutcome::Failed(call_error));
                    }
                    let text = String::from_utf8_lossy(&bytes);
                    if text == "Timeout" {
                        bail!(
                            "host `{host}` gave no answer within {}; it may be overloaded or unreachable",
                            humantime::format_duration(Duration::from_secs(started.elapsed().as_secs()))
                        );
                    }
                    bail!("host `{host}` could not take the call: {text}");
                }
            };
            let meta: ResultMeta = sample
                .attachment()
                .and_then(|a| msg::decode(&a.to_bytes()).ok())
                .with_context(|| {
                    format!("host `{host}` answered without a tnet result attachment")
                })?;
            if meta.seq != next_seq {
                bail!(
                    "part {next_seq} of the result from host `{host}` was lost (got part {}); call again",
                    meta.seq
                );
            }
            next_seq += 1;
            for slice in sample.payload().slices() {
                received += slice.len() as u64;
                sink(slice)?;
            }
            if let Some(end) = meta.end {
                if end.bytes != received {
                    bail!(
                        "host `{host}` sent {} bytes of result but {received} arrived; call again",
                        end.bytes
                    );
                }
                return Ok(CallOutcome::Done(end));
            }
        }
        if next_seq == 0 {
            bail!("host `{host}` did not answer: service `{}` is not (or no longer) there; `tnet services` lists the services", spec.service);
        }
        bail!("the call to host `{host}` ended before its result was complete (the host stopped?)")
    }
}

/// The first host that says it offers `service` (through its liveliness
/// token), asking the hosts this session is connected to, waiting at most `wait`.
pub async fn first_host(
    session: &Session,
    service: &str,
    wait: Duration,
) -> anyhow::Result<Option<String>> {
    let replies = session
        .liveliness()
        .get(keys::service_anywhere(service))
        .timeout(wait)
        .await
        .map_err(|e| anyhow::anyhow!("cannot look for service `{service}`: {e}"))?;
    while let Ok(reply) = replies.recv_async().await {
        if let Ok(sample) = reply.result() {
            if let Some((host, _)) = keys::service_of(sample.key_expr().as_str()) {
                return Ok(Some(host.to_owned()));
            }
        }
    }
    Ok(None)
}

/// Like [`first_host`], but also waits for hosts this session connects to
/// later (right after multicast scouting, some are still on their way).
pub async fn first_host_to_appear(
    session: &Session,
    service: &str,
    wait: Duration,
) -> anyhow::Result<Option<String>> {
    let tokens = session
        .liveliness()
        .declare_subscriber(keys::service_anywhere(service))
        .history(true)
        .await
        .map_err(|e| anyhow::anyhow!("cannot look for service `{service}`: {e}"))?;
    let found = tokio::time::timeout(wait, async {
        while let Ok(sample) = tokens.recv_async().await {
            if sample.kind() == zenoh::sample::SampleKind::Put {
                if let Some((host, _)) = keys::service_of(sample.key_expr().as_str()) {
                    return Some(host.to_owned());
                }
            }
        }
        None
    })
    .await;
    Ok(found.ok().flatten())
}

/// Whether `host` offers `service` to this session, waiting at most `wait` to hear of it.
pub async fn host_offers(
    session: &Session,
    host: &str,
    service: &str,
    wait: Duration,
) -> anyhow::Result<bool> {
    let querier = session
        .declare_querier(keys::service(host, service))
        .await
        .map_err(|e| anyhow::anyhow!("cannot prepare the call: {e}"))?;
    crate::settle::wait_for_match(&querier, wait).await;
    Ok(querier
        .matching_status()
        .await
        .map(|m| m.matching())
        .unwrap_or(false))
}
