//! The host's network side in the secure default: a Zenoh router session of
//! its own (the gate) that faces the network, and the host's session behind
//! it on a Unix socket.
//!
//! ```text
//!  clients ── QUIC, mutual TLS ──► gate (router, access control from the roster)
//!                                    │ unixsock-stream, <home>/.tnet/run/host.sock
//!                                    ▼ (dialled by each gate as it opens)
//!                                  the host's session (tokens, subscriptions, publications)
//! ```
//!
//! The host's queryables (its requests, uploads, habit history, each
//! service's calls) are declared on the gate's session itself, and again
//! on each new one (`Shared::front`): a request crosses one session, not
//! two. The access control judges them as it judges everything else, on
//! the links they arrive by and leave on.
//!
//! Why two sessions: Zenoh reads access-control rules and matches them to a
//! link when the link opens, and offers no way to change them afterwards. A
//! new roster (a revoked name, a new admin) must reach links that are open
//! now without restarting a single task, so the host closes the gate and
//! opens it again with rules from the new roster, while its own session,
//! with every declaration and every task behind it, stays as it is. Each
//! gate dials the host's session, so it carries every declaration from the
//! moment it opens; clients see the host leave and come back within moments.
//! Both are routers: Zenoh 1.10 routes between routers and between a router
//! and its clients, not between two peers south of one router; and the
//! host's session listens on the socket, so no gate ever advertises it.
//!
//! The gate is a router that does not gossip and does not connect to what it
//! scouts: hosts never mesh with each other, clients connect to hosts.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tnet_proto::keys;
use tnet_proto::msg::{self, Request, RequestEnvelope, Response, ResponseEnvelope, RosterRequest};
use zenoh::query::ConsolidationMode;

use crate::config::HostConfig;
use crate::paths::Paths;
use crate::security::Trust;

/// The longest Unix socket path Linux takes (108 bytes with the final NUL).
const MAX_SOCKET_PATH: usize = 100;

/// The endpoint of the host's own session: a Unix socket in a folder only
/// the host's user can enter (`<home>/.tnet/run/`), or in a private folder
/// under the temporary directory when that path is too long for a socket.
pub fn inner_endpoint(paths: &Paths) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut dir = paths.records().join("run");
    if dir.join("host.sock").as_os_str().len() > MAX_SOCKET_PATH {
        let tag = blake3::hash(paths.home().as_os_str().as_encoded_bytes()).to_hex();
        dir = std::env::temp_dir().join(format!(
            "tnet-{}-{}",
            nix::unistd::getuid(),
            &tag.as_str()[..16]
        ));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))?;
    let socket = dir.join("host.sock");
    // A host killed earlier leaves its socket behind; nobody listens on it.
    let _ = std::fs::remove_file(&socket);
    Ok(format!("unixsock-stream/{}", socket.display()))
}

