//! The Zenoh options both binaries take, spelled as in Zenoh's own examples
//! (`-c/--config`, `-e/--connect`, `-l/--listen`, `-m/--mode`,
//! `--no-multicast-scouting`), turned into plain configuration inserts.
//!
//! The inserts are `(path, json5 value)` pairs for `zenoh::Config::insert_json5`,
//! so this crate needs no Zenoh dependency and the two binaries cannot drift.

/// The TCP port a host listens on unless told otherwise.
///
/// Zenoh routers use 7447; tnet takes its own so a `zenohd` and a host can share a machine.
pub const DEFAULT_PORT: u16 = 7449;

/// Environment variable: comma-separated endpoints to connect to (SPEC 10).
pub const ENV_CONNECT: &str = "TNET_CONNECT";

/// Zenoh's common arguments.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct FabricArgs {
    /// A Zenoh configuration file (JSON5); the flags below override it.
    #[cfg_attr(
        feature = "clap",
        arg(short = 'c', long = "config", value_name = "FILE")
    )]
    pub config: Option<std::path::PathBuf>,
    /// Endpoints to connect to, e.g. tcp/192.168.1.7:7449 (also TNET_CONNECT, comma-separated).
    #[cfg_attr(
        feature = "clap",
        arg(
            short = 'e',
            long = "connect",
            value_name = "ENDPOINT",
            env = "TNET_CONNECT",
            value_delimiter = ','
        )
    )]
    pub connect: Vec<String>,
    /// Endpoints to listen on, e.g. tcp/0.0.0.0:7449.
    #[cfg_attr(
        feature = "clap",
        arg(short = 'l', long = "listen", value_name = "ENDPOINT")
    )]
    pub listen: Vec<String>,
    /// Zenoh session mode: peer (default) or client (through a router).
    #[cfg_attr(feature = "clap", arg(short = 'm', long = "mode", value_name = "MODE", value_parser = ["peer", "client"]))]
    pub mode: Option<String>,
    /// Turn off multicast scouting (finding hosts on the LAN with no configuration).
    #[cfg_attr(feature = "clap", arg(long = "no-multicast-scouting"))]
    pub no_multicast_scouting: bool,
    /// Keep multicast scouting on even when endpoints are given with TNET_CONNECT/--connect.
    #[cfg_attr(
        feature = "clap",
        arg(long = "multicast-scouting", conflicts_with = "no_multicast_scouting")
    )]
    pub multicast_scouting: bool,
    /// Plain TCP with no certificates and no access control, for a trusted lab
    /// network only: anyone who reaches a host can run anything on it
    /// (also TNET_INSECURE=1).
    #[cfg_attr(
        feature = "clap",
        arg(
            long = "insecure",
            env = "TNET_INSECURE",
            value_parser = clap::builder::BoolishValueParser::new()
        )
    )]
    pub insecure: bool,
}

/// What a host dials of what multicast scouting finds: no peer and no
/// router as a peer (the gate) or a router; as a Zenoh client (`-m client`,
/// through a router) the router it scouts, which a client needs to exist.
pub const HOST_AUTOCONNECT: &str = r#"{"router":[],"peer":[],"client":["router"]}"#;

/// Who is opening the session: a host listens on a fixed port, a client does not listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `tnet-host`.
    Host,
    /// `tnet`.
    Client,
}

impl FabricArgs {
    /// Whether multicast scouting is on: yes by default, off when endpoints are
    /// given (a user who names a host does not want to wait for scouting),
    /// unless asked for explicitly.
    pub fn scouting(&self) -> bool {
        if self.no_multicast_scouting {
            return false;
        }
        self.multicast_scouting || self.connect.is_empty()
    }

    /// Where a host listens: `-l` endpoints, or port 7449 on every interface.
    pub fn host_listen(&self) -> Vec<String> {
        if self.listen.is_empty() {
            vec![self.endpoint(&format!("tcp/0.0.0.0:{DEFAULT_PORT}"))]
        } else {
            self.listen.iter().map(|e| self.endpoint(e)).collect()
        }
    }

    /// Whether hosts are found only by multicast scouting (nothing
    /// configured): then where they were found is worth remembering.
    pub fn scouting_only(&self) -> bool {
        self.connect.is_empty()
            && self.config.is_none()
            && self.scouting()
            && self.mode.as_deref().unwrap_or("peer") == "peer"
    }

    /// `endpoint` as this session dials or listens on it: in the secure
    /// default a `tcp/` (or `tls/`) endpoint is taken as `quic/` on the same
    /// address and port, so addresses written before security (and
    /// remembered ones) keep working. Zenoh's `tls/` link is never used: in
    /// 1.10 its reader and writer share one TLS stream unsafely
    /// (eclipse-zenoh/zenoh#2557).
    pub fn endpoint(&self, endpoint: &str) -> String {
        if self.insecure {
            return endpoint.to_owned();
        }
        match endpoint
            .strip_prefix("tcp/")
            .or_else(|| endpoint.strip_prefix("tls/"))
        {
            Some(rest) => format!("quic/{rest}"),
            None => endpoint.to_owned(),
        }
    }

