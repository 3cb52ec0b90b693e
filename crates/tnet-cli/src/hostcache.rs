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

use std::collections::BTreeSet;
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
        })
    }

    /// Rewrites the cache from `session` if what it is connected to differs
    /// from the cache; errors are only logged.
    pub async fn remember(session: &Session) {
        let now = match HostCache::of_session(session).await {
            Ok(now) => now,
            Err(err) => {
                tracing::debug!("not remembering hosts: {err:#}");
                return;
            }
        };
        if now.peers.is_empty() || now == HostCache::load() {
            return;
        }
        match now.save() {
            Ok(()) => tracing::debug!("remembered {} host endpoint(s)", now.peers.len()),
            Err(err) => tracing::debug!("cannot write the host cache: {err}"),
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
        };
        assert_eq!(
            cache.endpoints(),
            ["tcp/10.0.0.1:7449", "tcp/10.0.0.2:7449"]
        );
    }
}
