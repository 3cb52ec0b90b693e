//! One file per verb; [`run`] dispatches from one `match`.

mod control;
mod hosts;
mod logs;
mod ls;
mod run;
mod status;
mod sub;

use std::time::Duration;

use anyhow::Context;

use crate::args::{Cli, Command};
use crate::client::Client;

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    anyhow::ensure!(
        cli.timeout > 0.0 && cli.timeout.is_finite(),
        "--timeout must be a positive number of seconds"
    );
    let timeout = Duration::from_secs_f64(cli.timeout);
    let client = Client::open(&cli.fabric, timeout)
        .await
        .context("cannot reach the tnet network")?;
    match cli.command {
        Command::Run(args) => run::run(&client, args).await,
        Command::Ls(args) => ls::run(&client, args).await,
        Command::Status(args) => status::run(&client, args).await,
        Command::Logs(args) => logs::run(&client, args).await,
        Command::Stop(args) => control::run(&client, control::Verb::Stop, args).await,
        Command::Start(args) => control::run(&client, control::Verb::Start, args).await,
        Command::Restart(args) => control::run(&client, control::Verb::Restart, args).await,
        Command::Rm(args) => control::run(&client, control::Verb::Remove, args).await,
        Command::Sub(args) => sub::run(&client, args).await,
        Command::Hosts(args) => hosts::run(&client, args).await,
    }
}
