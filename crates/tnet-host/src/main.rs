//! `tnet-host`: runs tasks handed to this machine. See `tnet-host --help`.

use tnet_host::{Cli, HostCommand};

fn main() -> std::process::ExitCode {
    let (cli, matches) = Cli::parse_args();
    let result = match cli.command {
        None => serve(cli.host),
        Some(HostCommand::Systemd(args)) => {
            let sub = matches.subcommand().map(|(_, m)| m);
            tnet_host::systemd::run(*args, sub.unwrap_or(&matches))
        }
        Some(HostCommand::Manpages { dir }) => tnet_host::Cli::write_man_pages(&dir),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tnet-host: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the host until it is told to stop.
fn serve(args: tnet_host::HostArgs) -> anyhow::Result<()> {
    // Before any thread starts: it sets an environment variable.
    tnet_host::zenoh_pools::configure();
    tnet_host::init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {err}"))?;
    runtime.block_on(tnet_host::run(args))
}
