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
    after_help = "Examples:\n  tnet run examples/hello-daemon.toml     # send a task to the only host, start it\n  tnet ls                                 # every task on every host\n  tnet logs -f hello                      # follow its output\n  tnet sub price                          # each run's output of a habit\n  echo hi | tnet call upper --input -     # call a service\n\nWithout a subcommand, tnet writes a task file from flags and submits it (only writes it with --generate-only):\n  tnet --generate-only --type=service --run=\"myscript.py\" --files=./*   # writes servicetask.toml\n  tnet --generate-only --name=temperature_monitor --type=habit --edit  # writes habittask.toml, opens $EDITOR\n  tnet --generate-only --menu                                           # an interactive menu\n  tnet --type=habit --name=price --run='./price.sh' --every=5m          # writes habittask.toml and submits it\n\nHosts are found on the LAN with no configuration; elsewhere use --connect tcp/HOST:7449 or TNET_CONNECT."
)]
pub struct Cli {
    /// Zenoh's common options.
    #[command(flatten)]
    pub fabric: FabricArgs,
    /// Seconds to wait for hosts to answer (default 10). For `tnet call`: the
    /// call's time limit instead of the service's own `timeout`.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// The certificate bundle to show hosts (ca.pem, cert.pem, key.pem); default
    /// ~/.config/tnet/identity, else the admin bundle of the fleet on this machine.
    #[arg(long, global = true, env = tnet_fleet::ENV_IDENTITY, value_name = "DIR")]
    pub identity: Option<PathBuf>,
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
    /// Change a task: a new task file, only changed files sent, the workspace kept.
    #[command(
        after_help = "Example:\n  tnet edit \"Game Server\" --file gameserver.toml        # new commands, setup not rerun\n  tnet edit lab1/hello --file hello.toml --rerun-setup"
    )]
    Edit(EditArgs),
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
    /// Follow what happens to tasks (setup done, waiting, restarts, crash loops), live.
    #[command(
        after_help = "Example:\n  tnet events --json                 # every task on every host\n  tnet events \"Game Server\""
    )]
    Events(EventsArgs),
    /// Open a shell in a task's workspace (in any state), over tnet's own connection.
    #[command(
        after_help = "Example:\n  tnet shell \"Game Server\"              # interactive; `exit` to leave\n  tnet shell lab1/hello -- ls -la         # one command, output streamed"
    )]
    Shell(ShellArgs),
    /// Open the system `ssh` to a task's host, landing in its workspace.
    #[command(
        after_help = "Example:\n  tnet ssh hello\n  tnet ssh hello -c 'tail -f out.log' -- -i ~/.ssh/lab_key"
    )]
    Ssh(SshArgs),
    /// Print each run of habits as it happens; Ctrl-C ends it.
    #[command(
        after_help = "Example:\n  tnet sub price | grep -m1 '9.99'          # raw output of every run, on every host with `price`\n  tnet sub --json --last 3 lab1/price temp    # the last 3 runs of each, then live ones, as JSON lines"
    )]
    Sub(SubArgs),
    /// List the hosts that are up: name, version, address, tasks, Docker.
    #[command(
        after_help = "Hosts on this LAN are found with no configuration; beyond it, point tnet and the hosts at a zenohd router (docs/fleet.md).\n\nExample:\n  tnet hosts --json          # every address of each host"
    )]
    Hosts(JsonArgs),
    /// Quiet notifications (`qmail`) and undelivered ones, across hosts.
    #[command(
        after_help = "Example:\n  tnet inbox                     # unread entries of every host\n  tnet inbox --ack lab1/3        # mark one read (ID alone when only one host has it)\n  tnet inbox --ack-all\n  tnet inbox -f --json           # follow new ones\n  tnet inbox --deliveries        # every recent delivery and its attempts"
    )]
    Inbox(InboxArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  tnet completions bash > ~/.local/share/bash-completion/completions/tnet\n  tnet completions zsh > \"${fpath[1]}/_tnet\"\n  tnet completions fish > ~/.config/fish/completions/tnet.fish"
    )]
    Completions(CompletionsArgs),
    /// Write man pages (tnet.1 and one per verb) into a folder; for packaging.
    #[command(hide = true)]
    Manpages(ManpagesArgs),
    /// Call a service with your input; its result goes to standard output.
    #[command(after_help = CALL_HELP)]
    Call(CallArgs),
    /// List every service on every host, with how to call it.
    #[command(
        after_help = "Example:\n  tnet services                 # each service, its input, arguments and a call line\n  tnet services --watch --json  # services as they come and go"
    )]
    Services(ServicesArgs),
    /// The fleet at a glance in a browser, live: hosts, tasks, habits as plots, services, inbox.
    #[command(
        after_help = "Prints a URL with a secret token; open it (or pass --open). Only this machine can reach it unless --listen names another address and --expose says so (docs/ui.md).\n\nExample:\n  tnet ui --open\n  tnet ui --listen 127.0.0.1:8080"
    )]
    Ui(UiArgs),
    /// The fleet: who may use the hosts, and with what role (docs/security.md).
    #[command(
        after_help = "Example:\n  tnet fleet add-host lab1                 # copy the bundle to lab1:<home>/.tnet/tls/\n  tnet fleet add-client alice --role user  # copy to alice's ~/.config/tnet/identity/\n  tnet fleet revoke alice                  # every host that is up refuses alice within seconds\n  tnet fleet ls"
    )]
    Fleet(FleetArgs),
}

