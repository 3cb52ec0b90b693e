//! Finding the host of a service quickly, for `tnet call`.
//!
//! In order:
//! 1. endpoints the user configured (`--connect`, `TNET_CONNECT`, `-c`):
//!    used as they are;
//! 2. otherwise, when the host cache ([`hostcache`]) remembers the host
//!    that answered this service last, that host's endpoint alone, with
//!    multicast scouting off: one handshake, whatever the fleet's size;
//! 3. otherwise (or if that host no longer offers it) every endpoint
//!    remembered in the host cache, dialled directly with scouting off, so
//!    the session opens as soon as those hosts have sent their declarations
//!    (milliseconds), not after the scouting delay;
//! 4. if that finds no host offering the service (the cache is empty or
//!    stale, or the service is on a host not seen before), a session with
//!    multicast scouting, as every other verb uses.
//!
//! With no host named, the first host whose liveliness token says it offers
//! the service is used: a query on `tnet/*/service/<name>` would run the
//! call on every host that offers it.
//!
//! [`hostcache`]: crate::hostcache

use std::time::Duration;

use anyhow::bail;
use tnet_proto::fabric::FabricArgs;
use tnet_proto::msg::{Request, Response};
use tnet_proto::task::problems::did_you_mean_hint;

use crate::call;
use crate::client::Client;
use crate::hostcache::HostCache;
use crate::session;
use crate::settle::DISCOVERY_WAIT;

/// Most time to hear from remembered hosts whether they offer the service.
const CACHED_LOOKUP: Duration = Duration::from_millis(500);

/// How the host of a call was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Through endpoints or a configuration the user gave.
    Configured,
    /// Through the endpoint the host cache remembers for the service's host.
    ServiceCache,
    /// Through every endpoint remembered in the host cache.
    Cache,
    /// Through multicast scouting.
    Scouting,
}

/// A session and a host in it that offers the service.
pub struct Found {
    /// The session.
    pub client: Client,
    /// The host to call.
    pub host: String,
    /// How it was reached.
    pub route: Route,
}

/// Opens a session and finds `host` (or, with none named, the first host)
/// offering `service`.
pub async fn find_service(
    fabric: &FabricArgs,
    timeout: Duration,
    host: Option<&str>,
    service: &str,
) -> anyhow::Result<Found> {
    if !fabric.scouting_only() {
        let client = session::open(fabric, timeout).await?;
        return match locate(&client, host, service, DISCOVERY_WAIT, true).await? {
            Some(host) => Ok(Found {
                client,
                host,
                route: Route::Configured,
            }),
            None => bail!("{}", not_found(&client, host, service).await),
        };
    }
    let cache = HostCache::load();
    if let Some(endpoint) = cache.service_endpoint(service, host) {
        let endpoints = [endpoint.to_owned()];
        if let Some(found) = through_cache(fabric, timeout, &endpoints, host, service).await? {
            tracing::debug!("the host that answered `{service}` last was dialled alone");
            return Ok(Found {
                route: Route::ServiceCache,
                ..found
            });
        }
    }
    let endpoints = cache.endpoints();
    if !endpoints.is_empty() {
        if let Some(found) = through_cache(fabric, timeout, &endpoints, host, service).await? {
            return Ok(found);
        }
    }
    let client = session::open(fabric, timeout).await?;
    match locate(&client, host, service, DISCOVERY_WAIT, true).await? {
        Some(host) => Ok(Found {
            client,
            host,
            route: Route::Scouting,
        }),
        None => bail!("{}", not_found(&client, host, service).await),
    }
}

/// A session on remembered `endpoints` and the host in it that offers
/// `service`; `None` when they do not lead to it (then scouting does).
async fn through_cache(
    fabric: &FabricArgs,
    timeout: Duration,
    endpoints: &[String],
    host: Option<&str>,
    service: &str,
) -> anyhow::Result<Option<Found>> {
    let client = match session::open_remembered(fabric, timeout, endpoints).await {
        Ok(client) => client,
        Err(err) => {
            tracing::debug!("the host cache did not work ({err:#}); scouting");
            return Ok(None);
        }
    };
    tracing::debug!("session open on {} remembered endpoint(s)", endpoints.len());
    match locate(&client, host, service, CACHED_LOOKUP, false).await? {
        Some(host) => {
            tracing::debug!(%host, "found through the host cache");
            Ok(Some(Found {
                client,
                host,
                route: Route::Cache,
            }))
        }
        None => {
            tracing::debug!("the host cache does not lead to `{service}`");
            Ok(None)
        }
    }
}

/// Finds the host to call in `client`'s session. `patient`: also wait for
/// hosts still connecting (right after scouting).
async fn locate(
    client: &Client,
    host: Option<&str>,
    service: &str,
    wait: Duration,
    patient: bool,
) -> anyhow::Result<Option<String>> {
    let session = &client.session;
    match host {
        Some(host) => Ok(call::host_offers(session, host, service, wait)
            .await?
            .then(|| host.to_owned())),
        None if patient => call::first_host_to_appear(session, service, wait).await,
        None => call::first_host(session, service, wait).await,
    }
}

/// What to tell a user when no host offers the service, with the nearest
/// name: of a host, when the host named is not up, else of a service.
async fn not_found(client: &Client, host: Option<&str>, service: &str) -> String {
    let hint = nearest_name(client, host, service).await;
    match host {
        Some(host) => format!(
            "host `{host}` does not offer service `{service}` (or is not up){hint}; `tnet services` lists the services"
        ),
        None if client.scouts() => format!(
            "no host offers service `{service}`{hint}: `tnet services` lists the services, `tnet hosts` the hosts that are up"
        ),
        None => format!(
            "no host reached through the configured endpoints offers service `{service}`{hint}; `tnet services` lists the services"
        ),
    }
}

/// " (did you mean `X`?)" for the host or service a user may have meant, or nothing.
async fn nearest_name(client: &Client, host: Option<&str>, service: &str) -> String {
    let hosts = client.hosts().await.unwrap_or_default();
    if let Some(host) = host.filter(|h| !hosts.iter().any(|up| up == h)) {
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        return did_you_mean_hint(host, &hosts);
    }
    let answers = client
        .ask(host, Request::Services)
        .await
        .unwrap_or_default();
    let names: Vec<String> = answers
        .into_iter()
        .filter_map(|env| match env.response {
            Response::Services { services } => Some(services.into_iter().map(|s| s.name)),
            _ => None,
        })
        .flatten()
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    did_you_mean_hint(service, &names)
}
