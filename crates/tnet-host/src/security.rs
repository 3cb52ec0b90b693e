//! How the host proves itself and decides who may do what: its identity from
//! the fleet, and the fleet's roster it enforces (`Trust`), or `--insecure`.
//!
//! With no identity at `<home>/.tnet/tls/` the host gets one from the fleet
//! on this machine (`$TNET_FLEET` or `~/.config/tnet/fleet`), creating that
//! fleet (authority, roster and the `admin` client bundle) if there is none:
//! the first `tnet-host` on a machine needs no certificate step, and a `tnet`
//! on the same machine finds the admin bundle there.
//!
//! The roster the host enforces is the newest the fleet's authority signed
//! among: the one it kept (`<home>/.tnet/roster.json`), the one its bundle
//! came with, the local fleet's, the ones other hosts hold when it starts
//! (`gate::pull_roster`), and any offered to it later (`tnet fleet` pushes
//! each change). Each new one is kept on disk before it is used, and the
//! gate is opened again with it (`gate.rs`).

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use tnet_fleet::{Fleet, Identity, Role, Roster, SignedRoster, Validity};

use crate::config::HostConfig;
use crate::paths::Paths;

/// The host's stance.
#[derive(Debug, Clone)]
pub enum Security {
    /// Plain TCP, no certificates, no access control.
    Insecure,
    /// Mutual TLS over QUIC with this identity, and the roster's access control.
    Secure(std::sync::Arc<Trust>),
}

/// The host's identity and the roster it enforces.
#[derive(Debug)]
pub struct Trust {
    identity: Identity,
    ca_pem: String,
    kept: PathBuf,
    current: Mutex<(SignedRoster, Roster)>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Trust {
    /// The host's identity bundle.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The roster now enforced.
    pub fn roster(&self) -> Roster {
        self.lock().1.clone()
    }

    /// The roster now enforced, as signed (to carry to other hosts).
    pub fn signed(&self) -> SignedRoster {
        self.lock().0.clone()
    }

    /// Its version.
    pub fn version(&self) -> u64 {
        self.lock().1.version
    }

    /// Told each new version.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (SignedRoster, Roster)> {
        // A poisoned lock still holds a whole roster: it is only ever replaced.
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `offer` if the fleet's authority signed it and it is newer than
    /// the roster enforced now; `Ok(false)` when it is not newer.
    pub fn offer(&self, offer: SignedRoster) -> Result<bool, tnet_fleet::FleetError> {
        let roster = offer.verify(&self.ca_pem)?;
        let mut current = self.lock();
        if roster.version <= current.1.version {
            return Ok(false);
        }
        tnet_fleet::authority::write_file_atomically(&self.kept, &offer.to_bytes(), 0o644)?;
        let revoked: Vec<&str> = roster
            .members
            .iter()
            .filter(|m| m.revoked)
            .map(|m| m.name.as_str())
            .collect();
        tracing::info!(
            version = roster.version,
            admins = roster.active(Role::Admin).len(),
            users = roster.active(Role::User).len(),
            revoked = %revoked.join(","),
            "took a newer fleet roster; opening the network side again with it"
        );
        let version = roster.version;
        *current = (offer, roster);
        drop(current);
        self.changed.send_replace(version);
        Ok(true)
    }
}

/// Where a host keeps its identity bundle unless `--identity` says otherwise.
pub fn default_identity_dir(paths: &Paths) -> PathBuf {
    paths.records().join("tls")
}

/// Finds or creates the host's identity and roster, unless the host runs `--insecure`.
pub fn prepare(config: &HostConfig, paths: &Paths) -> anyhow::Result<Security> {
    if config.fabric.insecure {
        tracing::warn!(
            "INSECURE MODE: plain TCP, no certificates, no access control. Anyone who can \
             reach this host can run any command on it as this user. Use it only on a \
             network you trust entirely."
        );
        return Ok(Security::Insecure);
    }
    let dir = config
        .identity
        .clone()
        .unwrap_or_else(|| default_identity_dir(paths));
    let local_fleet = config.fleet.clone().or_else(Fleet::default_dir);
    let identity = if Identity::exists(&dir) {
        Identity::load(&dir)?
    } else if config.identity.is_some() {
        anyhow::bail!(
            "no identity bundle (ca.pem, cert.pem, key.pem, identity.json) in {}; make one with \
             `tnet fleet add-host {}` on the machine that holds the fleet and copy it here",
            dir.display(),
            config.name
        );
    } else {
        let fleet_dir = local_fleet.clone().context(
            "cannot find the user's config folder for the fleet; give it with --fleet or TNET_FLEET",
        )?;
        let (fleet, created) = Fleet::ensure(&fleet_dir)
            .with_context(|| format!("cannot set up the fleet in {}", fleet_dir.display()))?;
        if created {
            tracing::info!(
                fleet = %fleet_dir.display(),
                "created a new fleet: its authority, its roster and the `admin` client identity that `tnet` on this machine uses"
            );
        }
        let identity = fleet
            .issue_into(
                &dir,
                Role::Host,
                &config.name,
                Validity::days(tnet_fleet::authority::IDENTITY_DAYS),
            )
            .with_context(|| {
                format!(
                    "cannot issue this host's certificate into {}",
                    dir.display()
                )
            })?;
        tracing::info!(identity = %dir.display(), "issued this host's certificate from the local fleet");
        identity
    };
    let ca_path = identity.ca();
    let ca_pem = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("cannot read {}", ca_path.display()))?;
    let kept = paths.records().join("roster.json");
    let mut candidates = vec![kept.clone(), identity.roster()];
    if let Some(fleet) = local_fleet {
        candidates.push(fleet.join("roster.json"));
    }
    let newest = candidates
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .filter_map(|bytes| SignedRoster::from_bytes(&bytes).ok())
        .filter_map(|signed| signed.verify(&ca_pem).ok().map(|r| (signed, r)))
        .max_by_key(|(_, roster)| roster.version)
        .with_context(|| {
            format!(
                "no fleet roster signed by this host's authority ({}): copy the host bundle \
                 again from `tnet fleet add-host {}`",
                ca_path.display(),
                config.name
            )
        })?;
    let version = newest.1.version;
    tracing::info!(
        name = identity.name(),
        roster = version,
        "identity from the fleet: mutual TLS over QUIC, roles from the roster"
    );
    let trust = Trust {
        identity,
        ca_pem,
        kept,
        current: Mutex::new(newest.clone()),
        changed: tokio::sync::watch::channel(version).0,
    };
    // The newest roster is kept where the next start looks first.
    tnet_fleet::authority::write_file_atomically(&trust.kept, &newest.0.to_bytes(), 0o644)?;
    Ok(Security::Secure(std::sync::Arc::new(trust)))
}

impl Security {
    /// Whether it is the open mode.
    pub fn is_insecure(&self) -> bool {
        matches!(self, Security::Insecure)
    }

    /// The trust of the secure mode.
    pub fn trust(&self) -> Option<std::sync::Arc<Trust>> {
        match self {
            Security::Insecure => None,
            Security::Secure(trust) => Some(trust.clone()),
        }
    }
}
