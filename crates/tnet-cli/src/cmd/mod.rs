//! One file per verb; [`run`] dispatches from one `match`.

pub mod call;
mod completions;
mod control;
mod edit;
mod events;
mod fleet;
mod generate;
mod hosts;
mod inbox;
mod logs;
mod ls;
mod run;
mod services;
mod shell;
mod ssh;
mod status;
mod sub;
mod ui;

use std::time::Duration;

use anyhow::Context;
use tnet_proto::fabric::FabricArgs;

use crate::args::{Cli, Command};
use crate::client::Client;
use crate::hostcache::HostCache;

/// How long to wait for hosts to answer unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let given = match cli.timeout.map(Duration::try_from_secs_f64) {
        Some(Ok(limit)) if !limit.is_zero() => Some(limit),
        Some(_) => anyhow::bail!("--timeout must be a positive number of seconds"),
        None => None,
    };
    // Capped: Zenoh adds it to the clock.
    let timeout = given.unwrap_or(DEFAULT_TIMEOUT).min(crate::call::NO_LIMIT);
    crate::identity::set_given(cli.identity.clone());
    let Some(command) = cli.command else {
        return generate::run(cli.generate, &cli.fabric, timeout).await;
    };
    anyhow::ensure!(
        !cli.generate.any(),
        "the task-file flags (--type, --run, --generate-only, ...) go without a subcommand: `tnet --generate-only --type=daemon ...`"
    );
    let command = match command {
        // Needs no host, so it opens no session.
        Command::Completions(args) => return completions::run(&args),
        Command::Manpages(args) => return completions::manpages(&args),
        Command::Fleet(args) => return fleet::run(args, &cli.fabric, timeout).await,
        // A call finds its host its own way (the host cache), and for it
        // --timeout is the call's time limit.
        Command::Call(args) => return call::run(&cli.fabric, timeout, given, args).await,
        // A server that keeps its session as long as it runs.
        Command::Ui(args) => return ui::run(&cli.fabric, timeout, args).await,
        other => other,
    };
    let client = connect(&cli.fabric, timeout).await?;
    let code = dispatch(&client, command).await;
    if client.scouts() {
        HostCache::remember(&client.session).await;
    }
    code
}

/// Runs a verb that works through one ordinary session.
async fn dispatch(client: &Client, command: Command) -> anyhow::Result<u8> {
    match command {
        // `run` handles these before any session is opened.
        Command::Call(_)
        | Command::Completions(_)
        | Command::Manpages(_)
        | Command::Fleet(_)
        | Command::Ui(_) => {
            anyhow::bail!("this verb opens no ordinary session")
        }
        Command::Services(args) => services::run(client, args).await,
        Command::Run(args) => run::run(client, args).await,
        Command::Edit(args) => edit::run(client, args).await,
        Command::Events(args) => events::run(client, args).await,
        Command::Ls(args) => ls::run(client, args).await,
        Command::Status(args) => status::run(client, args).await,
        Command::Logs(args) => logs::run(client, args).await,
        Command::Stop(args) => control::run(client, control::Verb::Stop, args).await,
        Command::Start(args) => control::run(client, control::Verb::Start, args).await,
        Command::Restart(args) => control::run(client, control::Verb::Restart, args).await,
        Command::Rm(args) => control::run(client, control::Verb::Remove, args).await,
        Command::Shell(args) => shell::run(client, args).await,
        Command::Ssh(args) => ssh::run(client, args).await,
        Command::Sub(args) => sub::run(client, args).await,
        Command::Hosts(args) => hosts::run(client, args).await,
        Command::Inbox(args) => inbox::run(client, args).await,
    }
}

/// Opens the session every verb that talks to hosts uses.
pub(crate) async fn connect(fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<Client> {
    crate::session::open(fabric, timeout)
        .await
        .context("cannot reach the tnet network")
}
