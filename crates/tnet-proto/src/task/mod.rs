//! The task file (SPEC 3): the validated [`TaskSpec`] and the types of its fields.
//!
//! A task file is parsed in two steps: [`parse`] reads the TOML text with the
//! position of every key, accepts every spelling the seed uses, and turns it
//! into a `TaskSpec`, collecting *every* problem of the file on the way
//! (see [`problems`]). A `TaskSpec` cannot hold an invalid task: code that
//! has one never checks a field again.
//!
//! # Layout
//!
//! - [`parse`]: the entry point, the top level and the general fields.
//! - `details`: the `[..._details]` and docker tables.
//! - `fields`: typed reads of one table, each wrong type a problem.
//! - [`problems`]: positions, "did you mean", the error shown to the user.
//! - [`schedule`]: a habit's `time_between_runs` and `time_zone`.
//! - [`names`]: task names as folder names and key-expression chunks.
//! - [`generate`]: the other way: a commented task file from a `TaskSpec`.
//! - `service`: the `[service_details]` table.
//! - [`value`]: the number a habit's run printed (`value_pattern`).

mod details;
mod fields;
pub mod generate;
pub mod names;
pub mod parse;
pub mod problems;
pub mod schedule;
mod service;
#[cfg(test)]
mod tests;
pub mod value;

pub use details::{DEFAULT_STOP_GRACE, MAX_KEEP_RUNS};
pub use generate::{generate, Placeholder};
pub use names::safe_name;
pub use parse::parse_task;
pub use problems::{Problem, TaskFileError};
pub use schedule::{parse_time_zone, Schedule};
pub use value::ValuePattern;

use std::time::Duration;

use serde::Serialize;

/// The three kinds of work a host does (SPEC 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    /// Kept running in the background, restarted by policy.
    Daemon,
    /// Run on a schedule; each run's output is published.
    Habit,
    /// Run on request with the caller's input; answers with the result.
    Service,
}

impl TaskType {
    /// The spelling used in task files and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Daemon => "daemon",
            TaskType::Habit => "habit",
            TaskType::Service => "service",
        }
    }
}

impl std::fmt::Display for TaskType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a task's outcome is announced (SPEC 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Notifier {
    /// Nothing is sent.
    #[default]
    None,
    /// A mail through the host's SMTP server.
    Email,
    /// The quiet channel: kept in the host's inbox and published as an event.
    Qmail,
    /// An HTTP POST of the event as JSON to a URL (the task's or the host's).
    Webhook,
    /// A program on the host that gets the event as JSON on stdin.
    Command,
}

impl Notifier {
    /// Every accepted spelling, for "did you mean" hints and help texts.
    pub const ALL: [&'static str; 5] = ["none", "email", "qmail", "webhook", "command"];

    /// The spelling used in task files.
    pub fn as_str(self) -> &'static str {
        match self {
            Notifier::None => "none",
            Notifier::Email => "email",
            Notifier::Qmail => "qmail",
            Notifier::Webhook => "webhook",
            Notifier::Command => "command",
        }
    }
}

/// `[task_details]`: who hears about the task's outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notifications {
    /// After any end of a run or process.
    pub on_end: Notifier,
    /// After a run or process that failed.
    pub on_fail: Notifier,
    /// After a run or process that succeeded.
    pub on_success: Notifier,
    /// Recipients of this task's mails; empty means the host's `[email] to`.
    pub email_to: Vec<String>,
    /// A template for the mail's subject; `None` is the documented default.
    pub email_subject: Option<String>,
    /// A template for the mail's body; `None` is the documented default.
    pub email_body: Option<String>,
    /// Where `webhook` posts; `None` is the host's `[webhook] url`.
    pub webhook_url: Option<String>,
    /// What `command` runs (`sh -c`); `None` is the host's `[command] program`.
    pub notify_command: Option<String>,
}

impl Notifications {
    /// Whether any of `on_end`, `on_fail`, `on_success` is not `none`.
    pub fn any(&self) -> bool {
        [self.on_end, self.on_fail, self.on_success]
            .iter()
            .any(|n| *n != Notifier::None)
    }
}

/// The placeholders `email_subject` and `email_body` may use.
pub const TEMPLATE_FIELDS: [&str; 10] = [
    "host",
    "task",
    "type",
    "outcome",
    "exit_code",
    "run",
    "started",
    "duration",
    "output",
    "message",
];

