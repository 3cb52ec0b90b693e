//! The fleet directory: its certificate authority, its signed roster, and
//! the bundles it issued.
//!
//! ```text
//! <fleet>/ca.pem  ca-key.pem     the authority (keep ca-key.pem on this machine only)
//! <fleet>/roster.json            every name, its role, revoked or not; signed
//! <fleet>/clients/<name>/        a person's bundle, to copy to their ~/.config/tnet/identity
//! <fleet>/hosts/<name>/          a host's bundle, to copy to <home>/.tnet/tls
//! <fleet>/routers/<name>/        a zenohd router's bundle and configuration
//! ```
//!
//! Every name gets its own key and certificate (common name = the name), so
//! one can be revoked without re-issuing the rest. Changes to the roster are
//! made under a lock file, so two hosts starting at once on one machine both
//! end up in it; bundles and the authority are written into a temporary
//! sibling directory that is renamed into place, so nothing is half-written.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::roster::{Member, Roster, SignedRoster};
use crate::{Identity, Role, Whoami};

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A file of a bundle or of the authority is not there.
    #[error("{path} is missing")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing failed.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is there but cannot be read.
    #[error("{path} cannot be read: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Generating or reading a certificate failed.
    #[error("cannot {what}: {source}")]
    Certificate {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: rcgen::Error,
    },
    /// The name is taken in the fleet.
    #[error("`{name}` is already in the fleet as {role}{revoked}; pick another name (`tnet fleet ls` shows them)")]
    Exists {
        /// The name.
        name: String,
        /// Its role.
        role: Role,
        /// ", revoked" when it was revoked.
        revoked: &'static str,
    },
    /// The fleet is there already.
    #[error("there is already a fleet in {path}; `tnet fleet ls` shows it")]
    FleetExists {
        /// The fleet's directory.
        path: PathBuf,
    },
    /// The name is not in the fleet.
    #[error("`{name}` is not in the fleet; `tnet fleet ls` shows every name")]
    Unknown {
        /// The name.
        name: String,
    },
    /// A name that cannot be a certificate name or a directory.
    #[error("`{name}` is not a valid name: use 1 to 63 letters, digits, `-`, `_` and `.`, starting with a letter or digit")]
    BadName {
        /// The name.
        name: String,
    },
    /// A roster that is not the fleet's.
    #[error("the roster was refused: {why}")]
    BadRoster {
        /// Why.
        why: String,
    },
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// Not before.
    pub not_before: OffsetDateTime,
    /// Not after.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From an hour ago (clocks drift) for `days` days.
    pub fn days(days: i64) -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(days),
        }
    }
}

/// Default lifetime of the authority.
pub const CA_DAYS: i64 = 3650;
/// Default lifetime of host and client certificates.
pub const IDENTITY_DAYS: i64 = 825;
/// The client identity `tnet fleet init` and a host's first start create.
pub const ADMIN_NAME: &str = "admin";

/// A fleet directory with its authority.
#[derive(Debug, Clone)]
pub struct Fleet {
    dir: PathBuf,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FleetError + 'a {
    move |source| FleetError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn cert_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> FleetError {
    move |source| FleetError::Certificate { what, source }
}

/// Checks a name: it becomes a certificate's common name and DNS name and a directory.
pub fn check_name(name: &str) -> Result<(), FleetError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    ok.then_some(()).ok_or_else(|| FleetError::BadName {
        name: name.to_owned(),
    })
}

fn temp_sibling(path: &Path) -> PathBuf {
    let parent = path.parent().unwrap_or(Path::new("."));
    parent.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    ))
}

/// Writes `files` into a fresh directory renamed to `dir` (replacing a bundle
/// that was there); `Ok(false)` when `keep_existing` and `dir` appeared
/// meanwhile (someone else won), which is left as it is.
fn write_bundle(
    dir: &Path,
    files: &[(&str, &[u8], u32)],
    keep_existing: bool,
) -> Result<bool, FleetError> {
    use std::os::unix::fs::OpenOptionsExt;
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    let tmp = temp_sibling(dir);
    std::fs::create_dir(&tmp).map_err(io("create", &tmp))?;
    for (name, bytes, mode) in files {
        let path = tmp.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(*mode)
            .open(&path)
            .map_err(io("write", &path))?;
        std::io::Write::write_all(&mut f, bytes).map_err(io("write", &path))?;
        f.sync_all().map_err(io("write", &path))?;
    }
    if dir.exists() {
        if keep_existing {
            let _ = std::fs::remove_dir_all(&tmp);
            return Ok(false);
        }
        std::fs::remove_dir_all(dir).map_err(io("replace", dir))?;
    }
    match std::fs::rename(&tmp, dir) {
        Ok(()) => Ok(true),
        Err(_) if keep_existing && dir.join(files[0].0).exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(false)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(io("create", dir)(e))
        }
    }
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
pub fn write_file_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FleetError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let tmp = temp_sibling(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io("write", &tmp))?;
    std::io::Write::write_all(&mut f, bytes).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("write", path))
}

