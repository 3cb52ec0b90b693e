//! Where hosts were found last time, so a command does not wait for
//! multicast scouting on every run.
//!
//! A fresh Zenoh session that scouts waits up to `scouting/delay` (500 ms)
//! for the peers it hears of. `tnet call` instead first connects straight to
//! the endpoints remembered in `$XDG_CACHE_HOME/tnet/hosts.json` (or
//! `~/.cache/tnet/hosts.json`) with scouting off, and falls back to scouting
//! only when that does not find the service. After a command that scouted,
//! or one whose remembered endpoints were partly gone, the file is rewritten
//! with the endpoints the session is really connected to.
//!
//! Those come from the session's own admin space (`@/<own id>/*`, enabled in
//! tnet's client sessions): for each connected peer, the locator Zenoh
//! actually reached it at. That is one reachable address per host, not every
//! address a host advertises (docker bridges, link-local IPv6...), each of
//! which would cost a failed dial.
//!
//! It also remembers, per service, the host that answered its last call and
//! where that host was reached ([`ServiceHome`]): the next `tnet call` of it
//! dials that one endpoint rather than every remembered host (with 200
//! hosts remembered, dialling them all cost a call about 3.8 s).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zenoh::Session;

/// The cache file's format version.
const VERSION: u32 = 1;

/// The remembered hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCache {
    /// [`VERSION`].
    pub version: u32,
    /// One entry per peer the last scouting session was connected to.
    pub peers: Vec<Peer>,
    /// Per service name, the host that answered its last call.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceHome>,
}

/// The host a service was last called on, and the endpoint it was reached at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceHome {
    /// The host's name.
    pub host: String,
    /// One of the remembered peers' endpoints: the host's.
    pub endpoint: String,
}

/// A peer (a host, or a Zenoh router) and where it was reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Peer {
    /// Its Zenoh id, for people reading the file.
    pub zid: String,
    /// The endpoint it was reached at, like `tcp/192.168.1.7:7449`.
    pub endpoint: String,
}

/// The cache file: `$XDG_CACHE_HOME/tnet/hosts.json`, or `~/.cache/tnet/hosts.json`.
pub fn path() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("tnet").join("hosts.json"))
}

impl HostCache {
    /// The remembered hosts; empty when there is no cache or it cannot be read
    /// (a cache is never a reason to fail).
    pub fn load() -> HostCache {
        let Some(path) = path() else {
            return HostCache::default();
        };
        std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<HostCache>(&bytes).ok())
            .filter(|c| c.version == VERSION)
            .unwrap_or_default()
    }

    /// The endpoints to connect to.
    pub fn endpoints(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self.peers.iter().map(|p| p.endpoint.as_str()).collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// The endpoint of the host that answered `service` last, if that host
    /// is `host` (when one is named) and is still among the remembered peers.
    pub fn service_endpoint(&self, service: &str, host: Option<&str>) -> Option<&str> {
        let home = self.services.get(service)?;
        if host.is_some_and(|h| h != home.host) {
            return None;
        }
        self.peers
            .iter()
            .any(|p| p.endpoint == home.endpoint)
            .then_some(home.endpoint.as_str())
    }

    /// Notes that `host`, whose advertised locators are `addresses`, answered
    /// `service`; `false` when none of them is a remembered peer's endpoint
    /// (a host reached through a router: there is only one endpoint anyway).
    pub fn note_service(&mut self, service: &str, host: &str, addresses: &[String]) -> bool {
        let Some(peer) = self.peers.iter().find(|p| addresses.contains(&p.endpoint)) else {
            return false;
        };
        let home = ServiceHome {
            host: host.to_owned(),
            endpoint: peer.endpoint.clone(),
        };
        self.services.insert(service.to_owned(), home);
        true
    }

    /// Writes the cache (atomically: a reader never sees half a file).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = path() else { return Ok(()) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("json.{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    }

    /// Reads which peers `session` is connected to, and where.
    pub async fn of_session(session: &Session) -> anyhow::Result<HostCache> {
        let own = session.zid().to_string();
        let replies = session
            .get(format!("@/{own}/*"))
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the session's links: {e}"))?;
        let mut peers = BTreeSet::new();
        while let Ok(reply) = replies.recv_async().await {
            let Ok(sample) = reply.result() else { continue };
            let Ok(info) = serde_json::from_slice::<AdminInfo>(&sample.payload().to_bytes()) else {
                continue;
            };
            for s in info.sessions {
                // Clients do not listen: there is nowhere to reconnect to them.
                if s.whatami == "client" {
                    continue;
                }
                if let Some(link) = s.links.into_iter().find(|l| !l.dst.is_empty()) {
                    peers.insert(Peer {
                        zid: s.peer,
                        endpoint: link.dst,
                    });
                }
            }
        }
        Ok(HostCache {
            version: VERSION,
            peers: peers.into_iter().collect(),
            services: BTreeMap::new(),
        })
    }

    /// The cache with its peers replaced by those `session` is connected to
    /// (a session that saw every host: scouting, or every remembered
    /// endpoint), its services kept; `None` when the session is connected to none.
    pub async fn refreshed(session: &Session) -> Option<HostCache> {
        let now = match HostCache::of_session(session).await {
            Ok(now) => now,
            Err(err) => {
                tracing::debug!("not remembering hosts: {err:#}");
                return None;
            }
        };
        if now.peers.is_empty() {
            return None;
        }
        Some(HostCache {
            services: HostCache::load().services,
            ..now
        })
    }

    /// Writes the cache if it differs from the one on disk; errors are only logged.
    pub fn keep(&self) {
        if *self == HostCache::load() {
            return;
        }
        match self.save() {
            Ok(()) => tracing::debug!("remembered {} host endpoint(s)", self.peers.len()),
            Err(err) => tracing::debug!("cannot write the host cache: {err}"),
        }
    }

    /// Rewrites the cache's peers from `session` (see [`HostCache::refreshed`]).
    pub async fn remember(session: &Session) {
        if let Some(cache) = HostCache::refreshed(session).await {
            cache.keep();
        }
    }
}