/// `[daemon_details]`: restart policy and the wait after setup (SPEC 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaemonDetails {
    /// Restart after any exit.
    pub restart_on_end: bool,
    /// Restart after a non-zero exit.
    pub restart_on_fail: bool,
    /// Restart after a zero exit.
    pub restart_on_success: bool,
    /// Stop after setup so the user can shell in and change things.
    pub wait_after_setup: bool,
    /// The first delay before a restart; it doubles after each quick exit.
    #[serde(with = "humantime_serde_compat")]
    pub restart_delay: Duration,
    /// The cap of the restart delay.
    #[serde(with = "humantime_serde_compat")]
    pub max_restart_delay: Duration,
    /// A process that stays up this long is healthy: delay and count start over.
    #[serde(with = "humantime_serde_compat")]
    pub stable_after: Duration,
    /// After this many quick exits in a row the daemon is in `crashloop` and
    /// is not restarted again until a user starts it.
    pub crashloop_after: u32,
}

impl Default for DaemonDetails {
    fn default() -> Self {
        DaemonDetails {
            restart_on_end: false,
            restart_on_fail: false,
            restart_on_success: false,
            wait_after_setup: false,
            restart_delay: Duration::from_secs(1),
            max_restart_delay: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
            crashloop_after: 5,
        }
    }
}

impl DaemonDetails {
    /// Whether an exit with this outcome is followed by a restart (SPEC 5.2).
    pub fn restarts_after(&self, success: bool) -> bool {
        self.restart_on_end
            || if success {
                self.restart_on_success
            } else {
                self.restart_on_fail
            }
    }
}

/// Durations serialized as people write them ("1s", "1m 30s").
mod humantime_serde_compat {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// `[habit_details]`: the schedule (SPEC 7). Present exactly when the task is a habit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HabitDetails {
    /// When the habit runs.
    pub time_between_runs: Schedule,
    /// A non-zero exit is an ordinary run, not a failure.
    pub ignore_nonzero_exits: bool,
    /// The zone a cron expression is read in; `None` is the host's own local
    /// time zone. Intervals (`"5m"`) are durations and ignore it.
    pub time_zone: Option<chrono_tz::Tz>,
    /// What happens to runs missed while the habit could not run (host down, task stopped).
    pub catch_up: CatchUp,
    /// Picks the number out of a run's output (its `value`, what `tnet ui`
    /// plots); `None`: the fixed rule of [`value::value_of`].
    pub value_pattern: Option<ValuePattern>,
}

/// `[habit_details] catch_up`: what a habit does about runs it missed while
/// its host was down or the task was stopped. Never a burst: at most one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Missed runs are dropped; the next run is the next one due (cron(8)'s way).
    #[default]
    Skip,
    /// If any run was missed, one run happens at once, then the schedule goes on
    /// (anacron's and systemd's `Persistent=true` way).
    Latest,
}

impl CatchUp {
    /// Every accepted spelling, for "did you mean" hints and help texts.
    pub const ALL: [&'static str; 2] = ["skip", "latest"];

    /// The spelling used in task files.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::Latest => "latest",
        }
    }
}

/// `[service_details]` (SPEC 6): how a call runs, and how the service
/// describes itself to callers (`tnet services`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDetails {
    /// A non-zero exit is a failed call rather than a delivered result.
    pub service_fail_is_command_fail: bool,
    /// What the service does, in a sentence; empty when not given.
    pub description: String,
    /// What a caller sends.
    pub input: InputKind,
    /// The input's media type (`image/png`), when it has one.
    pub input_media_type: Option<String>,
    /// The arguments the commands understand, in order, for people: tnet
    /// passes a caller's arguments through as they are.
    pub arguments: Vec<ServiceArgument>,
    /// A ready-to-paste `tnet call` line, when the author wrote one.
    pub example: Option<String>,
    /// How long a call may take (queue and run) before it is killed; a
    /// caller may ask for another limit per call.
    #[serde(serialize_with = "human_duration")]
    pub timeout: Duration,
    /// Calls that run at once; more wait their turn in arrival order.
    pub max_concurrent_calls: u32,
    /// Warm mode (`docs/services.md`, "Warm services"): the one command is a
    /// long-lived worker, started once after setup, that answers calls
    /// framed on its standard input and output instead of a process per call.
    pub warm: bool,
    /// How many workers a warm service keeps running; each takes one call at
    /// a time, so calls run `min(workers, max_concurrent_calls)` at once.
    pub workers: u32,
}

/// A call's time limit when the task file gives none.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Calls of one service that run at once when the task file does not say.
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 4;
/// The most `max_concurrent_calls` may be: each call is a process group.
pub const MAX_CONCURRENT_CALLS: u32 = 1024;
/// The most `workers` a warm service may keep: each is a long-lived process
/// that may hold a model in memory.
pub const MAX_WORKERS: u32 = 64;

