//! The tnet command line.
//!
//! # Layout
//!
//! - [`args`]: the command line, parsed with clap.
//! - [`session`]: the one place a session is opened (flags, identity, host
//!   cache, scouting), for every verb.
//! - [`client`]: an open session and the request helpers every verb uses.
//! - [`call`]: calling a service and receiving its streamed result (a library API).
//! - [`discovery`]: finding a service's host fast (configured, cached, scouted).
//! - [`lan`]: the hosts multicast scouting hears, and the locator to dial each.
//! - [`settle`]: a fresh session's view of the hosts, complete before its first question.
//! - [`hostcache`]: where hosts were found last time (`~/.cache/tnet/hosts.json`).
//! - [`target`]: naming a task (`name` or `host/name`) and finding its host.
//! - [`files`]: which local files a task sends, and where they land (SPEC 3.4).
//! - [`hashcache`]: file hashes remembered between submits (`~/.cache/tnet/hashes.sqlite`).
//! - [`upload`]: content-hashed, chunked upload of those files.
//! - [`output`]: tables and JSON for people and scripts.
//! - [`generate`]: task files from flags or the interactive menu (no subcommand).
//! - [`identity`]: which fleet certificate this `tnet` shows hosts (or `--insecure`).
//! - [`editor`]: editing a file in `$EDITOR` until it is valid.
//! - [`cmd`]: one file per verb.

pub mod args;
pub mod call;
pub mod client;
pub mod cmd;
pub mod discovery;
pub mod editor;
pub mod files;
pub mod generate;
pub mod hashcache;
pub mod hostcache;
pub mod identity;
pub mod lan;
pub mod output;
pub mod pull;
pub mod session;
pub mod settle;
pub mod target;
pub mod upload;

use clap::{CommandFactory, FromArgMatches};

/// Parses the process's arguments (exiting with clap's message on bad ones);
/// `--help` shows an environment variable's value only when it is set.
fn parse_args() -> args::Cli {
    let mut command =
        tnet_proto::clihelp::env_values_only_when_set(args::Cli::command(), &|name| {
            std::env::var_os(name).is_some()
        });
    let matches = command.get_matches_mut();
    args::Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.format(&mut command).exit())
}

/// Runs the command line and returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = parse_args();
    let filter = tracing_subscriber::EnvFilter::try_from_env("TNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,zenoh=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tnet: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(cmd::run(cli)) {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => 0,
        Err(err) => {
            eprintln!("tnet: {err:#}");
            1
        }
    };
    // Zenoh's background tasks may linger on a dead endpoint; a command line just ends.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::ExitCode::from(code)
}
