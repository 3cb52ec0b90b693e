//! A fresh session's view of the hosts, completed before its first question,
//! so "every host" (`tnet hosts`, `tnet ls`, a task named without its host)
//! means every host.
//!
//! Zenoh's `open()` returns before that view is complete in two cases:
//!
//! - **Multicast scouting.** Zenoh's scouting dials the peers it hears one
//!   after another, and `open()` returns after `scouting/delay` with those
//!   connected so far: on a LAN of three hosts `tnet hosts` listed one, two
//!   or three; with 30 on the secure default, 5 to 7. Worse, `tnet status
//!   NAME` could pick the only host seen of two that have the task. So
//!   `tnet` scouts by itself first (`lan.rs`), then opens the session with
//!   every host heard as a connect endpoint, dialled all at once
//!   (`session.rs`). [`wait_connected`] waits until every one is
//!   connected; [`lan_hosts`] then follows the hosts' liveliness tokens
//!   until as many have come as peers answered (their declarations follow
//!   the connection by a moment). A host that answered but cannot be
//!   reached is given up after [`CONNECT_WAIT`].
//! - **Through a router.** A peer's `open()` waits for the declarations of
//!   the peers it connects to, not for a router's: the hosts behind a
//!   `zenohd` arrive a round trip later, and a liveliness query asked before
//!   that finds none (Zenoh 1.10 answers it from what the session already
//!   holds). [`router_hosts`] follows the hosts' tokens as the router sends
//!   them, and waits until they stop coming.

use std::collections::BTreeSet;
use std::time::Duration;

use tnet_proto::keys;
use zenoh::config::ZenohId;
use zenoh::query::Querier;
use zenoh::Session;

/// Longest wait for the peers that answered to be connected, all dialled at
/// once. Only a host that answered but cannot be reached (gone since, or
/// refusing this identity) makes a command wait this long.
pub const CONNECT_WAIT: Duration = Duration::from_secs(2);

/// What each host heard adds to [`CONNECT_WAIT`].
pub const CONNECT_WAIT_PER_HOST: Duration = Duration::from_millis(20);

/// How long after a peer is listed as connected before asking it anything:
/// Zenoh lists a transport a moment before its routing knows the peer
/// (zenoh-transport adds it to its table, then creates the routing face),
/// and a liveliness query sent in that moment misses the peer's tokens.
const ROUTING_GRACE: Duration = Duration::from_millis(10);

/// How often the session's peers are compared with those that answered.
const POLL: Duration = Duration::from_millis(2);

/// Waits, at most `limit`, until `session` is connected to every peer in
/// `heard` (those that answered the scout, which it dialled), and a moment
/// more for Zenoh's routing to know each.
pub async fn wait_connected(session: &Session, heard: &[ZenohId], limit: Duration) {
    let heard: BTreeSet<ZenohId> = heard.iter().copied().collect();
    let done = tokio::time::timeout(limit, async {
        loop {
            let mut connected: BTreeSet<ZenohId> = session.info().peers_zid().await.collect();
            connected.extend(session.info().routers_zid().await);
            if heard.is_subset(&connected) {
                tokio::time::sleep(ROUTING_GRACE).await;
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
    match done {
        Ok(()) => tracing::debug!(
            "connected to all {} peer(s) that answered scouting",
            heard.len()
        ),
        Err(_) => tracing::debug!(
            "some of the {} peers that answered scouting were not connected within {limit:?}",
            heard.len()
        ),
    }
}

/// Whether `session` is connected to a Zenoh router.
pub async fn through_router(session: &Session) -> bool {
    session.info().routers_zid().await.next().is_some()
}

/// Every host's liveliness token: those the session holds, then as they come and go.
async fn host_tokens(
    session: &Session,
) -> anyhow::Result<
    zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>,
> {
    session
        .liveliness()
        .declare_subscriber(keys::host_alive(keys::ANY_HOST))
        .history(true)
        .await
        .map_err(|e| anyhow::anyhow!("cannot look for hosts: {e}"))
}

/// The hosts whose liveliness tokens a router sends, gathered as they come:
/// until the first arrives (at most `limit`), then until none has come for
/// as long again as the first took (at least [`QUIET_MIN`]). The router
/// sends every token it holds in one burst, so the rest follow the first
/// within a fraction of the round trip it took.
pub async fn router_hosts(session: &Session, limit: Duration) -> anyhow::Result<BTreeSet<String>> {
    let started = tokio::time::Instant::now();
    let tokens = host_tokens(session).await?;
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

/// The hosts whose liveliness tokens the session holds or receives, until
/// `expected` have come (as many as peers answered the scout), or, once one
/// has come, none more for [`LAN_QUIET`] (a peer that is not a tnet host has
/// no token), or `limit` passed.
pub async fn lan_hosts(
    session: &Session,
    expected: usize,
    limit: Duration,
) -> anyhow::Result<BTreeSet<String>> {
    let started = tokio::time::Instant::now();
    let tokens = host_tokens(session).await?;
    let mut hosts = BTreeSet::new();
    let end = started + limit;
    while hosts.len() < expected {
        // Until the first token comes, the whole limit: on a loaded machine
        // a host's declarations (through its gate) can take longer than
        // LAN_QUIET, and giving up then listed no host at all.
        let quiet = if hosts.is_empty() {
            end
        } else {
            (tokio::time::Instant::now() + LAN_QUIET).min(end)
        };
        let Ok(Ok(sample)) = tokio::time::timeout_at(quiet, tokens.recv_async()).await else {
            break;
        };
        let Some(host) = keys::host_of(sample.key_expr().as_str()) else {
            continue;
        };
        if sample.kind() == zenoh::sample::SampleKind::Delete {
            hosts.remove(host);
        } else {
            hosts.insert(host.to_owned());
        }
    }
    tracing::debug!(
        "{} host(s) of {expected} peer(s) that answered, after {:?}",
        hosts.len(),
        started.elapsed()
    );
    Ok(hosts)
}

/// How long [`lan_hosts`] waits for one more host's token before it takes
/// the peers still missing for something other than tnet hosts.
const LAN_QUIET: Duration = Duration::from_millis(500);

/// The shortest wait for more hosts after the router's first: a burst of
/// tokens is handled as one on the way in, but not always in one go.
const QUIET_MIN: Duration = Duration::from_millis(20);

/// How long a fresh session waits to hear of a host's queryable before asking
/// anyway: declarations arrive a moment after the connection opens.
pub const DISCOVERY_WAIT: Duration = Duration::from_secs(2);

pub async fn matched(querier: &Querier<'_>) -> bool {
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
