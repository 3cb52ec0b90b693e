//! `tnet`: hand work to the machines on your network. See `tnet --help`.

fn main() -> std::process::ExitCode {
    tnet_cli::main()
}
