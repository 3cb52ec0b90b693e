//! A Zenoh session to the hosts, and the request helpers every verb uses.

use std::time::Duration;

use anyhow::{bail, Context};
use tnet_proto::fabric::FabricArgs;
use tnet_proto::keys;
use tnet_proto::msg::{self, Request, RequestEnvelope, Response, ResponseEnvelope};
use tnet_proto::task::problems::did_you_mean_hint;
use zenoh::query::ConsolidationMode;

use crate::settle::{self, wait_for_match, DISCOVERY_WAIT};

/// How long an admin queryable may trail its host's control queryable:
/// both are declared at the host's start and arrive in one burst.
const ADMIN_GRACE: Duration = Duration::from_millis(100);

/// A connection to the tnet hosts.
pub struct Client {
    /// The session; public for verbs that subscribe.
    pub session: zenoh::Session,
    /// How long to wait for answers.
    pub timeout: Duration,
    /// How the user reaches hosts, for error messages.
    fabric: FabricArgs,
    /// How many hosts answered this session's scout (0: not scouted by
    /// `tnet` itself), so "every host" waits for each one's token.
    expected_hosts: usize,
}

impl Client {
    /// Wraps an open session (see `session.rs`, where sessions are opened).
    pub(crate) fn new(session: zenoh::Session, timeout: Duration, fabric: FabricArgs) -> Client {
        Client {
            session,
            timeout,
            fabric,
            expected_hosts: 0,
        }
    }

    /// Says how many hosts answered the scout the session dialled them from.
    pub(crate) fn expect_hosts(&mut self, n: usize) {
        self.expected_hosts = n;
    }

    /// Whether hosts are found by multicast scouting rather than configured
    /// endpoints or a configuration file: then where they were found is worth remembering.
    pub fn scouts(&self) -> bool {
        self.fabric.scouting_only()
    }