    /// The configuration inserts for a session of `role`, applied after the config file.
    pub fn inserts(&self, role: Role) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: String| out.push((k.to_owned(), v));
        put("mode", json_string(self.mode.as_deref().unwrap_or("peer")));
        let listen = match (role, self.listen.is_empty()) {
            (_, false) => self.listen.iter().map(|e| self.endpoint(e)).collect(),
            (Role::Host, true) => vec![self.endpoint(&format!("tcp/0.0.0.0:{DEFAULT_PORT}"))],
            // A client only dials out; listening would just advertise a useless port.
            (Role::Client, true) => Vec::new(),
        };
        put("listen/endpoints", json_list(&listen));
        if !self.connect.is_empty() {
            let connect: Vec<String> = self.connect.iter().map(|e| self.endpoint(e)).collect();
            put("connect/endpoints", json_list(&connect));
            // Named endpoints that cannot be reached are an error, not a silent wait.
            put("connect/exit_on_failure", "true".to_owned());
            put("connect/timeout_ms", "3000".to_owned());
            if !self.scouting() {
                // `open()` waits this long at most for the named peers'
                // declarations (Zenoh's default, 500 ms, is the scouting
                // delay). On a loaded machine a host's arrive later, and a
                // question asked then finds no host at all. The wait ends as
                // soon as they are in, so a longer limit costs nothing else.
                put("scouting/delay", "3000".to_owned());
            }
        }
        put("scouting/multicast/enabled", self.scouting().to_string());
        if role == Role::Host {
            // Hosts never connect to each other: they have nothing to say to
            // one another, and on a LAN of N hosts every peer dialling every
            // peer it scouts opens N(N-1)/2 links at once (100 hosts: 4,950)
            // and drowns the answers clients wait for. Hosts still answer
            // scouts, so clients find them; routers and `--connect` endpoints
            // are dialled as configured (docs/fleet.md).
            put(
                "scouting/multicast/autoconnect",
                HOST_AUTOCONNECT.to_owned(),
            );
            put("scouting/gossip/autoconnect", "[]".to_owned());
        }
        // Keeps `close()` and failed dials from stalling a short-lived command.
        put("transport/unicast/open_timeout", "2000".to_owned());
        out
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(inserts: &[(String, String)], key: &str) -> Option<String> {
        inserts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn host_listens_on_the_default_port_and_scouts() {
        let ins = FabricArgs::default().inserts(Role::Host);
        assert_eq!(
            get(&ins, "listen/endpoints").as_deref(),
            Some(r#"["quic/0.0.0.0:7449"]"#)
        );
        let open = FabricArgs {
            insecure: true,
            connect: vec!["tcp/10.0.0.1:7449".into()],
            ..Default::default()
        };
        assert_eq!(
            get(&open.inserts(Role::Host), "listen/endpoints").as_deref(),
            Some(r#"["tcp/0.0.0.0:7449"]"#)
        );
        assert_eq!(open.endpoint("tcp/10.0.0.1:7449"), "tcp/10.0.0.1:7449");
        assert_eq!(
            FabricArgs::default().endpoint("tcp/10.0.0.1:7449"),
            "quic/10.0.0.1:7449"
        );
        assert_eq!(
            get(&ins, "scouting/multicast/enabled").as_deref(),
            Some("true")
        );
    }

    #[test]
    fn hosts_connect_to_no_peer_they_scout_and_clients_do() {
        for insecure in [false, true] {
            let args = FabricArgs {
                insecure,
                ..Default::default()
            };
            let host = args.inserts(Role::Host);
            assert_eq!(
                get(&host, "scouting/multicast/autoconnect").as_deref(),
                Some(HOST_AUTOCONNECT)
            );
            assert_eq!(
                get(&host, "scouting/gossip/autoconnect").as_deref(),
                Some("[]")
            );
            for key in [
                "scouting/multicast/autoconnect",
                "scouting/gossip/autoconnect",
            ] {
                assert_eq!(get(&args.inserts(Role::Client), key), None, "{key}");
            }
        }
    }

    #[test]
    fn connecting_turns_scouting_off_unless_asked() {
        let mut args = FabricArgs {
            connect: vec!["tcp/127.0.0.1:1".into()],
            ..Default::default()
        };
        assert!(!args.scouting());
        args.multicast_scouting = true;
        assert!(args.scouting());
        let ins = FabricArgs::default().inserts(Role::Client);
        assert_eq!(get(&ins, "listen/endpoints").as_deref(), Some("[]"));
    }
}