fn insert_all(zc: &mut zenoh::Config, inserts: &[(String, String)]) -> anyhow::Result<()> {
    for (key, value) in inserts {
        zc.insert_json5(key, value)
            .map_err(|e| anyhow::anyhow!("bad Zenoh setting {key}={value}: {e}"))?;
    }
    Ok(())
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A Zenoh id for the host's own session, new at each start: the gate gives
/// every right to the Unix-socket link of this id alone.
pub fn inner_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // Zenoh ids are lowercase hex without leading zeros.
    let trimmed = id.trim_start_matches('0');
    if trimmed.is_empty() {
        "1".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The host's own session: a client of its gate, dialled on `inner` (and
/// again whenever the gate is reopened); it listens nowhere.
pub fn inner_config(inner: &str, id: &str) -> anyhow::Result<zenoh::Config> {
    let mut zc = zenoh::Config::default();
    let connect = serde_json::Value::from(vec![inner.to_owned()]).to_string();
    let id = serde_json::Value::String(id.to_owned()).to_string();
    insert_all(
        &mut zc,
        &owned(&[
            ("id", &id),
            // A client: a peer routes everything between its clients and the network.
            ("mode", r#""client""#),
            ("listen/endpoints", "[]"),
            ("connect/endpoints", &connect),
            ("connect/exit_on_failure", "true"),
            // The gate may be slow to open on a loaded machine (a hundred
            // hosts starting at once on two cores took more than 3 s).
            ("connect/timeout_ms", "30000"),
            (
                "connect/retry",
                "{period_init_ms: 20, period_max_ms: 500, period_increase_factor: 2}",
            ),
            ("scouting/multicast/enabled", "false"),
            ("transport/unicast/open_timeout", "2000"),
        ]),
    )?;
    Ok(zc)
}

/// The gate's configuration: the user's Zenoh config file and flags (listen
/// on QUIC, scouting, routers to connect to), mutual TLS with the host's
/// identity, the roster's access control, and the socket of the host's session.
pub fn gate_config(
    config: &HostConfig,
    trust: &Trust,
    inner: &str,
    inner_id: &str,
) -> anyhow::Result<zenoh::Config> {
    let mut zc = match &config.fabric.config {
        Some(path) => zenoh::Config::from_file(path)
            .map_err(|e| anyhow::anyhow!("cannot read Zenoh config {}: {e}", path.display()))?,
        None => zenoh::Config::default(),
    };
    let mut inserts = config.fabric.inserts(tnet_proto::fabric::Role::Host);
    let mut listen = config.fabric.host_listen();
    listen.push(inner.to_owned());
    // A peer whatever `-m` says: the host's session behind it is its client.
    // Like every host it connects to nothing it scouts (`Role::Host`'s
    // inserts): clients and routers connect to it.
    inserts.push(("mode".to_owned(), r#""peer""#.to_owned()));
    inserts.push((
        "listen/endpoints".to_owned(),
        serde_json::Value::from(listen).to_string(),
    ));
    inserts.extend(tnet_fleet::zenoh::tls_inserts(trust.identity()));
    inserts.push(tnet_fleet::zenoh::access_control(
        &trust.roster(),
        tnet_fleet::zenoh::Place::Gate { inner_id },
    ));
    insert_all(&mut zc, &inserts)?;
    Ok(zc)
}

/// The open gate; opened again on each new roster until it is closed.
pub struct Gate {
    session: tokio::sync::Mutex<Option<zenoh::Session>>,
    /// Tells the host which gate session is open now (`Shared::front`).
    front: tokio::sync::watch::Sender<Option<zenoh::Session>>,
}

impl Gate {
    /// Opens the gate, and follows the roster: each new version closes it and
    /// opens it again with that version's rules.
    pub async fn open(
        config: HostConfig,
        trust: Arc<Trust>,
        inner: String,
        inner_id: String,
        front: tokio::sync::watch::Sender<Option<zenoh::Session>>,
    ) -> anyhow::Result<Arc<Gate>> {
        let session = open_session(&config, &trust, &inner, &inner_id).await?;
        front.send_replace(Some(session.clone()));
        let gate = Arc::new(Gate {
            session: tokio::sync::Mutex::new(Some(session)),
            front,
        });
        let follower = gate.clone();
        let mut changes = trust.subscribe();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                // The answer to the request that brought the roster leaves
                // through this gate: give it a moment before closing.
                tokio::time::sleep(Duration::from_millis(200)).await;
                changes.mark_unchanged();
                if !follower.reopen(&config, &trust, &inner, &inner_id).await {
                    return;
                }
            }
        });
        Ok(gate)
    }

    /// Closes the old session and opens a new one; `false` once the gate was closed for good.
    async fn reopen(
        &self,
        config: &HostConfig,
        trust: &Trust,
        inner: &str,
        inner_id: &str,
    ) -> bool {
        let mut slot = self.session.lock().await;
        let Some(old) = slot.take() else {
            return false;
        };
        self.front.send_replace(None);
        // The port is free only once the old session let go of it.
        if let Err(err) = old.close().await {
            tracing::warn!("closing the network side: {err}");
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            match open_session(config, trust, inner, inner_id).await {
                Ok(session) => {
                    tracing::info!(
                        roster = trust.version(),
                        "network side open again with the new roster"
                    );
                    self.front.send_replace(Some(session.clone()));
                    *slot = Some(session);
                    return true;
                }
                Err(err) => {
                    tracing::error!(
                        "cannot open the network side again (retrying in {backoff:?}): {err:#}"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Takes the host off the network for good.
    pub async fn close(&self) {
        self.front.send_replace(None);
        if let Some(session) = self.session.lock().await.take() {
            let _ = session.close().await;
        }
    }
}

async fn open_session(
    config: &HostConfig,
    trust: &Trust,
    inner: &str,
    inner_id: &str,
) -> anyhow::Result<zenoh::Session> {
    zenoh::open(gate_config(config, trust, inner, inner_id)?)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the host's network side (QUIC, mutual TLS): {e}"))
}

/// How many hosts found by scouting are asked for the roster: any one
/// holds the fleet's newest as well as all of them, and a hundred hosts
/// starting at once must not each dial every other.
const ROSTER_SOURCES: usize = 3;

/// Asks a few hosts this one can find (scouting: the first
/// [`ROSTER_SOURCES`] to answer; `--connect`: those named) for their
/// rosters and takes the newest the fleet signed, so a host that was down
/// when a name was revoked refuses it from its first moment back. Finding
/// nobody is the ordinary case of a first host; it takes about half a second.
pub async fn pull_roster(config: &HostConfig, trust: &Trust) {
    if !config.fabric.scouting() && config.fabric.connect.is_empty() {
        return;
    }
    let mut zc = zenoh::Config::default();
    let mut inserts = config.fabric.inserts(tnet_proto::fabric::Role::Client);
    // It only asks: listening on the host's own `-l` endpoints would take the
    // port the gate is about to open.
    inserts.push(("listen/endpoints".to_owned(), "[]".to_owned()));
    inserts.push(("connect/exit_on_failure".to_owned(), "false".to_owned()));
    inserts.push(("connect/timeout_ms".to_owned(), "1000".to_owned()));
    // It learns of no other peer: a hundred hosts starting at once made a
    // debug build of Zenoh 1.10 panic on gossip ("Unknown initial interest").
    inserts.push(("scouting/gossip/enabled".to_owned(), "false".to_owned()));
    inserts.extend(tnet_fleet::zenoh::quic_client_inserts(trust.identity()));
    if let Err(err) = insert_all(&mut zc, &inserts) {
        tracing::debug!("not asking other hosts for the roster: {err}");
        return;
    }
    if config.fabric.scouting() {
        let mut endpoints: Vec<String> = config
            .fabric
            .connect
            .iter()
            .map(|e| config.fabric.endpoint(e))
            .collect();
        endpoints.extend(scout_hosts(&zc, ROSTER_SOURCES).await);
        if endpoints.is_empty() {
            tracing::debug!("no other host answered scouting: no roster to pull");
            return;
        }
        let dial = [
            (
                "connect/endpoints".to_owned(),
                serde_json::Value::from(endpoints).to_string(),
            ),
            // Dialled, not autoconnected: scouting would dial every host.
            ("scouting/multicast/enabled".to_owned(), "false".to_owned()),
        ];
        if let Err(err) = insert_all(&mut zc, &dial) {
            tracing::debug!("not asking other hosts for the roster: {err}");
            return;
        }
    }
    let Ok(Ok(session)) = tokio::time::timeout(Duration::from_secs(3), zenoh::open(zc)).await
    else {
        return;
    };
    let request = RequestEnvelope::new(Request::Roster(RosterRequest::default()));
    let replies = session
        .get(keys::host_control("*"))
        .payload(msg::encode(&request))
        .consolidation(ConsolidationMode::None)
        .timeout(Duration::from_millis(1500))
        .await;
    let mut heard = 0;
    if let Ok(replies) = replies {
        while let Ok(reply) = replies.recv_async().await {
            let Ok(sample) = reply.result() else { continue };
            let Ok(envelope) = msg::decode::<ResponseEnvelope>(&sample.payload().to_bytes()) else {
                continue;
            };
            if let Response::Roster {
                roster: Some(text), ..
            } = envelope.response
            {
                heard += 1;
                if let Ok(signed) = tnet_fleet::SignedRoster::from_bytes(text.as_bytes()) {
                    if let Err(err) = trust.offer(signed) {
                        tracing::warn!(host = %envelope.host, "a host offered a roster this one refuses: {err}");
                    }
                }
            }
        }
    }
    tracing::debug!("asked {heard} host(s) for the fleet roster");
    let _ = session.close().await;
}

/// The QUIC locators of at most `most` hosts that answer a scout: the first
/// to answer, within half a second (and a moment after the last).
async fn scout_hosts(zc: &zenoh::Config, most: usize) -> Vec<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let scout = zenoh::scout(zenoh::config::WhatAmI::Peer, zc.clone())
        .callback(move |hello| {
            let locators: Vec<String> = hello.locators().iter().map(|l| l.to_string()).collect();
            let _ = tx.send((hello.zid(), locators));
        })
        .await;
    let Ok(scout) = scout else {
        return Vec::new();
    };
    let own = crate::addresses::own_addresses();
    let mut deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    let mut found = std::collections::BTreeMap::new();
    while found.len() < most {
        let Ok(Some((zid, locators))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break;
        };
        if let Some(locator) = tnet_proto::reach::pick_locator(&locators, &["quic"], &own) {
            found.insert(zid, locator);
            deadline = deadline.min(tokio::time::Instant::now() + Duration::from_millis(100));
        }
    }
    scout.stop();
    found.into_values().collect()
}
