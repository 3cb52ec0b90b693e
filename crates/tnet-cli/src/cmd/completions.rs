//! `tnet completions <shell>`: a completion script for bash, zsh, fish, ...;
//! and `tnet manpages DIR` (hidden), the man pages, for packaging.

use anyhow::Context;
use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs, ManpagesArgs};

/// Prints the completion script for the shell asked for.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "tnet", &mut out);
    Ok(0)
}

/// Writes `tnet.1` and a page per verb (`tnet-run.1`, ...) into `args.dir`.
pub fn manpages(args: &ManpagesArgs) -> anyhow::Result<u8> {
    let command = tnet_proto::clihelp::for_man_pages(Cli::command());
    clap_mangen::generate_to(command, &args.dir)
        .with_context(|| format!("cannot write man pages into {}", args.dir.display()))?;
    Ok(0)
}