/// The part of a session's admin-space entry that names its links.
#[derive(Deserialize)]
struct AdminInfo {
    #[serde(default)]
    sessions: Vec<AdminSession>,
}

#[derive(Deserialize)]
struct AdminSession {
    #[serde(default)]
    peer: String,
    #[serde(default)]
    whatami: String,
    #[serde(default)]
    links: Vec<AdminLink>,
}

#[derive(Deserialize)]
struct AdminLink {
    #[serde(default)]
    dst: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_entry_of_a_session_names_where_peers_were_reached() {
        // As Zenoh 1.10 answers `@/<zid>/peer` (trimmed).
        let json = r#"{"locators":[],"sessions":[
            {"links":[{"dst":"tcp/127.0.0.1:17555","src":"tcp/127.0.0.1:41046"}],"peer":"1d40","whatami":"peer"},
            {"links":[{"dst":"tcp/10.0.0.9:50000","src":"tcp/10.0.0.2:7449"}],"peer":"99aa","whatami":"client"}
        ],"zid":"2799"}"#;
        let info: AdminInfo = serde_json::from_str(json).expect("parses");
        assert_eq!(info.sessions.len(), 2);
        assert_eq!(info.sessions[0].links[0].dst, "tcp/127.0.0.1:17555");
    }

    #[test]
    fn endpoints_are_unique_and_sorted() {
        let cache = HostCache {
            version: VERSION,
            peers: vec![
                Peer {
                    zid: "b".into(),
                    endpoint: "tcp/10.0.0.2:7449".into(),
                },
                Peer {
                    zid: "a".into(),
                    endpoint: "tcp/10.0.0.1:7449".into(),
                },
                Peer {
                    zid: "a2".into(),
                    endpoint: "tcp/10.0.0.1:7449".into(),
                },
            ],
            services: BTreeMap::new(),
        };
        assert_eq!(
            cache.endpoints(),
            ["tcp/10.0.0.1:7449", "tcp/10.0.0.2:7449"]
        );
    }

    #[test]
    fn a_service_is_remembered_at_its_host_s_endpoint_while_that_is_a_peer() {
        let mut cache = HostCache {
            version: VERSION,
            peers: vec![Peer {
                zid: "a".into(),
                endpoint: "quic/10.0.0.1:7449".into(),
            }],
            services: BTreeMap::new(),
        };
        let addresses = ["quic/172.17.0.1:7449".into(), "quic/10.0.0.1:7449".into()];
        assert!(!cache.note_service("upper", "h1", &["quic/10.9.9.9:7447".into()]));
        assert!(cache.note_service("upper", "h1", &addresses));
        assert_eq!(
            cache.service_endpoint("upper", None),
            Some("quic/10.0.0.1:7449")
        );
        assert_eq!(
            cache.service_endpoint("upper", Some("h1")),
            Some("quic/10.0.0.1:7449")
        );
        // Another host named, or another service: not this endpoint.
        assert_eq!(cache.service_endpoint("upper", Some("h2")), None);
        assert_eq!(cache.service_endpoint("lower", None), None);
        // The host's endpoint no longer among the peers: forgotten.
        cache.peers[0].endpoint = "quic/10.0.0.2:7449".into();
        assert_eq!(cache.service_endpoint("upper", None), None);
    }

    #[test]
    fn a_cache_written_before_services_were_remembered_still_reads() {
        let old = r#"{"version":1,"peers":[{"zid":"00","endpoint":"tcp/127.0.0.1:7449"}]}"#;
        let cache: HostCache = serde_json::from_str(old).expect("reads");
        assert!(cache.services.is_empty());
        assert_eq!(cache.endpoints(), ["tcp/127.0.0.1:7449"]);
    }
}
