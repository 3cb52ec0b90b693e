//! `tnet completions <shell>`: a completion script for bash, zsh, fish, ...

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};

/// Prints the completion script for the shell asked for.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "tnet", &mut out);
    Ok(0)
}
