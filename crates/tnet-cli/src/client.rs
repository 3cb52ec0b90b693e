//! A Zenoh session to the hosts, and the request helpers every verb uses.

use std::time::Duration;

use anyhow::{bail, Context};
use tnet_proto::fabric::{FabricArgs, Role};
use tnet_proto::keys;
use tnet_proto::msg::{self, Request, RequestEnvelope, Response, ResponseEnvelope};
use zenoh::query::{ConsolidationMode, Querier};

use crate::discovery;
use crate::settle::{self, Scouted, CONNECT_WAIT};

/// Whether a configuration has multicast scouting on, whatever turned it on.
fn scouting_on(config: &zenoh::Config) -> bool {
    config
        .get_json("scouting/multicast/enabled")
        .is_ok_and(|v| v.trim() == "true")
}

/// How long a fresh session waits to hear of a host's queryable before asking
/// anyway: declarations arrive a moment after the connection opens.
pub const DISCOVERY_WAIT: Duration = Duration::from_secs(2);

async fn matched(querier: &Querier<'_>) -> bool {
    querier
        .matching_status()
        .await
        .map(|m| m.matching())
        .unwrap_or(false)
}

/// Waits until some queryable matches `querier`, or `wait` passes.
pub async fn wait_for_match(querier: &Querier<'_>, wait: Duration) {
    if matched(querier).await {
        return;
    }
    let Ok(listener) = querier.matching_listener().await else {
        return;
    };
    // Checked again now that the listener exists, so a match in between is not missed.
    if matched(querier).await {
        return;
    }
    let _ = tokio::time::timeout(wait, async {
        while let Ok(status) = listener.recv_async().await {
            if status.matching() {
                return;
            }
        }
    })
    .await;
}

/// A connection to the tnet hosts.
pub struct Client {
    /// The session; public for verbs that subscribe.
    pub session: zenoh::Session,
    /// How long to wait for answers.
    pub timeout: Duration,
    /// How the user reaches hosts, for error messages.
    fabric: FabricArgs,
}

/// Builds the client's Zenoh configuration.
pub fn zenoh_config(fabric: &FabricArgs) -> anyhow::Result<zenoh::Config> {
    let mut zc = match &fabric.config {
        Some(path) => zenoh::Config::from_file(path)
            .map_err(|e| anyhow::anyhow!("cannot read Zenoh config {}: {e}", path.display()))?,
        None => zenoh::Config::default(),
    };
    let mut inserts = fabric.inserts(Role::Client);
    // The session's own admin space says which address each host was reached
    // at, for the host cache. Only the session's links are there, and the
    // command line lives for a moment.
    inserts.push(("adminspace/enabled".to_owned(), "true".to_owned()));
    insert_all(&mut zc, &inserts)?;
    Ok(zc)
}

/// Applies `(path, json5 value)` settings to a Zenoh configuration.
pub fn insert_all(zc: &mut zenoh::Config, inserts: &[(String, String)]) -> anyhow::Result<()> {
    for (key, value) in inserts {
        zc.insert_json5(key, value)
            .map_err(|e| anyhow::anyhow!("bad Zenoh setting {key}={value}: {e}"))?;
    }
    Ok(())
}

impl Client {
    /// Opens a session.
    pub async fn open(fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<Client> {
        Client::open_with(zenoh_config(fabric)?, fabric, timeout).await
    }

    /// Opens a session with a configuration built for the purpose (see `discovery`).
    pub async fn open_with(
        config: zenoh::Config,
        fabric: &FabricArgs,
        timeout: Duration,
    ) -> anyhow::Result<Client> {
        // Started first, so it hears every peer before the session opens.
        let scouted = if scouting_on(&config) {
            Scouted::start(&config).await
        } else {
            None
        };
        let session = zenoh::open(config).await.map_err(|e| {
            let to = if fabric.connect.is_empty() { String::new() } else { format!(" to {}", fabric.connect.join(", ")) };
            anyhow::anyhow!("cannot connect{to}: {e}\nIs a tnet-host running there? Check the address and port (default 7449).")
        })?;
        if let Some(scouted) = scouted {
            scouted.wait_connected(&session, CONNECT_WAIT).await;
        }
        Ok(Client {
            session,
            timeout,
            fabric: fabric.clone(),
        })
    }

    /// Whether hosts are found by multicast scouting rather than configured
    /// endpoints or a configuration file: then where they were found is worth remembering.
    pub fn scouts(&self) -> bool {
        discovery::scouting_only(&self.fabric)
    }

    /// What to tell a user when no host answers.
    pub fn no_host_hint(&self) -> String {
        if self.fabric.connect.is_empty() {
            "no tnet host answered. Start one with `tnet-host`, or if it runs on another network give its address with --connect tcp/ADDRESS:7449 (or TNET_CONNECT)".to_owned()
        } else {
            format!(
                "no tnet host answered at {}. Is `tnet-host` running there?",
                self.fabric.connect.join(", ")
            )
        }
    }

    /// Sends `request` to one host (`host`) or every host that is up (`None`)
    /// and returns every answer.
    ///
    /// "Every host" is first listed from liveliness tokens and then asked one
    /// by one: a wildcard query sent by a fresh session can reach the hosts
    /// whose queryables it has already heard of and miss the others.
    pub async fn ask(
        &self,
        host: Option<&str>,
        request: Request,
    ) -> anyhow::Result<Vec<ResponseEnvelope>> {
        let hosts = match host {
            Some(h) => vec![h.to_owned()],
            None => self.hosts().await?,
        };
        let asks = hosts.iter().map(|h| self.ask_raw(h, &request));
        let mut out = Vec::new();
        for answer in futures::future::join_all(asks).await {
            out.extend(answer?);
        }
        Ok(out)
    }

    /// Asks one host; `None` when it is not there.
    async fn ask_raw(
        &self,
        host: &str,
        request: &Request,
    ) -> anyhow::Result<Option<ResponseEnvelope>> {
        let querier = self
            .session
            .declare_querier(keys::host_control(host))
            .consolidation(ConsolidationMode::None)
            .timeout(self.timeout)
            .await
            .map_err(|e| anyhow::anyhow!("cannot prepare a request: {e}"))?;
        wait_for_match(&querier, DISCOVERY_WAIT.min(self.timeout)).await;
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
        Ok(None)
    }

    /// Sends `request` to exactly one named host and returns its answer, an
    /// error response turned into an error.
    pub async fn ask_host(&self, host: &str, request: Request) -> anyhow::Result<Response> {
        let mut answers = self.ask(Some(host), request).await?;
        let Some(env) = answers.pop() else {
            bail!("host `{host}` did not answer: it is not running or not reachable (`tnet hosts` lists the hosts that are up)");
        };
        match env.response {
            Response::Error(err) => Err(anyhow::Error::new(err)).context(format!("host `{host}`")),
            other => Ok(other),
        }
    }

    /// The names of the hosts that are up, found through their liveliness tokens.
    pub async fn hosts(&self) -> anyhow::Result<Vec<String>> {
        if settle::through_router(&self.session).await {
            let limit = DISCOVERY_WAIT.min(self.timeout);
            let hosts = settle::router_hosts(&self.session, limit).await?;
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
