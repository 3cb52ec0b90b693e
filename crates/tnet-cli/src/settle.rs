//! A fresh session's view of the hosts, completed before its first question,
//! so "every host" (`tnet hosts`, `tnet ls`, a task named without its host)
//! means every host.
//!
//! Zenoh's `open()` returns before that view is complete in two cases:
//!
//! - **Multicast scouting.** `open()` returns as soon as the first scouted
//!   peer has connected and sent its declarations: scouting dials the peers
//!   it hears from one after another, and the start condition it waits on
//!   knows only the peers dialled so far (and those announced by gossip,
//!   racily). On a LAN of three hosts, `tnet hosts` asked right then listed
//!   one host, two or three; worse, `tnet status NAME` could pick the only
//!   host seen of two that have the task. So the client scouts too, beside
//!   the session, from just before it opens: every peer on the LAN answers
//!   the same scout within about a round trip, long before the session has
//!   finished connecting to the first one. [`Scouted::wait_connected`] then
//!   waits until every peer that answered (with an address to dial) is
//!   connected, and a moment more for Zenoh's routing to know each; a
//!   liveliness query or request sent after that reaches all of them. A peer that answers but cannot be dialled is given up after
//!   [`CONNECT_WAIT`], Zenoh's own scouting delay.
//! - **Through a router.** A peer's `open()` waits for the declarations of
//!   the peers it connects to, not for a router's: the hosts behind a
//!   `zenohd` arrive a round trip later, and a liveliness query asked before
//!   that finds none (Zenoh 1.10 answers it from what the session already
//!   holds). [`router_hosts`] follows the hosts' tokens as the router sends
//!   them, and waits until they stop coming.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tnet_proto::keys;
use zenoh::config::{WhatAmI, ZenohId};
use zenoh::query::Querier;
use zenoh::Session;

/// Longest wait for the peers that answered to be connected (Zenoh's default
/// `scouting/delay`, what any scouting session may wait for its peers).
pub const CONNECT_WAIT: Duration = Duration::from_millis(500);

/// How long after a peer is listed as connected before asking it anything:
/// Zenoh lists a transport a moment before its routing knows the peer
/// (zenoh-transport adds it to its table, then creates the routing face),
/// and a liveliness query sent in that moment misses the peer's tokens.
const ROUTING_GRACE: Duration = Duration::from_millis(10);

/// How often the session's peers are compared with those that answered.
const POLL: Duration = Duration::from_millis(2);

/// The peers that answered a scout running beside a session.
pub struct Scouted {
    heard: Arc<Mutex<BTreeSet<ZenohId>>>,
    scout: zenoh::scouting::Scout<()>,
}

impl Scouted {
    /// Starts scouting with the session's own scouting settings; `None` when
    /// it cannot (no multicast interface): the session then opens as Zenoh
    /// decides, which is never worse than before.
    pub async fn start(config: &zenoh::Config) -> Option<Scouted> {
        let heard = Arc::new(Mutex::new(BTreeSet::new()));
        let sink = heard.clone();
        let scout = zenoh::scout(WhatAmI::Peer | WhatAmI::Router, config.clone())
            .callback(move |hello| {
                // A peer with nothing to dial (another `tnet`, a client) is
                // never connected to; waiting for it would only cost time.
                if !hello.locators().is_empty() {
                    sink.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(hello.zid());
                }
            })
            .await;
        match scout {
            Ok(scout) => Some(Scouted { heard, scout }),
            Err(err) => {
                tracing::debug!("not scouting beside the session: {err}");
                None
            }
        }
    }

    /// Waits, at most `limit`, until `session` is connected to every peer
    /// that answered; then stops scouting.
    pub async fn wait_connected(self, session: &Session, limit: Duration) {
        let own = session.zid();
        let done = tokio::time::timeout(limit, async {
            loop {
                let heard: BTreeSet<ZenohId> = self
                    .heard
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .filter(|z| **z != own)
                    .copied()
                    .collect();
                let mut connected: BTreeSet<ZenohId> = session.info().peers_zid().await.collect();
                connected.extend(session.info().routers_zid().await);
                // Nothing heard yet while the session has peers: this scout's
                // answers are still on their way.
                let waiting_for_answers = heard.is_empty() && !connected.is_empty();
                if !waiting_for_answers && heard.is_subset(&connected) {
                    tokio::time::sleep(ROUTING_GRACE).await;
                    return heard.len();
                }
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        match done {
            Ok(n) => tracing::debug!("connected to all {n} peer(s) that answered scouting"),
            Err(_) => tracing::debug!(
                "some peers that answered scouting were not connected within {limit:?}"
            ),
        }
        self.scout.stop();
    }
}

/// Whether `session` is connected to a Zenoh router.
pub async fn through_router(session: &Session) -> bool {
    session.info().routers_zid().await.next().is_some()
}

/// The hosts whose liveliness tokens a router sends, gathered as they come:
/// until the first arrives (at most `limit`), then until none has come for
/// as long again as the first took (at least [`QUIET_MIN`]). The router
/// sends every token it holds in one burst, so the rest follow the first
/// within a fraction of the round trip it took.
pub async fn router_hosts(session: &Session, limit: Duration) -> anyhow::Result<BTreeSet<String>> {
    let started = tokio::time::Instant::now();
    let tokens = session
        .liveliness()
        .declare_subscriber(keys::host_alive(keys::ANY_HOST))
        .history(true)
        .await
        .map_err(|e| anyhow::anyhow!("cannot look for hosts: {e}"))?;
    let mut hosts = BTreeSet::new();
    let mut quiet = limit;
    // Ends when it has been quiet long enough, or the session is closing.
    while let Ok(Ok(sample)) = tokio::time::timeout(quiet, tokens.recv_async()).await {
        let Some(host) = keys::host_of(sample.key_expr().as_str()) else {
            continue;
        };
        if sample.kind() == zenoh::sample::SampleKind::Delete {
            hosts.remove(host);
            continue;
        }
        if hosts.is_empty() {
            quiet = started.elapsed().clamp(QUIET_MIN, limit);
        }
        hosts.insert(host.to_owned());
    }
    tracing::debug!(
        "{} host(s) through the router after {:?}",
        hosts.len(),
        started.elapsed()
    );
    Ok(hosts)
}

/// The shortest wait for more hosts after the router's first: a burst of
/// tokens is handled as one on the way in, but not always in one go.
const QUIET_MIN: Duration = Duration::from_millis(20);

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

/// Waits until some queryable matches `querier`, or `wait` passes; whether one does.
pub async fn wait_for_match(querier: &Querier<'_>, wait: Duration) -> bool {
    if matched(querier).await {
        return true;
    }
    let Ok(listener) = querier.matching_listener().await else {
        return false;
    };
    // Checked again now that the listener exists, so a match in between is not missed.
    if matched(querier).await {
        return true;
    }
    tokio::time::timeout(wait, async {
        while let Ok(status) = listener.recv_async().await {
            if status.matching() {
                return;
            }
        }
    })
    .await
    .is_ok()
}
