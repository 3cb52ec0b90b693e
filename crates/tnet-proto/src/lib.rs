//! tnet's shared language: the task schema, key expressions, wire messages.
//!
//! # Layout
//!
//! - [`task`]: the task file (SPEC 3): parse, validate, safe names, schedules.
//! - [`keys`]: every Zenoh key expression tnet uses, built in one place.
//! - [`msg`]: versioned request and response messages and their codec.
//! - [`fabric`]: the Zenoh options both binaries share (ports, scouting, endpoints).
//! - [`reach`]: which of a host's advertised locators to dial.
//! - [`clihelp`]: environment variables in `--help` and man pages (feature `clap`).
//! - [`upload`]: the checks of an upload a host makes before touching a file
//!   (paths in the workspace, hashes, a chunk's place in its file).
//! - [`worker`]: the frames a host and a warm service's worker exchange.
//!
//! This crate does no I/O and has no async runtime: the host and the command
//! line both depend on it, and only it knows the wire format.

#[cfg(feature = "clap")]
pub mod clihelp;
pub mod fabric;
pub mod keys;
pub mod msg;
pub mod reach;
pub mod task;
pub mod upload;
pub mod worker;

pub use msg::PROTOCOL_VERSION;
