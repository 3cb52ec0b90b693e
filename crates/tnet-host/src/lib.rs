//! The tnet host: a Zenoh peer that stores tasks and runs them.
//!
//! # Layout
//!
//! - [`addresses`]: where clients can reach this host (its listen endpoints, expanded).
//! - [`config`]: command-line flags and environment turned into a [`config::HostConfig`].
//! - [`disk`]: a full disk, said so in the replies that meet it.
//! - [`paths`]: where the host keeps workspaces and its own records.
//! - [`store`]: the SQLite store of tasks and run history.
//! - [`blobs`]: uploaded file contents, addressed by hash.
//! - [`callers`]: who is calling services, so a call whose caller left is cancelled.
//! - [`limits`]: `[limits]` of host.toml, the checks against them, uploads and shells in progress.
//! - [`workspace`]: safe paths and atomic installation of a task's files.
//! - [`runner`]: how a command is started and stopped (a process group, or an exec in a container).
//! - [`docker`]: docker tasks: the engine, each task's container, images and derived images.
//! - [`logging`]: the host's own log lines (plain, unless stderr is a terminal).
//! - [`logs`]: each task's output, capped on disk and published live.
//! - [`retention`]: the sweep that keeps records and the upload cache bounded; disk use.
//! - [`scheduler`]: when a habit runs, as pure functions of times.
//! - [`supervisor`]: one actor per task that owns its process; a service's
//!   actor takes calls (`supervisor/service/`).
//! - [`host`]: the task table and the state every handler shares.
//! - [`handlers`]: one file per control request.
//! - [`front`]: a queryable on the session clients reach, declared again on each new gate.
//! - [`gate`]: the network side of the secure default, a router session
//!   with the roster's access control, opened again on each new roster.
//! - [`history`]: the recent runs of habits, served to late subscribers.
//! - [`security`]: the host's TLS identity (from the fleet) and access control, or `--insecure`.
//! - [`server`]: the Zenoh session, its queryables and the liveliness token.
//! - [`shell`]: interactive shells in a task's workspace (`tnet shell`).
//! - [`subscribers`]: waiting for a client's subscriber before publishing to it.
//! - [`systemd`]: `tnet-host systemd ...`, the unit that runs the host on boot.
//! - [`zenoh_pools`]: Zenoh's thread pools sized for a host's two sessions.

pub mod addresses;
pub mod blobs;
pub mod callers;
pub mod config;
pub mod disk;
pub mod docker;
pub mod front;
pub mod gate;
pub mod handlers;
pub mod history;
pub mod host;
pub mod limits;
pub mod logging;
pub mod logs;
pub mod notify;
pub mod paths;
pub mod procfs;
pub mod retention;
pub mod runner;
pub mod scheduler;
pub mod security;
pub mod server;
pub mod shell;
pub mod store;
pub mod subscribers;
pub mod supervisor;
pub mod systemd;
pub mod workspace;
pub mod zenoh_pools;

pub use config::{Cli, HostArgs, HostCommand};
pub use logging::init_tracing;

/// Runs a host until it is told to stop (Ctrl-C or SIGTERM).
pub async fn run(args: HostArgs) -> anyhow::Result<()> {
    let config = config::HostConfig::from_args(args)?;
    server::serve(config).await
}