impl Default for ServiceDetails {
    fn default() -> Self {
        ServiceDetails {
            service_fail_is_command_fail: false,
            description: String::new(),
            input: InputKind::default(),
            input_media_type: None,
            arguments: Vec::new(),
            example: None,
            timeout: DEFAULT_CALL_TIMEOUT,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            warm: false,
            workers: 1,
        }
    }
}

/// `[service_details] input`: what a caller of a service sends. The host
/// passes any bytes it gets; this tells people (and `tnet services`) what makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// Nothing: the service ignores its input.
    None,
    /// Text, typically piped in: `echo hi | tnet call upper --input -`.
    #[default]
    Text,
    /// A file's bytes: `tnet call classify --input cat.png`.
    File,
}

impl InputKind {
    /// Every accepted spelling, for "did you mean" hints and help texts.
    pub const ALL: [&'static str; 3] = ["none", "text", "file"];

    /// The spelling used in task files and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::None => "none",
            InputKind::Text => "text",
            InputKind::File => "file",
        }
    }
}

/// One entry of `[service_details] arguments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServiceArgument {
    /// How the usage line shows it: `lang`, or a flag such as `--top`.
    pub name: String,
    /// What it means, for people.
    pub help: String,
}

/// A duration as people write it in task files (`"5m"`).
fn human_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// `[docker_settings]` (also spelled `[docker_details]`) (SPEC 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerSettings {
    /// As written in the file; see [`DockerSettings::image_reference`].
    pub docker_img_id: String,
    /// Installed into a derived image before setup commands run.
    pub apt_packages: Vec<String>,
    /// Installed into a derived image before setup commands run.
    pub pip_packages: Vec<String>,
    /// The container comes back when the machine reboots.
    pub start_container_on_reboot: bool,
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            docker_img_id: "Ubuntu 22.04".to_owned(),
            apt_packages: Vec::new(),
            pip_packages: Vec::new(),
            start_container_on_reboot: false,
        }
    }
}

impl DockerSettings {
    /// The Docker reference to pull: the seed's `"Ubuntu 22.04"` (a name, a
    /// space, a version) means `ubuntu:22.04`; anything else is already a
    /// reference (`python:3.12-slim`, `ghcr.io/o/i@sha256:...`) and is taken as is.
    pub fn image_reference(&self) -> String {
        let image = self.docker_img_id.trim();
        let mut words = image.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(name), Some(version), None) => format!("{}:{version}", name.to_lowercase()),
            _ => image.to_owned(),
        }
    }
}

/// A task as the seed describes it, validated: every value is one the host can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskSpec {
    /// `task_name` as the user wrote it (never empty).
    pub name: String,
    /// `task_type`.
    #[serde(rename = "type")]
    pub task_type: TaskType,
    /// Run in order with `sh -c`, in the workspace.
    pub commands: Vec<String>,
    /// Run once before the first `commands`.
    pub setup_commands: Vec<String>,
    /// Client paths or globs, relative to the task file's folder.
    pub necessary_files: Vec<String>,
    /// Run inside a container.
    pub run_in_docker: bool,
    /// `[task_details]`.
    pub notify: Notifications,
    /// `[task_details] stop_grace`: how long a stopped command has between TERM and KILL.
    #[serde(with = "humantime_serde_compat")]
    pub stop_grace: Duration,
    /// `[task_details] keep_runs`: how many run records the host keeps of
    /// this task (the newest); `None` is the host's `[retention] keep_runs`.
    pub keep_runs: Option<u32>,
    /// `[daemon_details]` (defaults for other types).
    pub daemon: DaemonDetails,
    /// `[habit_details]`: `Some` exactly for habits.
    pub habit: Option<HabitDetails>,
    /// `[service_details]` (defaults for other types).
    pub service: ServiceDetails,
    /// `[docker_settings]`.
    pub docker: DockerSettings,
}

impl TaskSpec {
    /// The folder and key-expression chunk for this task (SPEC 3.3).
    pub fn safe_name(&self) -> String {
        safe_name(&self.name)
    }
}

#[cfg(test)]
mod image_tests {
    use super::DockerSettings;

    fn reference(image: &str) -> String {
        DockerSettings {
            docker_img_id: image.to_owned(),
            ..DockerSettings::default()
        }
        .image_reference()
    }

    #[test]
    fn seed_spelling_and_plain_references() {
        assert_eq!(DockerSettings::default().image_reference(), "ubuntu:22.04");
        assert_eq!(reference("Debian 12"), "debian:12");
        assert_eq!(reference("python:3.12-slim"), "python:3.12-slim");
        assert_eq!(reference(" alpine "), "alpine");
    }
}
