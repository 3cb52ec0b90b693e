//! The host on the network: its Zenoh session, liveliness token and queryables.
//! (Each service declares its own queryable and token: see `supervisor/service/`.)
//!
//! Each query is answered in its own Tokio task, so a slow request (an upload
//! being verified, a stop waiting for a grace period) never holds up another.
//! Nothing that arrives from the network can panic the host: undecodable
//! requests get an error reply.

use std::sync::Arc;

use anyhow::Context;
use tnet_proto::keys;
use tnet_proto::msg::{
    self, BlobChunk, ErrorKind, ErrorReply, RequestEnvelope, Response, ResponseEnvelope,
};
use tnet_proto::PROTOCOL_VERSION;
use zenoh::query::Query;
use zenoh::sample::SampleKind;

use crate::blobs::BlobStore;
use crate::callers::Callers;
use crate::config::HostConfig;
use crate::front::FrontQueryable;
use crate::gate;
use crate::handlers;
use crate::history;
use crate::host::{Host, Shared};
use crate::paths::Paths;
use crate::runner::process::{kill_stale_group, ProcessRunner};
use crate::security::Security;
use crate::store::Store;
use crate::supervisor::STOP_GRACE;

/// Builds the Zenoh configuration of an `--insecure` host, whose one
/// session faces the network (the secure default has two: `gate.rs`).
pub fn insecure_zenoh_config(config: &HostConfig) -> anyhow::Result<zenoh::Config> {
    let mut zc = match &config.fabric.config {
        Some(path) => zenoh::Config::from_file(path)
            .map_err(|e| anyhow::anyhow!("cannot read Zenoh config {}: {e}", path.display()))?,
        None => zenoh::Config::default(),
    };
    for (key, value) in config.fabric.inserts(tnet_proto::fabric::Role::Host) {
        zc.insert_json5(&key, &value)
            .map_err(|e| anyhow::anyhow!("bad Zenoh setting {key}={value}: {e}"))?;
    }
    Ok(zc)
}

