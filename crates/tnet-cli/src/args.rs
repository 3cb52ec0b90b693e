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
    after_help = "Examples:\n  tnet run examples/hello-daemon.toml     # send a task to the only host, start it\n  tnet ls                                 # every task on every host\n  tnet logs -f hello                      # follow its output\n  echo hi | tnet call upper --input -     # call a service\n\nHosts are found on the LAN with no configuration; elsewhere use --connect tcp/HOST:7449 or TNET_CONNECT."
)]
pub struct Cli {
    /// Zenoh's common options.
    #[command(flatten)]
    pub fabric: FabricArgs,
    /// Seconds to wait for hosts to answer (default 10). For `tnet call`: the
    /// call's time limit instead of the service's own `timeout`.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<f64>,
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
    /// List the hosts that are up.
    #[command(after_help = "Example:\n  tnet hosts --json")]
    Hosts(JsonArgs),
    /// Call a service with your input; its result goes to standard output.
    #[command(after_help = CALL_HELP)]
    Call(CallArgs),
    /// List every service on every host, with how to call it.
    #[command(
        after_help = "Example:\n  tnet services                 # each service, its input, arguments and a call line\n  tnet services --watch --json  # services as they come and go"
    )]
    Services(ServicesArgs),
}

const CALL_HELP: &str = "Example:
  tnet call upper --input notes.txt            # the result on standard output
  echo hello | tnet call upper --input -       # input from a pipe
  tnet call lab1/classify --input cat.png -o labels.json --timeout 30 -- 3

The arguments after `--` reach the service's commands as \"$@\" and TNET_ARGS.
Exit status: 0 when the result is delivered; the command's own exit status when
the service counts a failed command as a failed call; 124 when the call ran past
its time limit; 1 for any other error.";

/// `tnet call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The service: `name`, or `host/name` to call one host's.
    pub service: String,
    /// The input: a file, or `-` for standard input (default: no input).
    #[arg(short, long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    /// Write the result to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The host to call (default: the first to answer among those offering the service).
    #[arg(long)]
    pub host: Option<String>,
    /// Print JSON: the call's outcome, exit code, stderr and the result in base64.
    #[arg(long)]
    pub json: bool,
    /// Arguments for the service's commands, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// `tnet services`.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
    /// Keep printing services as they appear and disappear, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
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
