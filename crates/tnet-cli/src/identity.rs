//! Which certificate this `tnet` shows hosts, and the Zenoh settings that go with it.
//!
//! In order: `--identity DIR` / `TNET_IDENTITY`; `~/.config/tnet/identity`
//! (a bundle copied from `tnet fleet add-client`); the admin bundle of the
//! fleet on this machine (`$TNET_FLEET` or `~/.config/tnet/fleet`, which the
//! first `tnet-host` creates). `--insecure` uses none.

use std::path::PathBuf;
use std::sync::OnceLock;

use tnet_fleet::{Fleet, Identity};
use tnet_proto::fabric::FabricArgs;

static GIVEN: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Records `--identity` (or `TNET_IDENTITY`) for every session this process opens.
pub fn set_given(dir: Option<PathBuf>) {
    let _ = GIVEN.set(dir.filter(|d| !d.as_os_str().is_empty()));
}

/// Where a bundle copied from `tnet fleet add-client` is looked for.
pub fn copied_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("tnet").join("identity"))
}

/// The identity to use, or why there is none.
pub fn resolve() -> anyhow::Result<Identity> {
    let given = GIVEN.get().cloned().flatten().or_else(|| {
        std::env::var_os(tnet_fleet::ENV_IDENTITY)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    });
    if let Some(dir) = given {
        return Identity::load(&dir).map_err(|e| {
            anyhow::anyhow!(
                "the identity in {} cannot be used: {e}. A bundle holds ca.pem, cert.pem, key.pem and identity.json, as `tnet fleet add-client NAME` makes it",
                dir.display()
            )
        });
    }
    if let Some(dir) = copied_dir().filter(|d| Identity::exists(d)) {
        return Ok(Identity::load(&dir)?);
    }
    if let Some(fleet) = Fleet::default_dir() {
        let dir = fleet
            .join("clients")
            .join(tnet_fleet::authority::ADMIN_NAME);
        if Identity::exists(&dir) {
            return Ok(Identity::load(&dir)?);
        }
    }
    anyhow::bail!(
        "no tnet identity on this machine, and hosts accept only known identities. Either:\n  \
         - start `tnet-host` on this machine once (it creates a fleet, with an admin identity for this `tnet`), or\n  \
         - ask whoever holds your fleet for a bundle (`tnet fleet add-client YOUR_NAME --role user`) and copy it to {} (or give it with --identity DIR), or\n  \
         - use --insecure, against hosts that run --insecure (docs/security.md)",
        copied_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "~/.config/tnet/identity".to_owned())
    )
}

/// The TLS settings of a client session, QUIC only; none with `--insecure`.
pub fn inserts(fabric: &FabricArgs) -> anyhow::Result<Vec<(String, String)>> {
    if fabric.insecure {
        return Ok(Vec::new());
    }
    Ok(tnet_fleet::zenoh::quic_client_inserts(&resolve()?))
}

/// Who this `tnet` is, for messages: `` `alice` (user, from DIR) ``.
pub fn describe(fabric: &FabricArgs) -> String {
    if fabric.insecure {
        return "no certificate (--insecure)".to_owned();
    }
    match resolve() {
        Ok(id) => format!(
            "`{}` ({}, from {})",
            id.name(),
            id.role(),
            id.dir().display()
        ),
        Err(_) => "no identity".to_owned(),
    }
}
