//! An identity bundle: the fleet's CA certificate, one certificate and its
//! key, who it is (`identity.json`), and the roster it was issued with.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::FleetError;

/// What a name may do. Kept in the fleet's signed roster, not in the
/// certificate, so a role can be read by a host without trusting the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: submit, edit, stop, remove, shell, upload, and all a user may do.
    Admin,
    /// Read and use: hosts, list, status, logs, events, subscribe, services, call, read the inbox.
    User,
    /// A `tnet-host`.
    Host,
    /// A `zenohd` router that carries the fleet's traffic beyond one LAN.
    Router,
}

impl Role {
    /// The role as spelled on the command line and in the roster.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Host => "host",
            Role::Router => "router",
        }
    }

    /// Reads a role as spelled on the command line.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            "host" => Some(Role::Host),
            "router" => Some(Role::Router),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a bundle belongs to (`identity.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// The certificate's common name, unique in the fleet.
    pub name: String,
    /// Its role when it was issued (the roster has the last word).
    pub role: Role,
}

/// A directory holding `ca.pem`, `cert.pem`, `key.pem` and `identity.json`.
///
/// Holds paths and names only, so the key never reaches `Debug` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    dir: PathBuf,
    whoami: Whoami,
}

impl Identity {
    /// The files every bundle has.
    pub const FILES: [&'static str; 4] = ["ca.pem", "cert.pem", "key.pem", "identity.json"];

    /// The bundle in `dir`, if it is complete.
    pub fn load(dir: &Path) -> Result<Identity, FleetError> {
        for name in Self::FILES {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(FleetError::Missing { path });
            }
        }
        let path = dir.join("identity.json");
        let text = std::fs::read_to_string(&path).map_err(|source| FleetError::Io {
            what: "read",
            path: path.clone(),
            source,
        })?;
        let whoami = serde_json::from_str(&text).map_err(|e| FleetError::Corrupt {
            path,
            why: e.to_string(),
        })?;
        Ok(Identity {
            dir: dir.to_path_buf(),
            whoami,
        })
    }

    /// Whether `dir` holds a complete bundle.
    pub fn exists(dir: &Path) -> bool {
        Self::FILES.iter().all(|f| dir.join(f).is_file())
    }

    /// The bundle's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its name (the certificate's common name).
    pub fn name(&self) -> &str {
        &self.whoami.name
    }

    /// Its role when issued.
    pub fn role(&self) -> Role {
        self.whoami.role
    }

    /// The fleet's CA certificate, which every peer must be signed by.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// This identity's certificate.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// This identity's private key.
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// The roster the bundle was issued with (`roster.json`), if any.
    pub fn roster(&self) -> PathBuf {
        self.dir.join("roster.json")
    }
}
