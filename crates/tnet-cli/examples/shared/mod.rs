//! What the examples of tnet-cli that start their own Zenoh sessions share:
//! sessions on loopback, on the secure default's link or plain TCP, and the
//! bare queryable in a process of its own that a benchmark's floor is.

use anyhow::bail;
use zenoh::bytes::ZBytes;
use zenoh::query::Query;
use zenoh::Wait;

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

/// A peer session on `link` (`quic` or `tcp`) at `port` on loopback, either
/// listening there or connected there only, multicast scouting off, with
/// `inserts` (the secure default's, or none).
pub async fn loopback_session(
    link: &str,
    port: u16,
    inserts: &[(String, String)],
    listen: bool,
) -> anyhow::Result<zenoh::Session> {
    let mut config = zenoh::Config::default();
    let endpoint = format!("[\"{link}/127.0.0.1:{port}\"]");
    let (mine, other) = if listen {
        ("listen/endpoints", "connect/endpoints")
    } else {
        ("connect/endpoints", "listen/endpoints")
    };
    insert(&mut config, mine, &endpoint)?;
    insert(&mut config, other, "[]")?;
    insert(&mut config, "scouting/multicast/enabled", "false")?;
    for (key, value) in inserts {
        insert(&mut config, key, value)?;
    }
    zenoh::open(config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open a session on {link}/127.0.0.1:{port}: {e}"))
}

/// Answers every query on `key` at once with `answer`, until the benchmark
/// that started this process closes its standard input; prints `ready` once
/// it answers.
pub async fn serve_until_stdin_closes(
    session: &zenoh::Session,
    key: &'static str,
    answer: impl Fn(&Query) -> ZBytes + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let queryable = session
        .declare_queryable(key)
        .callback(move |query| {
            let _ = query.reply(key, answer(&query)).wait();
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("ready");
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
    drop(queryable);
    Ok(())
}
