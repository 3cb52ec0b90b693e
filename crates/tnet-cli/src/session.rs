//! The one place a `tnet` session is opened: the flags (`-c -e -l -m`,
//! scouting, `--insecure`), the identity shown to hosts, the host cache and
//! scouting turn into a ready [`Client`] here, for every verb (and any
//! program built on this library).
//!
//! Imports run one way: `cmd` and `discovery` open sessions here; this opens
//! them with `identity` (the certificate), `settle` (a complete view of the
//! hosts) and wraps them in a `client::Client`.

use std::time::Duration;

use tnet_proto::fabric::{FabricArgs, Role};

use zenoh::config::ZenohId;

use crate::client::Client;
use crate::lan;
use crate::settle::{self, CONNECT_WAIT, CONNECT_WAIT_PER_HOST};

/// Whether a configuration has multicast scouting on, whatever turned it on.
fn scouting_on(config: &zenoh::Config) -> bool {
    config
        .get_json("scouting/multicast/enabled")
        .is_ok_and(|v| v.trim() == "true")
}

/// Applies `(path, json5 value)` settings to a Zenoh configuration.
pub fn insert_all(zc: &mut zenoh::Config, inserts: &[(String, String)]) -> anyhow::Result<()> {
    for (key, value) in inserts {
        zc.insert_json5(key, value)
            .map_err(|e| anyhow::anyhow!("bad Zenoh setting {key}={value}: {e}"))?;
    }
    Ok(())
}

/// The client's Zenoh configuration: the config file, the flags, and the
/// identity (mutual TLS over QUIC) unless `--insecure`.
pub fn zenoh_config(fabric: &FabricArgs) -> anyhow::Result<zenoh::Config> {
    // The identity first: a `tnet` without one fails at once, saying how to get one.
    let identity = crate::identity::inserts(fabric)?;
    let mut zc = match &fabric.config {
        Some(path) => zenoh::Config::from_file(path)
            .map_err(|e| anyhow::anyhow!("cannot read Zenoh config {}: {e}", path.display()))?,
        None => zenoh::Config::default(),
    };
    let mut inserts = fabric.inserts(Role::Client);
    inserts.extend(identity);
    // The session's own admin space says which address each host was reached
    // at, for the host cache. Only the session's links are there, and the
    // command line lives for a moment.
    inserts.push(("adminspace/enabled".to_owned(), "true".to_owned()));
    insert_all(&mut zc, &inserts)?;
    Ok(zc)
}

/// Opens a session with the flags' configuration.
pub async fn open(fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<Client> {
    open_with(zenoh_config(fabric)?, fabric, timeout).await
}

/// Opens a session for a command that lasts (`tnet ui`): as [`open`], and on
/// a LAN it goes on scouting, so that a host that starts later is dialled
/// too (Zenoh scouts again every few seconds and connects to a peer it does
/// not hold a link to).
pub async fn open_lasting(fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<Client> {
    open_scouting(zenoh_config(fabric)?, fabric, timeout, Scouting::Lasting).await
}

/// Opens a session with a configuration built for the purpose.
pub async fn open_with(
    config: zenoh::Config,
    fabric: &FabricArgs,
    timeout: Duration,
) -> anyhow::Result<Client> {
    open_scouting(config, fabric, timeout, Scouting::Once).await
}

/// Whether a session that scouts the LAN stops when it has dialled the hosts
/// heard (a command that asks and ends) or goes on for hosts that start later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scouting {
    Once,
    Lasting,
}

async fn open_scouting(
    config: zenoh::Config,
    fabric: &FabricArgs,
    timeout: Duration,
    scouting: Scouting,
) -> anyhow::Result<Client> {
    let (config, heard) = if scouting_on(&config) && mode(&config) == "peer" {
        dial_the_lan(config, fabric, scouting).await?
    } else {
        (config, Vec::new())
    };
    let session = zenoh::open(config).await.map_err(|e| {
        let to = if fabric.connect.is_empty() {
            String::new()
        } else {
            let dialled: Vec<String> = fabric.connect.iter().map(|c| fabric.endpoint(c)).collect();
            format!(" to {}", dialled.join(", "))
        };
        let why = if fabric.insecure {
            "\nA host on the secure default refuses plain TCP: drop --insecure and use a fleet identity.".to_owned()
        } else {
            format!(
                "\nIf it is running, it refused this identity, {}: the certificate must come from the host's fleet and not be expired. A host on --insecure needs --insecure.",
                crate::identity::describe(fabric)
            )
        };
        anyhow::anyhow!(
            "cannot connect{to}: {e}\nIs a tnet-host running there? Check the address and port (default 7449).{why}"
        )
    })?;
    let mut client = Client::new(session, timeout, fabric.clone());
    if !heard.is_empty() {
        let zids: Vec<ZenohId> = heard.iter().map(|h| h.zid).collect();
        // Each host is a handshake (QUIC with mutual TLS on the secure
        // default); hundreds at once take a while on a small machine.
        let wait = CONNECT_WAIT + CONNECT_WAIT_PER_HOST * u32::try_from(zids.len()).unwrap_or(1000);
        settle::wait_connected(&client.session, &zids, wait).await;
        let hosts = heard.iter().filter(|h| !h.router).count();
        match scouting {
            Scouting::Once => client.expect_hosts(hosts),
            // The hosts heard are waited for once; after that the session's
            // liveliness tokens are the hosts, as many as there are then.
            Scouting::Lasting => {
                settle::lan_hosts(&client.session, hosts, settle::DISCOVERY_WAIT).await?;
            }
        }
    }
    Ok(client)
}

/// The session's mode (`peer` unless the configuration says otherwise).
fn mode(config: &zenoh::Config) -> String {
    config
        .get_json("mode")
        .ok()
        .and_then(|m| serde_json::from_str::<String>(&m).ok())
        .unwrap_or_else(|| "peer".to_owned())
}

/// The protocols a `tnet` dials hosts with: QUIC on the secure default
/// (a host's gate also advertises the Unix socket of the host's own
/// session), plain TCP on `--insecure`.
fn protocols(fabric: &FabricArgs) -> &'static [&'static str] {
    if fabric.insecure {
        &["tcp"]
    } else {
        &["quic"]
    }
}

