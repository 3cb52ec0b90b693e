//! One file per verb; [`run`] dispatches from one `match`.

mod completions;
mod control;
mod edit;
mod events;
mod generate;
mod hosts;
mod logs;
mod ls;
mod run;
mod shell;
mod ssh;
mod status;
mod sub;

use std::time::Duration;

use anyhow::Context;

use crate::args::{Cli, Command};
use crate::client::Client;
use tnet_proto::fabric::FabricArgs;

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    anyhow::ensure!(
        cli.timeout > 0.0 && cli.timeout.is_finite(),
        "--timeout must be a positive number of seconds"
    );
    let timeout = Duration::from_secs_f64(cli.timeout);
    let Some(command) = cli.command else {
        return generate::run(cli.generate, &cli.fabric, timeout).await;
    };
    anyhow::ensure!(
        !cli.generate.any(),
        "the task-file flags (--type, --run, --generate-only, ...) go without a subcommand: `tnet --generate-only --type=daemon ...`"
    );
    if let Command::Completions(args) = &command {
        // Needs no host, so it opens no session.
        return completions::run(args);
    }
    let client = connect(&cli.fabric, timeout).await?;
    match command {
        Command::Run(args) => run::run(&client, args).await,
        Command::Edit(args) => edit::run(&client, args).await,
        Command::Events(args) => events::run(&client, args).await,
        Command::Ls(args) => ls::run(&client, args).await,
        Command::Status(args) => status::run(&client, args).await,
        Command::Logs(args) => logs::run(&client, args).await,
        Command::Stop(args) => control::run(&client, control::Verb::Stop, args).await,
        Command::Start(args) => control::run(&client, control::Verb::Start, args).await,
        Command::Restart(args) => control::run(&client, control::Verb::Restart, args).await,
        Command::Rm(args) => control::run(&client, control::Verb::Remove, args).await,
        Command::Shell(args) => shell::run(&client, args).await,
        Command::Ssh(args) => ssh::run(&client, args).await,
        Command::Sub(args) => sub::run(&client, args).await,
        Command::Hosts(args) => hosts::run(&client, args).await,
        Command::Completions(args) => completions::run(&args),
    }
}

/// Opens the session every verb that talks to hosts uses.
pub(crate) async fn connect(fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<Client> {
    Client::open(fabric, timeout)
        .await
        .context("cannot reach the tnet network")
}