/// `tnet fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The fleet directory (default ~/.config/tnet/fleet).
    #[arg(long, env = tnet_fleet::ENV_FLEET, value_name = "DIR")]
    pub fleet: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: FleetAction,
}

/// The `tnet fleet` actions.
#[derive(Debug, Subcommand)]
pub enum FleetAction {
    /// Create the authority, its roster and the `admin` client identity.
    Init,
    /// Issue a host's identity (copy it to the host's <home>/.tnet/tls/).
    AddHost {
        /// The host's name (as in `tnet-host --name`).
        name: String,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 825)]
        days: i64,
    },
    /// Issue a person's identity (copy it to ~/.config/tnet/identity/ on their machine).
    AddClient {
        /// Who it is for: their own name, so it can be revoked alone.
        name: String,
        /// `user`: hosts, ls, status, logs, events, sub, services, call, inbox. `admin`: everything.
        #[arg(long, value_parser = ["user", "admin"])]
        role: String,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 825)]
        days: i64,
    },
    /// Issue a zenohd router's identity and configuration (docs/fleet.md).
    AddRouter {
        /// The router's name.
        name: String,
        /// Where it listens.
        #[arg(long, default_value = "quic/0.0.0.0:7447")]
        listen: String,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 825)]
        days: i64,
    },
    /// Refuse NAME everywhere from now on; hosts that are up are told at once.
    Revoke {
        /// The name to revoke.
        name: String,
    },
    /// Tell every host that is up about the fleet's roster again.
    Push,
    /// Every name of the fleet with its role and status.
    Ls(JsonArgs),
}

/// `tnet completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `tnet manpages` (hidden: scripts/package-deb.sh and scripts/install.sh use it).
#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// The folder to write them into (it must exist).
    pub dir: PathBuf,
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
    /// Show the time each line was written.
    #[arg(short, long)]
    pub timestamps: bool,
}

/// `tnet edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The task: `name` or `host/name`.
    pub task: String,
    /// The new task file; its `necessary_files` are read from its folder.
    /// Without it, the host's copy opens in $VISUAL/$EDITOR.
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    /// Run the setup commands again before the commands.
    #[arg(long)]
    pub rerun_setup: bool,
    /// Apply without asking, even on a terminal.
    #[arg(long, short)]
    pub yes: bool,
}

/// `tnet inbox`.
#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
    /// Mark an entry read: `ID`, or `HOST/ID` when several hosts have that id.
    #[arg(long, value_name = "ID")]
    pub ack: Option<String>,
    /// Mark every entry of every host read.
    #[arg(long, conflicts_with = "ack")]
    pub ack_all: bool,
    /// After listing, print new entries as they arrive, until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show recent deliveries (every channel) and their attempts instead.
    #[arg(long, conflicts_with_all = ["ack", "ack_all", "follow"])]
    pub deliveries: bool,
}

/// `tnet events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this task (`name` or `host/name`); every task when absent.
    pub task: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// `tnet shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The task: `name` or `host/name`.
    pub task: String,
    /// Use a terminal for CMD too (like `ssh -t`).
    #[arg(short, long)]
    pub tty: bool,
    /// Run this command instead of an interactive shell.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `tnet ssh`.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// The task: `name` or `host/name`.
    pub task: String,
    /// Run this command in the workspace instead of a login shell.
    #[arg(short, long)]
    pub command: Option<String>,
    /// The user to log in as (default: what the host advertises).
    #[arg(long)]
    pub user: Option<String>,
    /// The address to connect to (default: what the host advertises, else its name).
    #[arg(long)]
    pub address: Option<String>,
    /// The SSH port (default: what the host advertises).
    #[arg(long)]
    pub port: Option<u16>,
    /// Options passed to `ssh` before the destination.
    #[arg(last = true)]
    pub ssh_args: Vec<String>,
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

/// `tnet ui`.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Where the dashboard listens; loopback unless --expose.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7450")]
    pub listen: std::net::SocketAddr,
    /// Allow a --listen address other machines can reach (anyone with the
    /// URL's token then sees the fleet and acts with this identity).
    #[arg(long)]
    pub expose: bool,
    /// Open the dashboard in the desktop's browser (`xdg-open`).
    #[arg(long)]
    pub open: bool,
}