/// Scouts the LAN ([`lan::gather`]) and turns `config` into one that dials
/// every host heard at once, with scouting off (on for a lasting session);
/// returns the hosts heard.
/// Without a multicast interface, `config` is left to Zenoh's own scouting.
async fn dial_the_lan(
    mut config: zenoh::Config,
    fabric: &FabricArgs,
    scouting: Scouting,
) -> anyhow::Result<(zenoh::Config, Vec<lan::Heard>)> {
    let known = crate::hostcache::HostCache::load()
        .peers
        .into_iter()
        .map(|p| p.zid)
        .collect();
    let Some(heard) = lan::gather(&config, protocols(fabric), &known).await else {
        return Ok((config, Vec::new()));
    };
    let mut endpoints: Vec<String> = match config.get_json("connect/endpoints") {
        Ok(json) => match serde_json::from_str(&json) {
            Ok(list) => list,
            // Endpoints per mode, from a configuration file: left to Zenoh.
            Err(_) => return Ok((config, Vec::new())),
        },
        Err(_) => Vec::new(),
    };
    endpoints.extend(heard.iter().map(|h| h.endpoint.clone()));
    endpoints.dedup();
    insert_all(
        &mut config,
        &[
            (
                "connect/endpoints".to_owned(),
                serde_json::Value::from(endpoints).to_string(),
            ),
            // A host that answered and went since must not fail the session: the others may do.
            ("connect/exit_on_failure".to_owned(), "false".to_owned()),
            ("connect/timeout_ms".to_owned(), "-1".to_owned()),
            (
                "scouting/multicast/enabled".to_owned(),
                (scouting == Scouting::Lasting).to_string(),
            ),
            // Hundreds of handshakes at once on a loaded machine: one that
            // is slow is let finish rather than cut and retried a second later.
            (
                "transport/unicast/open_timeout".to_owned(),
                "5000".to_owned(),
            ),
            // `open()` returns at once and `settle` waits for the hosts: Zenoh's
            // own wait for many peers' declarations can miss that they came
            // (the last link's declarations may arrive before its dialler has
            // noted whom it reached), and then lasts its whole delay.
            (
                "open/return_conditions/connect_scouted".to_owned(),
                "false".to_owned(),
            ),
        ],
    )?;
    Ok((config, heard))
}

/// Most time a session on remembered endpoints waits for them to connect and
/// declare what they offer; only a remembered host that is gone makes it wait this long.
const CACHED_OPEN_DELAY_MS: u64 = 200;

/// A session that dials `endpoints` (remembered in the host cache) with scouting off.
pub async fn open_remembered(
    fabric: &FabricArgs,
    timeout: Duration,
    endpoints: &[String],
) -> anyhow::Result<Client> {
    let mut config = zenoh_config(fabric)?;
    let endpoints: Vec<String> = endpoints.iter().map(|e| fabric.endpoint(e)).collect();
    let list = serde_json::Value::from(endpoints).to_string();
    insert_all(
        &mut config,
        &[
            ("connect/endpoints".to_owned(), list),
            // A remembered host that is gone must not fail the session: the others may do.
            ("connect/exit_on_failure".to_owned(), "false".to_owned()),
            ("scouting/multicast/enabled".to_owned(), "false".to_owned()),
            (
                "scouting/delay".to_owned(),
                CACHED_OPEN_DELAY_MS.to_string(),
            ),
        ],
    )?;
    open_with(config, fabric, timeout).await
}
