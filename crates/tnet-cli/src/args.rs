//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tnet_proto::fabric::FabricArgs;

pub use crate::generate::args::GenerateArgs;

/// tnet: hand work to the machines on your network and keep an eye on it.
#[derive(Debug, Parser)]
#[command(
    name = "tnet",
    version,
    about,
    after_help = "Examples:\n  tnet run examples/hello-daemon.toml     # send a task to the only host, start it\n  tnet ls                                 # every task on every host\n  tnet logs -f hello                      # follow its output\n\nWithout a subcommand, tnet writes a task file from flags and submits it (only writes it with --generate-only):\n  tnet --generate-only --type=service --run=\"myscript.py\" --files=./*   # writes servicetask.toml\n  tnet --generate-only --name=temperature_monitor --type=habit --edit  # writes habittask.toml, opens $EDITOR\n  tnet --generate-only --menu                                           # an interactive menu\n  tnet --type=habit --name=price --run='./price.sh' --every=5m          # writes habittask.toml and submits it\n\nHosts are found on the LAN with no configuration; elsewhere use --connect tcp/HOST:7449 or TNET_CONNECT."
)]
pub struct Cli {
    /// Zenoh's common options.
    #[command(flatten)]
    pub fabric: FabricArgs,
    /// Seconds to wait for hosts to answer.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Generation flags, used when no subcommand is given.
    #[command(flatten)]
    pub generate: GenerateArgs,
    /// What to do; none to generate a task file from the flags.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a task file and its files to a host and start it.
    #[command(after_help = "Example:\n  tnet run --host lab1 examples/hello-daemon.toml")]
    Run(RunArgs),
    /// List every task on every host.
    #[command(after_help = "Example:\n  tnet ls --json | jq '.[] | select(.state == \"failed\")'")]
    Ls(JsonArgs),
    /// Show one task in detail, with its recent runs.
    #[command(after_help = "Example:\n  tnet status lab1/hello --json")]
    Status(TaskJsonArgs),
    /// Show a task's output.
    #[command(after_help = "Example:\n  tnet logs -f hello")]
    Logs(LogsArgs),
    /// Stop a task (it stays stopped when its host restarts).
    #[command(after_help = "Example:\n  tnet stop hello")]
    Stop(TaskArgs),
    /// Start a stopped or finished task.
    #[command(after_help = "Example:\n  tnet start hello")]
    Start(TaskArgs),
    /// Stop a task and start it again.
    #[command(after_help = "Example:\n  tnet restart hello")]
    Restart(TaskArgs),
    /// Stop a task and delete it with its workspace and history.
    #[command(after_help = "Example:\n  tnet rm lab1/hello")]
    Rm(TaskArgs),
    /// List the hosts that are up.
    #[command(after_help = "Example:\n  tnet hosts --json")]
    Hosts(JsonArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  tnet completions bash > ~/.local/share/bash-completion/completions/tnet\n  tnet completions zsh > \"${fpath[1]}/_tnet\"\n  tnet completions fish > ~/.config/fish/completions/tnet.fish"
    )]
    Completions(CompletionsArgs),
}

/// `tnet completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `tnet run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task file.
    pub file: PathBuf,
    /// The host to run it on (default: TNET_HOST, or the only host that answers).
    #[arg(long, env = "TNET_HOST")]
    pub host: Option<String>,
    /// Print the created task as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A verb whose output can be JSON.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// A verb about one task.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// The task: `name`, or `host/name` when several hosts have one of that name.
    pub task: String,
}

/// A verb about one task with JSON output.
#[derive(Debug, Args)]
pub struct TaskJsonArgs {
    /// The task: `name` or `host/name`.
    pub task: String,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `tnet logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task: `name` or `host/name`.
    pub task: String,
    /// Keep printing output as it is written, until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// Show at most this many bytes from the end.
    #[arg(long, value_name = "BYTES")]
    pub tail: Option<u64>,
}