impl Fleet {
    /// `$TNET_FLEET`, or `~/.config/tnet/fleet`.
    pub fn default_dir() -> Option<PathBuf> {
        match std::env::var_os(crate::ENV_FLEET) {
            Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
            _ => dirs::config_dir().map(|d| d.join("tnet").join("fleet")),
        }
    }

    /// The fleet in `dir`, which must hold an authority.
    pub fn open(dir: &Path) -> Result<Fleet, FleetError> {
        for name in ["ca.pem", "ca-key.pem", "roster.json"] {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(FleetError::Missing { path });
            }
        }
        Ok(Fleet {
            dir: dir.to_path_buf(),
        })
    }

    /// Whether `dir` holds an authority.
    pub fn exists(dir: &Path) -> bool {
        dir.join("roster.json").is_file()
    }

    /// Creates a fleet in `dir`: an authority, its roster and the `admin`
    /// client bundle. Fails when one is there already.
    pub fn init(dir: &Path) -> Result<Fleet, FleetError> {
        if Fleet::exists(dir) {
            return Err(FleetError::FleetExists {
                path: dir.to_path_buf(),
            });
        }
        Fleet::ensure(dir).map(|(fleet, _)| fleet)
    }

    /// The fleet in `dir`, created (with its admin bundle) if there is none;
    /// also says whether it was created by this call.
    pub fn ensure(dir: &Path) -> Result<(Fleet, bool), FleetError> {
        if Fleet::exists(dir) {
            return Ok((Fleet::open(dir)?, false));
        }
        let key = KeyPair::generate().map_err(cert_err("generate the authority's key"))?;
        let mut params = CertificateParams::new(Vec::<String>::new())
            .map_err(cert_err("describe the authority"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "tnet fleet authority");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let validity = Validity::days(CA_DAYS);
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params
            .self_signed(&key)
            .map_err(cert_err("sign the authority"))?;
        let roster = SignedRoster::sign(&Roster::default(), &key)?;
        let created = write_bundle(
            dir,
            &[
                // roster.json last: `exists` looks for it.
                ("ca.pem", cert.pem().as_bytes(), 0o644),
                ("ca-key.pem", key.serialize_pem().as_bytes(), 0o600),
                ("roster.json", &roster.to_bytes(), 0o644),
            ],
            true,
        )?;
        let fleet = Fleet::open(dir)?;
        if created {
            fleet.add(Role::Admin, ADMIN_NAME, Validity::days(IDENTITY_DAYS))?;
        }
        Ok((fleet, created))
    }

    /// The fleet's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The authority's certificate (PEM).
    pub fn ca_pem(&self) -> Result<String, FleetError> {
        let path = self.dir.join("ca.pem");
        std::fs::read_to_string(&path).map_err(io("read", &path))
    }

    fn ca_key(&self) -> Result<KeyPair, FleetError> {
        let path = self.dir.join("ca-key.pem");
        let pem = std::fs::read_to_string(&path).map_err(io("read", &path))?;
        KeyPair::from_pem(&pem).map_err(cert_err("read the authority's key"))
    }

    /// The roster as signed, and as read.
    pub fn roster(&self) -> Result<(SignedRoster, Roster), FleetError> {
        let path = self.dir.join("roster.json");
        let bytes = std::fs::read(&path).map_err(io("read", &path))?;
        let signed = SignedRoster::from_bytes(&bytes)?;
        let roster = signed.verify(&self.ca_pem()?)?;
        Ok((signed, roster))
    }

    /// Where the bundle of `name` in `role` lives in the fleet.
    pub fn bundle_dir(&self, role: Role, name: &str) -> PathBuf {
        let group = match role {
            Role::Host => "hosts",
            Role::Router => "routers",
            Role::Admin | Role::User => "clients",
        };
        self.dir.join(group).join(name)
    }

    /// Changes the roster under the fleet's lock: `change` edits it, the
    /// version goes up by one, and the signed result is written atomically.
    fn change_roster<T>(
        &self,
        change: impl FnOnce(&mut Roster) -> Result<T, FleetError>,
    ) -> Result<(T, SignedRoster), FleetError> {
        use nix::fcntl::{Flock, FlockArg};
        let lock_path = self.dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        let _lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| FleetError::Io {
                what: "lock",
                path: lock_path.clone(),
                source: errno.into(),
            })?;
        let (_, mut roster) = self.roster()?;
        let out = change(&mut roster)?;
        roster.version += 1;
        let signed = SignedRoster::sign(&roster, &self.ca_key()?)?;
        write_file_atomically(&self.dir.join("roster.json"), &signed.to_bytes(), 0o644)?;
        Ok((out, signed))
    }

    /// Issues a bundle for a new `name` into the fleet directory ([`Fleet::bundle_dir`]).
    pub fn add(&self, role: Role, name: &str, validity: Validity) -> Result<Identity, FleetError> {
        check_name(name)?;
        let dir = self.bundle_dir(role, name);
        self.issue(&dir, role, name, validity, false)
    }

    /// Issues a bundle for `name` into `dir`: a new name, or a new certificate
    /// for a name already there with the same role (a host set up again).
    /// A revoked name is never issued again.
    pub fn issue_into(
        &self,
        dir: &Path,
        role: Role,
        name: &str,
        validity: Validity,
    ) -> Result<Identity, FleetError> {
        check_name(name)?;
        self.issue(dir, role, name, validity, true)
    }

    fn issue(
        &self,
        dir: &Path,
        role: Role,
        name: &str,
        validity: Validity,
        reissue: bool,
    ) -> Result<Identity, FleetError> {
        let expires = validity
            .not_after
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let ((), signed) = self.change_roster(|roster| {
            match roster.members.iter_mut().find(|m| m.name == name) {
                Some(m) if reissue && m.role == role && !m.revoked => {
                    m.expires = expires.clone();
                    Ok(())
                }
                Some(m) => Err(FleetError::Exists {
                    name: name.to_owned(),
                    role: m.role,
                    revoked: if m.revoked { ", revoked" } else { "" },
                }),
                None => {
                    roster.members.push(Member {
                        name: name.to_owned(),
                        role,
                        expires: expires.clone(),
                        revoked: false,
                    });
                    Ok(())
                }
            }
        })?;
        let ca_pem = self.ca_pem()?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, self.ca_key()?)
            .map_err(cert_err("read the authority's certificate"))?;
        let mut sans = vec![name.to_owned()];
        if role == Role::Host || role == Role::Router {
            // A host on one machine is dialled as localhost or a loopback address.
            sans.extend(["localhost", "127.0.0.1", "::1"].map(str::to_owned));
        }
        let mut params =
            CertificateParams::new(sans).map_err(cert_err("describe the certificate"))?;
        // Zenoh's access control and link information read the first common
        // name: it is the name, unique in the fleet.
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, role.as_str());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let key = KeyPair::generate().map_err(cert_err("generate a key"))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(cert_err("sign the certificate"))?;
        let whoami = serde_json::to_vec_pretty(&Whoami {
            name: name.to_owned(),
            role,
        })
        .expect("plain data");
        write_bundle(
            dir,
            &[
                ("cert.pem", cert.pem().as_bytes(), 0o644),
                ("key.pem", key.serialize_pem().as_bytes(), 0o600),
                ("ca.pem", ca_pem.as_bytes(), 0o644),
                ("roster.json", &signed.to_bytes(), 0o644),
                ("identity.json", &whoami, 0o644),
            ],
            false,
        )?;
        Identity::load(dir)
    }

    /// Marks `name` revoked; the returned roster is what hosts must be told.
    pub fn revoke(&self, name: &str) -> Result<SignedRoster, FleetError> {
        let ((), signed) = self.change_roster(|roster| {
            match roster.members.iter_mut().find(|m| m.name == name) {
                Some(m) => {
                    m.revoked = true;
                    Ok(())
                }
                None => Err(FleetError::Unknown {
                    name: name.to_owned(),
                }),
            }
        })?;
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_issues_bundles_keeps_keys_private_and_revokes_one_name() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("fleet");
        let fleet = Fleet::init(&dir).expect("init");
        let admin = Identity::load(&fleet.bundle_dir(Role::Admin, ADMIN_NAME)).expect("admin");
        assert_eq!((admin.name(), admin.role()), ("admin", Role::Admin));
        assert!(matches!(
            Fleet::init(&dir),
            Err(FleetError::FleetExists { .. })
        ));
        let (_, created) = Fleet::ensure(&dir).expect("ensure");
        assert!(!created);
        let host = fleet
            .add(Role::Host, "lab1", Validity::days(30))
            .expect("host");
        let mode = |p: &Path| std::fs::metadata(p).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode(&host.key()), 0o600);
        assert_eq!(mode(&dir.join("ca-key.pem")), 0o600);
        assert!(matches!(
            fleet.add(Role::User, "../x", Validity::days(1)),
            Err(FleetError::BadName { .. })
        ));
        assert!(matches!(
            fleet.add(Role::User, "lab1", Validity::days(1)),
            Err(FleetError::Exists { .. })
        ));
        fleet
            .add(Role::User, "alice", Validity::days(1))
            .expect("alice");
        fleet
            .add(Role::User, "bob", Validity::days(1))
            .expect("bob");
        let before = fleet.roster().expect("roster").1;
        fleet.revoke("alice").expect("revoke");
        let (_, after) = fleet.roster().expect("roster");
        assert!(after.version > before.version);
        assert_eq!(after.active(Role::User), vec!["bob".to_owned()]);
        assert!(after.get("alice").expect("kept").revoked);
        // A revoked name is never issued again, not even by a host's first start.
        assert!(fleet
            .issue_into(
                &tmp.path().join("again"),
                Role::User,
                "alice",
                Validity::days(1)
            )
            .is_err());
        assert!(matches!(
            fleet.revoke("nobody"),
            Err(FleetError::Unknown { .. })
        ));
    }
}
