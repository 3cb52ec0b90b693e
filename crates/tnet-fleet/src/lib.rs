//! A tnet fleet's own certificate authority, the signed roster of who may do
//! what, and how identities turn into Zenoh settings.
//!
//! # Layout
//!
//! - [`authority`]: the fleet directory (`ca.pem`, `ca-key.pem`,
//!   `roster.json`, `clients/<name>/`, `hosts/<name>/`, `routers/<name>/`)
//!   and issuing and revoking identities.
//! - [`identity`]: an identity bundle (`ca.pem`, `cert.pem`, `key.pem`,
//!   `identity.json`) and the [`Role`]s.
//! - [`roster`]: every name with its role and whether it is revoked, signed
//!   by the authority, versioned, so hosts can take it from anyone.
//! - [`zenoh`]: the TLS (for QUIC links) and access-control configuration
//!   inserts, as `(path, json5)` pairs (no Zenoh dependency here).
//!
//! A certificate's common name is its owner's name; what the name may do is
//! in the roster. Zenoh's access control matches common names exactly and is
//! read when a session opens, so a host rebuilds its network-facing session
//! from each new roster (`tnet-host`'s `gate.rs`).

pub mod authority;
pub mod identity;
pub mod roster;
pub mod zenoh;

pub use authority::{Fleet, FleetError, Validity};
pub use identity::{Identity, Role, Whoami};
pub use roster::{Member, Roster, SignedRoster};

/// Environment variable naming the fleet directory (default `~/.config/tnet/fleet`).
pub const ENV_FLEET: &str = "TNET_FLEET";

/// Environment variable naming the identity bundle a `tnet` uses.
pub const ENV_IDENTITY: &str = "TNET_IDENTITY";
