//! Where clients can reach this host, for `tnet hosts`: its listen endpoints
//! as Zenoh locators, an unspecified address (`0.0.0.0`, `[::]`) expanded
//! into this machine's interface addresses.
//!
//! A host listens on `tcp/0.0.0.0:7449` by default, an address nobody can
//! dial; what a user wants to see (and paste into `--connect`) is
//! `tcp/192.168.1.7:7449`. Addresses other machines can dial come first,
//! loopback last. Link-local addresses are left out: an IPv6 one is useless
//! without its interface, an IPv4 one means no address was assigned.
//!
//! The interfaces are read on every request, so a host whose address changes
//! (DHCP, a laptop moving networks) reports the new one.

use std::net::{IpAddr, SocketAddr};

/// The endpoints a Zenoh configuration listens on, for the session's mode
/// (`listen/endpoints` may be one list or one list per mode).
pub fn listen_endpoints(config: &zenoh::Config) -> Vec<String> {
    let mode = config
        .get_json("mode")
        .ok()
        .and_then(|m| serde_json::from_str::<String>(&m).ok())
        .unwrap_or_else(|| "peer".to_owned());
    let Some(value) = config
        .get_json("listen/endpoints")
        .ok()
        .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
    else {
        return Vec::new();
    };
    let list = match &value {
        serde_json::Value::Object(per_mode) => per_mode.get(&mode).cloned().unwrap_or_default(),
        other => other.clone(),
    };
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The locators of `endpoints` with this machine's interface addresses now.
pub fn reachable(endpoints: &[String]) -> Vec<String> {
    expand(endpoints, &local_addresses())
}

/// This machine's addresses as networks of one address each, for
/// `tnet_proto::reach::pick_locator`: a scouted host's address that is also
/// one of ours (a Docker bridge every machine has) is dialled last.
pub fn own_addresses() -> Vec<tnet_proto::reach::LocalNet> {
    local_addresses()
        .into_iter()
        .map(|address| tnet_proto::reach::LocalNet {
            address,
            prefix: if address.is_ipv4() { 32 } else { 128 },
        })
        .collect()
}

/// The addresses of this machine's interfaces that are up, in the system's order.
fn local_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        // No list of interfaces: the unspecified endpoints are left out, the rest shown.
        return Vec::new();
    };
    interfaces
        .filter(|i| i.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP))
        .filter_map(|i| {
            let address = i.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

/// `endpoints` as locators, each unspecified address replaced by the
/// `local` addresses of its family (`[::]` also takes IPv4: Linux listens on
/// both), non-loopback first, without duplicates.
pub fn expand(endpoints: &[String], local: &[IpAddr]) -> Vec<String> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut push = |loopback: bool, locator: String| {
        if !out.iter().any(|(_, l)| *l == locator) {
            out.push((loopback, locator));
        }
    };
    for endpoint in endpoints {
        let Some((protocol, address, metadata)) = split(endpoint) else {
            continue;
        };
        let Ok(socket) = address.parse::<SocketAddr>() else {
            // A name or a socket path: shown as written.
            push(false, format!("{protocol}/{address}{metadata}"));
            continue;
        };
        if !socket.ip().is_unspecified() {
            push(
                socket.ip().is_loopback(),
                locator(protocol, socket, metadata),
            );
            continue;
        }
        let families: &[fn(&IpAddr) -> bool] = if socket.is_ipv4() {
            &[IpAddr::is_ipv4]
        } else {
            &[IpAddr::is_ipv4, IpAddr::is_ipv6]
        };
        for family in families {
            for ip in local.iter().filter(|ip| family(ip) && dialable(ip)) {
                let at = SocketAddr::new(*ip, socket.port());
                push(ip.is_loopback(), locator(protocol, at, metadata));
            }
        }
    }
    // Stable: the order within each group is kept.
    out.sort_by_key(|(loopback, _)| *loopback);
    out.into_iter().map(|(_, l)| l).collect()
}

/// Whether dialling `connect` would reach this host's own `listen`
/// endpoints (given as the session dials and listens: same protocol, after
/// `FabricArgs::endpoint`). Zenoh refuses such a link (`CONNECTION_TO_SELF`),
/// and with `exit_on_failure` the whole session fails to open; a user who
/// exports `TNET_CONNECT` for `tnet` on the host's own machine hands it to
/// the host too. `local` holds this machine's addresses: an unspecified
/// listen address (`0.0.0.0`) is reached through any of them; names are
/// resolved (only when the port is one the host listens on).
pub fn is_own_endpoint(connect: &str, listen: &[String], local: &[IpAddr]) -> bool {
    let Some((protocol, address, _)) = split(connect) else {
        return false;
    };
    let targets: Vec<SocketAddr> = match address.parse::<SocketAddr>() {
        Ok(socket) => vec![socket],
        Err(_) => {
            let listens_on_port = |port: &str| {
                listen.iter().filter_map(|l| split(l)).any(|(p, a, _)| {
                    p == protocol && a.rsplit_once(':').map(|(_, lp)| lp) == Some(port)
                })
            };
            match address.rsplit_once(':') {
                Some((_, port)) if listens_on_port(port) => {
                    use std::net::ToSocketAddrs;
                    address
                        .to_socket_addrs()
                        .map(Iterator::collect)
                        .unwrap_or_default()
                }
                _ => return false,
            }
        }
    };
    listen
        .iter()
        .filter_map(|l| split(l))
        .filter(|(p, _, _)| *p == protocol)
        .filter_map(|(_, a, _)| a.parse::<SocketAddr>().ok())
        .any(|own| {
            targets.iter().any(|t| {
                t.port() == own.port()
                    && (t.ip() == own.ip()
                        || (own.ip().is_unspecified()
                            && (t.ip().is_loopback() || local.contains(&t.ip()))))
            })
        })
}

/// `connect` without the endpoints that are this host's own `listen` ones
/// ([`is_own_endpoint`], with this machine's addresses now), and those left out.
pub fn without_own_endpoints(connect: &[String], listen: &[String]) -> (Vec<String>, Vec<String>) {
    let local = local_addresses();
    connect
        .iter()
        .cloned()
        .partition(|c| !is_own_endpoint(c, listen, &local))
}

/// `tcp/[::]:7449?iface=eth0#rel=1` → (`tcp`, `[::]:7449`, `?iface=eth0`):
/// a locator keeps an endpoint's metadata and drops its configuration.
fn split(endpoint: &str) -> Option<(&str, &str, &str)> {
    let (protocol, rest) = endpoint.split_once('/')?;
    let rest = rest.split('#').next().unwrap_or_default();
    let (address, metadata) = match rest.find('?') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    Some((protocol, address, metadata))
}

fn locator(protocol: &str, at: SocketAddr, metadata: &str) -> String {
    format!("{protocol}/{at}{metadata}")
}

/// Whether another machine (or this one) could dial `ip`.
fn dialable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_link_local() && !v4.is_multicast() && !v4.is_unspecified(),
        IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !link_local && !v6.is_multicast() && !v6.is_unspecified()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter()
            .map(|s| s.parse().expect("an address"))
            .collect()
    }

    fn endpoints(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_unspecified_ipv4_address_becomes_every_interface_loopback_last() {
        let local = ips(&[
            "127.0.0.1",
            "10.0.0.7",
            "fe80::1",
            "2001:db8::7",
            "172.17.0.1",
        ]);
        assert_eq!(
            expand(&endpoints(&["tcp/0.0.0.0:7449"]), &local),
            [
                "tcp/10.0.0.7:7449",
                "tcp/172.17.0.1:7449",
                "tcp/127.0.0.1:7449"
            ]
        );
    }

    #[test]
    fn an_unspecified_ipv6_address_takes_both_families_but_no_link_local() {
        let local = ips(&[
            "127.0.0.1",
            "10.0.0.7",
            "169.254.3.3",
            "::1",
            "fe80::1",
            "2001:db8::7",
        ]);
        assert_eq!(
            expand(&endpoints(&["tcp/[::]:7449"]), &local),
            [
                "tcp/10.0.0.7:7449",
                "tcp/[2001:db8::7]:7449",
                "tcp/127.0.0.1:7449",
                "tcp/[::1]:7449"
            ]
        );
    }

    #[test]
    fn explicit_addresses_names_and_metadata_are_kept_without_configuration() {
        let local = ips(&["10.0.0.7"]);
        assert_eq!(
            expand(
                &endpoints(&[
                    "tcp/127.0.0.1:7500",
                    "tls/0.0.0.0:7450?iface=eth0#key_file=/k.pem",
                    "tcp/lab1.local:7449",
                    "tcp/10.0.0.7:7500",
                    "junk",
                ]),
                &local
            ),
            [
                "tls/10.0.0.7:7450?iface=eth0",
                "tcp/lab1.local:7449",
                "tcp/10.0.0.7:7500",
                "tcp/127.0.0.1:7500"
            ]
        );
    }

    #[test]
    fn the_listen_endpoints_are_read_from_one_list_or_one_per_mode() {
        let mut config = zenoh::Config::default();
        config
            .insert_json5("listen/endpoints", r#"["tcp/0.0.0.0:7449"]"#)
            .expect("a list");
        assert_eq!(listen_endpoints(&config), ["tcp/0.0.0.0:7449"]);
        config
            .insert_json5(
                "listen/endpoints",
                r#"{ router: ["tcp/0.0.0.0:7447"], peer: ["tcp/0.0.0.0:7500"] }"#,
            )
            .expect("one per mode");
        assert_eq!(listen_endpoints(&config), ["tcp/0.0.0.0:7500"]);
    }

    #[test]
    fn the_hosts_own_address_is_recognised_among_connect_endpoints() {
        let local = ips(&["127.0.0.1", "10.0.0.7"]);
        let own =
            |connect: &str, listen: &[&str]| is_own_endpoint(connect, &endpoints(listen), &local);
        assert!(own("quic/127.0.0.1:7500", &["quic/127.0.0.1:7500"]));
        assert!(own(
            "quic/127.0.0.1:7500#timeout=1",
            &["quic/127.0.0.1:7500"]
        ));
        assert!(own("tcp/10.0.0.7:7449", &["tcp/0.0.0.0:7449"]));
        assert!(own("tcp/127.0.0.1:7449", &["tcp/[::]:7449"]));
        assert!(own("tcp/localhost:7449", &["tcp/0.0.0.0:7449"]));
        // Another port, another machine, another protocol: someone else.
        assert!(!own("quic/127.0.0.1:7501", &["quic/127.0.0.1:7500"]));
        assert!(!own("tcp/10.0.0.8:7449", &["tcp/0.0.0.0:7449"]));
        assert!(!own("tcp/127.0.0.1:7449", &["quic/127.0.0.1:7449"]));
        assert!(!own("tcp/10.0.0.7:7449", &["tcp/127.0.0.1:7449"]));
        assert!(!own("tcp/lab2.invalid:7000", &["tcp/0.0.0.0:7449"]));
        assert!(!own("junk", &["tcp/0.0.0.0:7449"]));
    }

    #[test]
    fn this_machine_has_an_address_for_an_unspecified_endpoint() {
        // Loopback at least, on any machine the tests run on.
        let found = reachable(&endpoints(&["tcp/0.0.0.0:7449"]));
        assert!(found.iter().any(|l| l == "tcp/127.0.0.1:7449"), "{found:?}");
    }
}