/// Opens the store, restores every task, and serves until Ctrl-C or SIGTERM.
pub async fn serve(mut config: HostConfig) -> anyhow::Result<()> {
    skip_own_endpoints(&mut config);
    let paths = Paths::new(&config.home);
    paths
        .create_all()
        .with_context(|| format!("cannot create the tasks folder {}", config.home.display()))?;
    clear_staging(&paths)?;
    let store = Store::open(&paths.database())?;
    store.keep_runs().set_default(config.retention.keep_runs);
    let stale = store.interrupted_groups()?;
    if !stale.is_empty() {
        // Processes of a host that died keep running; end them before starting
        // the tasks again, or each restart would leave a duplicate behind.
        tokio::task::spawn_blocking(move || {
            stale.iter().for_each(|l| kill_stale_group(l, STOP_GRACE))
        })
        .await?;
    }
    end_stale_calls(&paths).await?;
    store.recover()?;
    let blobs = BlobStore::open(&paths).context("cannot open the upload store")?;
    blobs.set_bounds(crate::blobs::CacheBounds {
        grace: config.retention.blob_grace,
        cap: config.retention.blob_cache_max,
        lease: config.limits.upload_idle,
    });
    let security = crate::security::prepare(&config, &paths)?;

    // The session clients reach: the gate's (it says when it changes), or
    // the host's own with `--insecure` (set below, once it is open).
    let (front_tx, front) = tokio::sync::watch::channel(None);
    let (zc, listen, gate) = match &security {
        Security::Insecure => {
            let zc = insecure_zenoh_config(&config)?;
            let listen = crate::addresses::listen_endpoints(&zc);
            (zc, listen, None)
        }
        Security::Secure(trust) => {
            let inner = gate::inner_endpoint(&paths)?;
            let listen = config.fabric.host_listen();
            let id = gate::inner_id();
            gate::pull_roster(&config, trust).await;
            // The gate first: the host's session dials it, and it carries the
            // host's declarations to the network as they are made.
            let gate = gate::Gate::open(
                config.clone(),
                trust.clone(),
                inner.clone(),
                id.clone(),
                front_tx.clone(),
            )
            .await?;
            (gate::inner_config(&inner, &id)?, listen, Some(gate))
        }
    };
    let session = zenoh::open(zc)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the Zenoh session: {e}"))?;
    if gate.is_none() {
        front_tx.send_replace(Some(session.clone()));
    }
    let callers = Arc::new(Callers::default());
    // Declared before any service takes calls, with history, so every
    // caller's token is known before its first call is read.
    let departures = callers.clone();
    let _caller_tokens = session
        .liveliness()
        .declare_subscriber(keys::all_callers())
        .history(true)
        .callback(move |sample| {
            if sample.kind() == SampleKind::Delete {
                if let Some(caller) = keys::caller_of(sample.key_expr().as_str()) {
                    departures.departed(caller);
                }
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot follow service callers: {e}"))?;
    let (notify, notify_queue) = crate::notify::NotifyHandle::new();
    let docker = match crate::docker::Engine::connect(
        &config.name,
        paths.home(),
        &paths.calls(),
        &config.docker,
    )
    .await
    {
        Ok(engine) => {
            tracing::info!("Docker engine found: docker tasks can run");
            Ok(Arc::new(engine))
        }
        Err(err) => {
            tracing::warn!("no Docker engine ({err}); docker tasks will be refused");
            Err(err.to_string())
        }
    };
    let shared = Arc::new(Shared {
        docker,
        notify,
        name: config.name.clone(),
        paths,
        store,
        blobs,
        session: session.clone(),
        front,
        runner: Arc::new(ProcessRunner),
        ssh: config.ssh.clone(),
        listen,
        callers,
        trust: security.trust(),
        guards: crate::limits::Guards::new(config.limits.clone()),
        upkeep: crate::retention::Upkeep::new(config.retention.clone()),
    });
    tokio::spawn(crate::notify::run(
        shared.clone(),
        Arc::new(config.notify.clone()),
        notify_queue,
    ));
    let host = Arc::new(Host::new(shared));
    host.restore()?;
    tokio::spawn(crate::retention::run(host.clone()));

    // On the session clients reach, so a request crosses no second session
    // (and an upload's chunks never queue between two: zenoh_pools.rs).
    let declare = |key: String, what: &'static str| {
        let front = host.shared.front.clone();
        async move {
            FrontQueryable::declare(front, key)
                .await
                .map_err(|e| anyhow::anyhow!("cannot declare the {what} queryable: {e}"))
        }
    };
    let mut control = declare(keys::host_control(&config.name), "control").await?;
    let mut admin = declare(keys::host_admin(&config.name), "admin").await?;
    let mut blob = declare(keys::host_blob(&config.name), "upload").await?;
    let mut history = declare(keys::all_habits(&config.name), "habit history").await?;
    // Declared last: a client that sees the host alive can use it at once.
    let token = session
        .liveliness()
        .declare_token(keys::host_alive(&config.name))
        .await
        .map_err(|e| anyhow::anyhow!("cannot declare the liveliness token: {e}"))?;
    let mode = if security.is_insecure() {
        "INSECURE (plain TCP, anyone may submit)"
    } else {
        "mutual TLS over QUIC, roles from the fleet roster"
    };
    tracing::info!(host = %config.name, home = %config.home.display(), security = mode, "tnet-host ready");

    let mut signals = Signals::new()?;
    let closed = "the network side closed";
    let reason = loop {
        tokio::select! {
            q = control.recv() => match q {
                Some(query) => { tokio::spawn(answer_control(host.clone(), query, false)); }
                None => break closed,
            },
            q = admin.recv() => match q {
                Some(query) => { tokio::spawn(answer_control(host.clone(), query, true)); }
                None => break closed,
            },
            q = blob.recv() => match q {
                Some(query) => { tokio::spawn(answer_blob(host.clone(), query)); }
                None => break closed,
            },
            q = history.recv() => match q {
                Some(query) => { tokio::spawn(history::answer(host.clone(), query)); }
                None => break closed,
            },
            signal = signals.next() => break signal,
        }
    };
    tracing::info!("stopping ({reason}): ending every task's processes");
    // Gone for clients first: `tnet` sees no host rather than one that no
    // longer answers.
    if let Err(err) = token.undeclare().await {
        tracing::debug!("withdrawing the host from the network: {err}");
    }
    for queryable in [control, admin, blob, history] {
        queryable.undeclare().await;
    }
    if let Some(gate) = &gate {
        gate.close().await;
    }
    shut_down_tasks(&host, &mut signals).await;
    // Records queued by the tasks' ends (a service's last calls) are on
    // disk before the process, and the ledger's thread with it, ends.
    if let Err(err) = host.shared.store.ledger().written().await {
        tracing::warn!("writing the last records: {err}");
    }
    front_tx.send_replace(None);
    let _ = session.close().await;
    tracing::info!("tnet-host stopped");
    Ok(())
}

/// Leaves out the connect endpoints that are the host's own listen address
/// (a `TNET_CONNECT` exported for `tnet` on this machine reaches the host
/// too), saying so once: Zenoh refuses a link to itself, and a named
/// endpoint it cannot reach fails the whole session. Whether the host scouts
/// stays what the endpoints as given made it.
fn skip_own_endpoints(config: &mut HostConfig) {
    let fabric = &config.fabric;
    let scouting = fabric.scouting();
    let dialled: Vec<String> = fabric.connect.iter().map(|e| fabric.endpoint(e)).collect();
    let (_, own) = crate::addresses::without_own_endpoints(&dialled, &fabric.host_listen());
    if own.is_empty() {
        return;
    }
    tracing::info!(
        "not connecting to {}: it is this host's own listen address (from --connect or TNET_CONNECT)",
        own.join(", ")
    );
    let fabric = &mut config.fabric;
    let keep: Vec<String> = fabric
        .connect
        .iter()
        .filter(|e| !own.contains(&fabric.endpoint(e)))
        .cloned()
        .collect();
    fabric.connect = keep;
    if !scouting && fabric.scouting() {
        fabric.no_multicast_scouting = true;
    }
}

/// SIGTERM (`systemctl stop`, `kill`) and SIGINT (Ctrl-C): both stop the host.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
        })
    }

    /// The next signal, by name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Stops every task the way `tnet stop` does (TERM to its process group,
