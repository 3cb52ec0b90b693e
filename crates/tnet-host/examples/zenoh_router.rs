//! A Zenoh router built from the same `zenoh` crate as tnet (1.10), for
//! `scripts/bench-fleet.sh` on a machine without `zenohd`: it opens a session
//! with the configuration file it is given (what `tnet fleet add-router`
//! writes: router mode, QUIC with mutual TLS, the roster's access control)
//! and serves until SIGTERM or Ctrl-C. `zenohd` is this and its plugins
//! (REST, storages), which tnet does not use.
//!
//!   cargo run --release -p tnet-host --example zenoh_router -- zenohd.json5

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: zenoh_router CONFIG.json5"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = zenoh::Config::from_file(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
        let session = zenoh::open(config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the router: {e}"))?;
        // The line zenohd prints once it listens, which scripts wait for.
        println!(
            "router {} can be reached at its listen endpoints",
            session.zid()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let _ = session.close().await;
        Ok(())
    })
}