    /// What to tell a user when no host answers.
    pub fn no_host_hint(&self) -> String {
        let hint = if self.fabric.connect.is_empty() {
            "no tnet host answered. Start one with `tnet-host`, or if it runs on another network give its address with --connect tcp/ADDRESS:7449 (or TNET_CONNECT)".to_owned()
        } else {
            format!(
                "no tnet host answered at {}. Is `tnet-host` running there?",
                self.fabric.connect.join(", ")
            )
        };
        if self.fabric.insecure {
            return hint;
        }
        // A revoked name, or one the hosts' roster does not know, connects
        // but is shown nothing.
        format!(
            "{hint}
If hosts are up, they may not accept this identity, {}: it may be revoked, or not yet in their roster (`tnet fleet push` on the fleet's machine tells them)",
            crate::identity::describe(&self.fabric)
        )
    }

    /// Sends `request` to one host (`host`) or every host that is up (`None`)
    /// and returns every answer.
    ///
    /// "Every host" is first listed from liveliness tokens, then asked with
    /// one query on every host's key; the hosts listed that did not answer
    /// it are asked one by one, all at once: a wildcard query sent by a
    /// fresh session reaches the hosts whose queryables it has already heard
    /// of and can miss the others. One question per host, each with its own
    /// querier, would cost a declaration per host, and on a fleet of
    /// hundreds those declarations take longer than the answers.
    pub async fn ask(
        &self,
        host: Option<&str>,
        request: Request,
    ) -> anyhow::Result<Vec<ResponseEnvelope>> {
        let hosts = match host {
            Some(h) => vec![h.to_owned()],
            None => self.hosts().await?,
        };
        let (mut out, timed_out) = if host.is_none() && hosts.len() > 1 {
            self.ask_every(&request).await?
        } else {
            (Vec::new(), false)
        };
        let answered: std::collections::BTreeSet<String> =
            out.iter().map(|env| env.host.clone()).collect();
        if timed_out {
            let silent: Vec<&str> = hosts
                .iter()
                .filter(|h| !answered.contains(*h))
                .map(String::as_str)
                .collect();
            if !silent.is_empty() {
                bail!(
                    "host(s) {} did not answer within {:.0?}; try again, or raise --timeout",
                    silent.join(", "),
                    self.timeout
                );
            }
        }
        let asks = hosts
            .iter()
            .filter(|h| !answered.contains(*h))
            .map(|h| self.ask_raw(h, &request));
        for answer in futures::future::join_all(asks).await {
            out.extend(answer?);
        }
        Ok(out)
    }

    /// Asks every host whose queryable this session knows, with one query:
    /// the answers, and whether some host did not answer in time.
    async fn ask_every(&self, request: &Request) -> anyhow::Result<(Vec<ResponseEnvelope>, bool)> {
        let key = request_key(keys::ANY_HOST, request);
        let replies = self
            .session
            .get(key)
            .payload(msg::encode(&RequestEnvelope::new(request.clone())))
            // Each host replies on its own key; none may be merged or held back.
            .consolidation(ConsolidationMode::None)
            .timeout(self.timeout)
            .await
            .map_err(|e| anyhow::anyhow!("cannot send a request: {e}"))?;
        let (mut out, mut timed_out) = (Vec::new(), false);
        while let Ok(reply) = replies.recv_async().await {
            match reply.result() {
                Ok(sample) => match msg::decode::<ResponseEnvelope>(&sample.payload().to_bytes()) {
                    Ok(env) => out.push(env),
                    Err(err) => {
                        tracing::warn!("ignoring an answer from {}: {err}", sample.key_expr())
                    }
                },
                Err(err) => {
                    let text = String::from_utf8_lossy(&err.payload().to_bytes()).into_owned();
                    // Any other error: the host is asked again on its own.
                    timed_out |= text == "Timeout";
                    tracing::debug!("a host did not answer the request to every host: {text}");
                }
            }
        }
        Ok((out, timed_out))
    }

    /// Asks one host; `None` when it is not there.
    async fn ask_raw(
        &self,
        host: &str,
        request: &Request,
    ) -> anyhow::Result<Option<ResponseEnvelope>> {
        let key = request_key(host, request);
        let querier = self
            .session
            .declare_querier(key)
            .consolidation(ConsolidationMode::None)
            .timeout(self.timeout)
            .await
            .map_err(|e| anyhow::anyhow!("cannot prepare a request: {e}"))?;
        let wait = DISCOVERY_WAIT.min(self.timeout);
        if request.needs_admin() {
            // A host declares its admin queryable with its control one, and
            // its access control hides the admin one from a user. Once the
            // control one is known, a missing admin one is a refusal, not a
            // declaration on its way: asking at once (nothing matches, so
            // nothing answers, at once) spares a user a wait for nothing.
            let control = self
                .session
                .declare_querier(keys::host_control(host))
                .await
                .map_err(|e| anyhow::anyhow!("cannot prepare a request: {e}"))?;
            if wait_for_match(&control, wait).await {
                wait_for_match(&querier, ADMIN_GRACE).await;
            }
        } else {
            wait_for_match(&querier, wait).await;
        }
        let replies = querier
            .get()
            .payload(msg::encode(&RequestEnvelope::new(request.clone())))
            .await
            .map_err(|e| anyhow::anyhow!("cannot send a request: {e}"))?;
        while let Ok(reply) = replies.recv_async().await {
            match reply.result() {
                Ok(sample) => match msg::decode::<ResponseEnvelope>(&sample.payload().to_bytes()) {
                    Ok(env) => return Ok(Some(env)),
                    Err(err) => {
                        tracing::warn!("ignoring an answer from {}: {err}", sample.key_expr())
                    }
                },
                Err(err) => {
                    let text = String::from_utf8_lossy(&err.payload().to_bytes()).into_owned();
                    if text == "Timeout" {
                        bail!("host `{host}` did not answer within {:.0?}; try again, or raise --timeout", self.timeout);
                    }
                    bail!("request to host `{host}` failed: {text}");
                }
            }
        }
        // The host's access control hides its admin queryable from a user,
        // so one that is still seen was reached: its answer was lost on the
        // way (a link closed), not refused.
        if request.needs_admin()
            && !settle::matched(&querier).await
            && Box::pin(self.ask_raw(host, &Request::HostInfo))
                .await?
                .is_some()
        {
            // The host answers reads but not this: its access control dropped
            // the request (Zenoh gives a denied query zero replies).
            bail!(
                "not allowed: `tnet {}` needs the admin role, which this identity, {}, does not have on host `{host}`; the host refused the request and changed nothing. A user may list, read logs and events, subscribe and call; an admin can issue an admin identity with `tnet fleet add-client NAME --role admin`",
                request.verb(),
                crate::identity::describe(&self.fabric)
            );
        }
        Ok(None)
    }

    /// Sends `request` to exactly one named host and returns its answer, an
    /// error response turned into an error.
    pub async fn ask_host(&self, host: &str, request: Request) -> anyhow::Result<Response> {
        let mut answers = self.ask(Some(host), request).await?;
        let Some(env) = answers.pop() else {
            let up = self.hosts().await.unwrap_or_default();
            let up: Vec<&str> = up.iter().map(String::as_str).collect();
            bail!(
                "host `{host}` did not answer{}: it is not running or not reachable (`tnet hosts` lists the hosts that are up)",
                did_you_mean_hint(host, &up)
            );
        };
        match env.response {
            Response::Error(err) => Err(anyhow::Error::new(err)).context(format!("host `{host}`")),
            other => Ok(other),
        }
    }

    /// As [`Client::ask_host`], for a request the host may work on for long
    /// (an image pull) while it reports progress: the answer is awaited for
    /// as long as `alive` keeps changing, never more than the client's
    /// timeout after the last change.
    pub async fn ask_host_reporting(
        &self,
        host: &str,
        request: Request,
        mut alive: tokio::sync::watch::Receiver<()>,
    ) -> anyhow::Result<Response> {
        let key = request_key(host, &request);
        let querier = self
            .session
            .declare_querier(key)
            .consolidation(ConsolidationMode::None)
            .timeout(crate::call::NO_LIMIT)
            .await
            .map_err(|e| anyhow::anyhow!("cannot prepare a request: {e}"))?;
        wait_for_match(&querier, DISCOVERY_WAIT.min(self.timeout)).await;
        let replies = querier
            .get()
            .payload(msg::encode(&RequestEnvelope::new(request.clone())))
            .await
            .map_err(|e| anyhow::anyhow!("cannot send a request: {e}"))?;
        let mut reporting = true;
        loop {
            tokio::select! {
                reply = replies.recv_async() => {
                    let Ok(reply) = reply else { break };
                    match reply.result() {
                        Ok(sample) => {
                            if let Ok(env) = msg::decode::<ResponseEnvelope>(&sample.payload().to_bytes()) {
                                return match env.response {
                                    Response::Error(err) => Err(anyhow::Error::new(err)).context(format!("host `{host}`")),
                                    other => Ok(other),
                                };
                            }
                        }
                        Err(err) => bail!(
                            "request to host `{host}` failed: {}",
                            String::from_utf8_lossy(&err.payload().to_bytes())
                        ),
                    }
                }
                changed = alive.changed(), if reporting => reporting = changed.is_ok(),
                () = tokio::time::sleep(self.timeout) => bail!(
                    "host `{host}` said nothing for {:.0?} while preparing the task's image; it may have stopped or become unreachable. `tnet status` tells whether the task was created; raise --timeout for a slow network",
                    self.timeout
                ),
            }
        }
        // No answer at all. Never sent again (it may have been done): only
        // told apart from a refusal by the access control, as `ask_raw` does
        // (a queryable still seen was reached, so its answer was lost).
        if !settle::matched(&querier).await
            && self.ask_raw(host, &Request::HostInfo).await?.is_some()
        {
            bail!(
                "not allowed: `tnet {}` needs the admin role, which this identity, {}, does not have on host `{host}`; the host refused the request and changed nothing",
                request.verb(),
                crate::identity::describe(&self.fabric)
            );
        }
        bail!("host `{host}` did not answer: it went away, or is not reachable now. `tnet status` tells whether the request was done; `tnet hosts` lists the hosts that are up")
    }

    /// The names of the hosts that are up, found through their liveliness tokens.
    pub async fn hosts(&self) -> anyhow::Result<Vec<String>> {
        if settle::through_router(&self.session).await {
            let limit = DISCOVERY_WAIT.min(self.timeout);
            let hosts = settle::router_hosts(&self.session, limit).await?;
            return Ok(hosts.into_iter().collect());
        }
        if self.expected_hosts > 0 {
            let limit = DISCOVERY_WAIT.min(self.timeout);
            let hosts = settle::lan_hosts(&self.session, self.expected_hosts, limit).await?;
            return Ok(hosts.into_iter().collect());
        }
        let replies = self
            .session
            .liveliness()
            .get(keys::host_alive(keys::ANY_HOST))
            .timeout(self.timeout)
            .await
            .map_err(|e| anyhow::anyhow!("cannot look for hosts: {e}"))?;
        let mut hosts = Vec::new();
        while let Ok(reply) = replies.recv_async().await {
            if let Ok(sample) = reply.result() {
                if let Some(h) = keys::host_of(sample.key_expr().as_str()) {
                    hosts.push(h.to_owned());
                }
            }
        }
        hosts.sort();
        hosts.dedup();
        Ok(hosts)
    }
}

/// Where `request` goes on `host`: the admin queryable for a request that
/// needs the admin role, the control one for the rest.
fn request_key(host: &str, request: &Request) -> String {
    if request.needs_admin() {
        keys::host_admin(host)
    } else {
        keys::host_control(host)
    }
}
