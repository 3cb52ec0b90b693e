//! `tnet-host`: runs tasks handed to this machine. See `tnet-host --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = tnet_host::HostArgs::parse();
    tnet_host::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tnet-host: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tnet_host::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tnet-host: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
