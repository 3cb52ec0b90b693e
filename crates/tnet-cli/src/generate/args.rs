//! The flags of `tnet` without a subcommand: one per task-file field, and how
//! the file is produced (`--generate-only`, `--edit`, `--menu`, `-o`, `--force`).

use std::path::PathBuf;

use clap::Args;
use tnet_proto::task::{Notifier, TaskType};

/// Generation flags (the seed's "Client Formatting").
#[derive(Debug, Default, Clone, PartialEq, Args)]
#[command(next_help_heading = "Generate a task file (no subcommand)")]
pub struct GenerateArgs {
    /// Only write the task file; without it, the file is also submitted like `tnet run`.
    #[arg(long)]
    pub generate_only: bool,
    /// Open the generated file in $VISUAL, $EDITOR or vi, and check it when the editor closes.
    #[arg(long, conflicts_with = "menu")]
    pub edit: bool,
    /// Walk through an interactive menu: the type, then each detail, then "Write Changes".
    #[arg(long)]
    pub menu: bool,
    /// The task's type.
    #[arg(long = "type", value_name = "TYPE", ignore_case = true)]
    pub task_type: Option<TaskType>,
    /// task_name (default: the name of the folder the file is written in).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A command to run; repeat for several, run in order.
    #[arg(long = "run", value_name = "COMMAND")]
    pub run: Vec<String>,
    /// A setup command, run once before the first run; repeat for several.
    #[arg(long = "setup", value_name = "COMMAND")]
    pub setup: Vec<String>,
    /// Files, folders or globs to send with the task; globs are expanded here (`*` skips dot files).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub files: Vec<String>,
    /// A habit's time_between_runs: "5m", "1h 30m", "90s" or a cron expression.
    #[arg(long, value_name = "INTERVAL")]
    pub every: Option<String>,
    /// Run the task in a Docker container.
    #[arg(long)]
    pub docker: bool,
    /// The container image, e.g. "Ubuntu 22.04" or python:3.12-slim (implies --docker).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Apt packages for the image, comma-separated or repeated (implies --docker).
    #[arg(long, value_name = "PACKAGE", value_delimiter = ',')]
    pub apt: Vec<String>,
    /// Pip packages for the image, comma-separated or repeated (implies --docker).
    #[arg(long, value_name = "PACKAGE", value_delimiter = ',')]
    pub pip: Vec<String>,
    /// Bring the container back when the machine reboots (implies --docker).
    #[arg(long)]
    pub start_container_on_reboot: bool,
    /// Notify after any end of a run.
    #[arg(long, value_name = "NOTIFIER")]
    pub on_end: Option<Notifier>,
    /// Notify after a run that failed.
    #[arg(long, value_name = "NOTIFIER")]
    pub on_fail: Option<Notifier>,
    /// Notify after a run that succeeded.
    #[arg(long, value_name = "NOTIFIER")]
    pub on_success: Option<Notifier>,
    /// Daemon: restart after any exit.
    #[arg(long)]
    pub restart_on_end: bool,
    /// Daemon: restart after a non-zero exit.
    #[arg(long)]
    pub restart_on_fail: bool,
    /// Daemon: restart after a zero exit.
    #[arg(long)]
    pub restart_on_success: bool,
    /// Daemon: stop after the setup commands, so you can shell in first.
    #[arg(long)]
    pub wait_after_setup: bool,
    /// Habit: a run that exits non-zero is not a failure.
    #[arg(long)]
    pub ignore_nonzero_exits: bool,
    /// Service: a non-zero exit makes the call fail.
    #[arg(long)]
    pub service_fail_is_command_fail: bool,
    /// Service: keep the command running as a warm worker that answers calls
    /// on its stdin/stdout instead of starting it per call (docs/services.md).
    #[arg(long)]
    pub warm: bool,
    /// Warm service: how many workers to keep running, each one call at a time (implies --warm).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(tnet_proto::task::MAX_WORKERS)))]
    pub workers: Option<u32>,
    /// Where to write the task file (default: <type>task.toml, e.g. servicetask.toml).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the task file if it exists.
    #[arg(long)]
    pub force: bool,
    /// The host to submit to (default: TNET_HOST, or the only host that answers).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
}

impl GenerateArgs {
    /// Whether any generation flag was given.
    pub fn any(&self) -> bool {
        *self != GenerateArgs::default()
    }

    /// Which flags a task of `task_type` does not use, by name, to warn about.
    pub fn foreign_flags(&self, task_type: TaskType) -> Vec<&'static str> {
        let mut foreign = Vec::new();
        if task_type != TaskType::Daemon {
            for (set, flag) in [
                (self.restart_on_end, "--restart-on-end"),
                (self.restart_on_fail, "--restart-on-fail"),
                (self.restart_on_success, "--restart-on-success"),
                (self.wait_after_setup, "--wait-after-setup"),
            ] {
                if set {
                    foreign.push(flag);
                }
            }
        }
        if task_type != TaskType::Habit {
            if self.every.is_some() {
                foreign.push("--every");
            }
            if self.ignore_nonzero_exits {
                foreign.push("--ignore-nonzero-exits");
            }
        }
        if task_type != TaskType::Service {
            for (set, flag) in [
                (
                    self.service_fail_is_command_fail,
                    "--service-fail-is-command-fail",
                ),
                (self.warm, "--warm"),
                (self.workers.is_some(), "--workers"),
            ] {
                if set {
                    foreign.push(flag);
                }
            }
        }
        foreign
    }
}