/// KILL after its stop grace), all at once, and waits until each is done and
/// its run recorded as ended by the shutdown. A signal meanwhile changes
/// nothing (each task is already on its way down); it is logged, so whoever
/// sent it knows why the host is still there.
async fn shut_down_tasks(host: &Host, signals: &mut Signals) {
    let began = std::time::Instant::now();
    let tasks = host.close();
    let mut all = std::pin::pin!(futures::future::join_all(
        tasks.iter().map(|t| t.shutdown())
    ));
    loop {
        tokio::select! {
            _ = &mut all => break,
            signal = signals.next() => tracing::info!(
                "{signal} received while already stopping: waiting for the tasks to end their stop grace (SIGKILL stops the host at once, leaving them for its next start to end)"
            ),
        }
    }
    tracing::info!(
        "every task ended ({} in {:.1} s)",
        tasks.len(),
        began.elapsed().as_secs_f64()
    );
}

/// Ends the process groups of service calls a dead host left running, and
/// clears their folders.
async fn end_stale_calls(paths: &Paths) -> anyhow::Result<()> {
    let calls = paths.calls();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let Ok(entries) = std::fs::read_dir(&calls) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            if let Some(locator) = crate::supervisor::read_call_group(&entry.path()) {
                kill_stale_group(&locator, STOP_GRACE);
            }
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot clear {}", entry.path().display()))?;
        }
        Ok(())
    })
    .await?
}

fn clear_staging(paths: &Paths) -> anyhow::Result<()> {
    let staging = paths.staging();
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging)?;
    Ok(())
}

/// Answers a request that came on the control key (`on_admin` false) or the
/// admin key. A request on the wrong key is refused: the key is what access
/// control sees, so an admin-only request must never be served from `ctl`.
async fn answer_control(host: Arc<Host>, query: Query, on_admin: bool) {
    let bytes = query
        .payload()
        .map(|p| p.to_bytes().into_owned())
        .unwrap_or_default();
    let response = match msg::decode::<RequestEnvelope>(&bytes) {
        Ok(envelope) if envelope.request.needs_admin() != on_admin => handlers::error(
            ErrorKind::BadRequest,
            if on_admin {
                "this request belongs on the host's control key (tnet/<host>/ctl)"
            } else {
                "this request changes the host: send it to tnet/<host>/admin (admins only)"
            },
        ),
        Ok(envelope) => handlers::dispatch(&host, envelope).await,
        Err(err) => handlers::error(
            ErrorKind::BadRequest,
            format!("{err}; this host speaks tnet protocol {PROTOCOL_VERSION}"),
        ),
    };
    let envelope = ResponseEnvelope {
        version: PROTOCOL_VERSION,
        host: host.shared.name.clone(),
        response,
    };
    let key = if on_admin {
        keys::host_admin(&host.shared.name)
    } else {
        keys::host_control(&host.shared.name)
    };
    if let Err(err) = query.reply(key, msg::encode(&envelope)).await {
        tracing::debug!("cannot answer a request: {err}");
    }
}

async fn answer_blob(host: Arc<Host>, query: Query) {
    let meta = query
        .attachment()
        .ok_or_else(|| {
            ErrorReply::new(
                ErrorKind::BadRequest,
                "an upload chunk needs its metadata as attachment",
            )
        })
        .and_then(|a| {
            msg::decode::<BlobChunk>(&a.to_bytes())
                .map_err(|e| ErrorReply::new(ErrorKind::BadRequest, e.to_string()))
        });
    let result = match meta {
        Ok(meta) => {
            // The bytes as received (shared, not copied): written from them.
            let data = query.payload().cloned().unwrap_or_default();
            handlers::chunk(&host, meta, data).await
        }
        Err(e) => Err(e),
    };
    let response = match result {
        Ok(ack) => msg::encode(&ack),
        Err(err) => msg::encode(&Response::Error(err)),
    };
    if let Err(err) = query
        .reply(keys::host_blob(&host.shared.name), response)
        .await
    {
        tracing::debug!("cannot answer an upload chunk: {err}");
    }
}
