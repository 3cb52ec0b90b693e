//! The hosts multicast scouting hears on the LAN, and where to dial each.
//!
//! Zenoh's own scouting dials the peers it hears one after another and lets
//! `open()` return after `scouting/delay` (500 ms) with those connected so
//! far: with 30 hosts on the secure default (a QUIC handshake each) `tnet
//! hosts` listed 5 to 7 of them. So `tnet` scouts by itself first: every
//! host answers the same scout within about a round trip, and the answers
//! are gathered until none has come for a moment ([`gather`]). The session
//! then opens with one locator of each host as its connect endpoints, all
//! dialled at once (`session.rs`), and waits until each has connected and
//! as many hosts' liveliness tokens as peers answered have arrived
//! (`settle.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use tnet_proto::reach::{pick_locator, LocalNet};
use zenoh::config::{WhatAmI, ZenohId};

/// Longest wait for the first answer. Zenoh sends its scout again after 1 s:
/// waiting past that hears a host whose answer to the first was lost or
/// late (on a loaded machine, a host just started answered none within
/// 500 ms, and `tnet hosts` said that no host answered). Only an empty LAN
/// waits this long.
const FIRST_WAIT: Duration = Duration::from_millis(1500);

/// The shortest and longest quiet (no new host heard) that ends the
/// gathering: twice what the first answer took, within these bounds. All
/// answer the same scout, but on a loaded machine a hundred hosts take
/// their time: with 80 ms, `tnet` heard 8 of 100 debug-built hosts.
const QUIET_MIN: Duration = Duration::from_millis(250);
const QUIET_MAX: Duration = Duration::from_millis(500);

/// Longest gathering in all. Zenoh scouts again after 1 s, so an answer
/// lost on the wire is heard again before this.
const GATHER_MAX: Duration = Duration::from_millis(2000);

/// The quiet that ends the gathering once every host of the host cache has
/// answered. Hosts answer the same scout together, so a host new since the
/// cache answers among them; the long quiet is for telling when a fleet of
/// unknown size is done, which the cache already tells. (At 200 hosts all
/// answers came within about 10 ms, and the 250 ms quiet was a quarter of
/// `tnet hosts`.)
const QUIET_KNOWN: Duration = Duration::from_millis(50);

/// A host (or router) that answered, and the locator to dial it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// Its Zenoh id.
    pub zid: ZenohId,
    /// The one locator to dial.
    pub endpoint: String,
    /// Whether it is a Zenoh router rather than a peer (a host).
    pub router: bool,
}

/// Scouts with `config`'s multicast settings and returns every peer and
/// router that answered with a locator of `protocols`; `None` when this
/// machine cannot scout (no multicast interface). `known`: the Zenoh ids of
/// the host cache; once all of them answered, a short quiet ends it.
pub async fn gather(
    config: &zenoh::Config,
    protocols: &[&str],
    known: &BTreeSet<String>,
) -> Option<Vec<Heard>> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let scout = zenoh::scout(WhatAmI::Peer | WhatAmI::Router, config.clone())
        .callback(move |hello| {
            let locators: Vec<String> = hello.locators().iter().map(|l| l.to_string()).collect();
            let _ = tx.send((hello.zid(), hello.whatami() == WhatAmI::Router, locators));
        })
        .await;
    let scout = match scout {
        Ok(scout) => scout,
        Err(err) => {
            tracing::debug!("cannot scout: {err}");
            return None;
        }
    };
    let local = local_networks();
    let started = tokio::time::Instant::now();
    let mut deadline = started + FIRST_WAIT;
    let mut quiet = None;
    let mut heard: BTreeMap<ZenohId, (String, bool)> = BTreeMap::new();
    let mut unheard = known.clone();
    let mut told = false;
    while let Ok(Some((zid, router, locators))) = tokio::time::timeout_at(deadline, rx.recv()).await
    {
        if heard.contains_key(&zid) {
            continue;
        }
        // Another `tnet`, a client: nothing to dial.
        let Some(endpoint) = pick_locator(&locators, protocols, &local) else {
            tracing::debug!("{zid} answered with nothing to dial: {locators:?}");
            continue;
        };
        unheard.remove(&zid.to_string());
        heard.insert(zid, (endpoint, router));
        let quiet =
            *quiet.get_or_insert_with(|| (started.elapsed() * 2).clamp(QUIET_MIN, QUIET_MAX));
        // Every remembered host answered (with none remembered, never).
        let all_known = !known.is_empty() && unheard.is_empty();
        if all_known && !told {
            tracing::debug!("all {} remembered host(s) answered", known.len());
            told = true;
        }
        let quiet = if all_known { QUIET_KNOWN } else { quiet };
        deadline = (tokio::time::Instant::now() + quiet).min(started + GATHER_MAX);
    }
    scout.stop();
    tracing::debug!(
        "{} peer(s) answered scouting within {:?}",
        heard.len(),
        started.elapsed()
    );
    Some(
        heard
            .into_iter()
            .map(|(zid, (endpoint, router))| Heard {
                zid,
                endpoint,
                router,
            })
            .collect(),
    )
}

/// This machine's networks (interfaces that are up), to tell a host's LAN
/// address from a bridge both machines have.
pub fn local_networks() -> Vec<LocalNet> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    interfaces
        .filter(|i| i.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP))
        .filter_map(|i| {
            let address = i.address?;
            let netmask = i.netmask;
            if let Some(v4) = address.as_sockaddr_in() {
                let prefix = netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in())
                    .map_or(32, |m| u32::from(m.ip()).count_ones());
                Some(LocalNet {
                    address: IpAddr::V4(v4.ip()),
                    prefix: u8::try_from(prefix).unwrap_or(32),
                })
            } else {
                let v6 = address.as_sockaddr_in6()?;
                let prefix = netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in6())
                    .map_or(128, |m| u128::from(m.ip()).count_ones());
                Some(LocalNet {
                    address: IpAddr::V6(v6.ip()),
                    prefix: u8::try_from(prefix).unwrap_or(128),
                })
            }
        })
        .collect()
}
