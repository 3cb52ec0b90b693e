//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tnet_proto::fabric::FabricArgs;

/// tnet: hand work to the machines on your network and keep an eye on it.
#[derive(Debug, Parser)]
#[command(
    name = "tnet",
    version,
    about,
    after_help = "Examples:\n  tnet run examples/hello-daemon.toml     # send a task to the only host, start it\n  tnet ls                                 # every task on every host\n  tnet logs -f hello                      # follow its output\n  tnet sub price                          # each run's output of a habit\n\nHosts are found on the LAN with no configuration; elsewhere use --connect tcp/HOST:7449 or TNET_CONNECT."
)]
pub struct Cli {
    /// Zenoh's common options.
    #[command(flatten)]
    pub fabric: FabricArgs,
    /// Seconds to wait for hosts to answer.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
    /// Print each run of habits as it happens; Ctrl-C ends it.
    #[command(
        after_help = "Example:\n  tnet sub price | grep -m1 '9.99'          # raw output of every run, on every host with `price`\n  tnet sub --json --last 3 lab1/price temp    # the last 3 runs of each, then live ones, as JSON lines"
    )]
    Sub(SubArgs),
    /// List the hosts that are up.
    #[command(after_help = "Example:\n  tnet hosts --json")]
    Hosts(JsonArgs),
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

/// `tnet sub`.
#[derive(Debug, Args)]
pub struct SubArgs {
    /// Habits: `name` (on every host that has it) or `host/name`.
    #[arg(required = true, value_name = "HABIT")]
    pub habits: Vec<String>,
    /// One JSON line per run: its metadata (host, task, number, started,
    /// duration_ms, exit_code, outcome...) and its output.
    #[arg(long)]
    pub json: bool,
    /// Start with the last N runs each host keeps of each habit.
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
}
