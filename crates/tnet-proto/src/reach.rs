//! Which of the locators a host advertises to dial.
//!
//! A host listening on `0.0.0.0` answers a scout with a locator for every
//! address of every interface: its LAN address, but also a Docker bridge's
//! `172.17.0.1` (the same on every machine that runs Docker), a VM network's,
//! and on the secure default the Unix socket of its own session behind the
//! gate. Zenoh's own scouting tries them one after another, host after host.
//! `tnet` instead dials every host at once, one locator each, picked here:
//! of the protocols the session speaks, an address on a network this machine
//! is on (the reply came over one), not one of this machine's own addresses
//! (a bridge both machines have), loopback and IPv6 link-local never.
//!
//! Pure: the caller reads its interfaces and passes them in.

use std::net::{IpAddr, SocketAddr};

/// One of this machine's interface addresses and its network's prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalNet {
    /// The interface's address.
    pub address: IpAddr,
    /// The prefix length of its network (24 for 255.255.255.0).
    pub prefix: u8,
}

impl LocalNet {
    /// Whether `ip` is on this network.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let bits = u32::from(self.prefix.min(32));
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                u32::from(a) & mask == u32::from(*b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let bits = u32::from(self.prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                u128::from(a) & mask == u128::from(*b) & mask
            }
            _ => false,
        }
    }
}

/// The locator of `locators` to dial, or `None` when none is of `protocols`
/// or dialable from another machine. `local` is this machine's networks.
pub fn pick_locator(locators: &[String], protocols: &[&str], local: &[LocalNet]) -> Option<String> {
    let mut best: Option<(u8, &String)> = None;
    for locator in locators {
        let Some(rank) = rank(locator, protocols, local) else {
            continue;
        };
        // The first of the best: hosts list their addresses in the system's order.
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, locator));
        }
    }
    best.map(|(_, l)| l.clone())
}

/// How good a locator is to dial (higher is better), `None` for never.
fn rank(locator: &str, protocols: &[&str], local: &[LocalNet]) -> Option<u8> {
    let (protocol, rest) = locator.split_once('/')?;
    if !protocols.contains(&protocol) {
        return None;
    }
    // Metadata and configuration after the address (`?...`, `#...`) are not part of it.
    let address = rest.split(['?', '#']).next().unwrap_or(rest);
    let Ok(socket) = address.parse::<SocketAddr>() else {
        // A name: it may resolve to anything; better than nothing.
        return Some(1);
    };
    let ip = socket.ip();
    if ip.is_loopback() || ip.is_unspecified() || is_link_local(&ip) {
        return None;
    }
    if local.iter().any(|n| n.address == ip) {
        // This machine's own address: the host is here (then every one of
        // its addresses is), or it is a bridge both machines have.
        return Some(0);
    }
    if local.iter().any(|n| n.contains(&ip)) {
        return Some(3);
    }
    // Beyond a gateway: reachable perhaps, not where the scout's reply came from.
    Some(2)
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(address: &str, prefix: u8) -> LocalNet {
        LocalNet {
            address: address.parse().expect("an address"),
            prefix,
        }
    }

    fn pick(locators: &[&str], protocols: &[&str], local: &[LocalNet]) -> Option<String> {
        let locators: Vec<String> = locators.iter().map(|l| (*l).to_owned()).collect();
        pick_locator(&locators, protocols, local)
    }

    #[test]
    fn the_lan_address_is_picked_over_a_shared_bridge_and_the_gate_socket() {
        let here = [
            net("192.168.1.9", 24),
            net("172.17.0.1", 16),
            net("127.0.0.1", 8),
        ];
        let host = [
            "quic/172.17.0.1:7449",
            "unixsock-stream//home/a/.tnet/run/host.sock",
            "quic/192.168.1.21:7449",
        ];
        assert_eq!(
            pick(&host, &["quic"], &here).as_deref(),
            Some("quic/192.168.1.21:7449")
        );
        // Without Docker here, the bridge is only "beyond a gateway": still second.
        let here = [net("192.168.1.9", 24)];
        assert_eq!(
            pick(&host, &["quic"], &here).as_deref(),
            Some("quic/192.168.1.21:7449")
        );
    }

    #[test]
    fn only_the_sessions_protocols_and_dialable_addresses_are_picked() {
        let here = [net("10.47.0.9", 16)];
        assert_eq!(pick(&["tcp/10.47.0.11:7449"], &["quic"], &here), None);
        assert_eq!(
            pick(&["tcp/10.47.0.11:7449"], &["tcp"], &here).as_deref(),
            Some("tcp/10.47.0.11:7449")
        );
        assert_eq!(
            pick(
                &[
                    "quic/[fe80::1]:7449",
                    "quic/127.0.0.1:7449",
                    "unixsock-stream//x"
                ],
                &["quic"],
                &here
            ),
            None
        );
        assert_eq!(
            pick(&["quic/10.47.1.200:7449?iface=eth0"], &["quic"], &here).as_deref(),
            Some("quic/10.47.1.200:7449?iface=eth0")
        );
    }

    #[test]
    fn a_host_on_this_machine_is_reached_at_one_of_its_addresses() {
        let here = [net("192.168.1.9", 24), net("172.17.0.1", 16)];
        assert_eq!(
            pick(
                &["quic/192.168.1.9:7449", "quic/172.17.0.1:7449"],
                &["quic"],
                &here
            )
            .as_deref(),
            Some("quic/192.168.1.9:7449")
        );
    }

    #[test]
    fn networks_contain_their_addresses() {
        assert!(net("10.47.0.9", 16).contains(&"10.47.3.1".parse().expect("ip")));
        assert!(!net("10.47.0.9", 24).contains(&"10.47.3.1".parse().expect("ip")));
        assert!(net("10.0.0.1", 0).contains(&"8.8.8.8".parse().expect("ip")));
        assert!(net("fd00::1", 64).contains(&"fd00::9".parse().expect("ip")));
        assert!(!net("fd00::1", 64).contains(&"10.0.0.1".parse().expect("ip")));
    }
}
