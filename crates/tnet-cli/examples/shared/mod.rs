//! What the examples of tnet-cli that start their own Zenoh sessions share.

use anyhow::bail;

/// Sets one key of a Zenoh configuration from JSON5 text.
pub fn insert(config: &mut zenoh::Config, key: &str, value: &str) -> anyhow::Result<()> {
    config
        .insert_json5(key, value)
        .map_err(|e| anyhow::anyhow!("{key}: {e}"))
}

/// A port free for TCP and for UDP (QUIC) on every interface, below the
/// kernel's ephemeral range: a port the kernel just handed out for TCP can be
/// handed out again at once for a UDP socket (a QUIC client's), and the
/// secure host's QUIC listener then finds it taken.
pub fn free_port() -> anyhow::Result<u16> {
    let seed = std::process::id() as usize;
    for i in 0..1000 {
        let port = 20000 + ((seed * 7919 + i * 104_729) % 12000) as u16;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
            && std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok()
        {
            return Ok(port);
        }
    }
    bail!("no port free for both TCP and UDP")
}
