//! What a host answers.

use serde::{Deserialize, Serialize};

/// Every answer; errors are data ([`ErrorReply`]), never a Rust error type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum Response {
    /// The hashes the host still needs.
    MissingBlobs {
        /// Hashes to upload.
        hashes: Vec<String>,
    },
    /// An uploaded blob matched its hash and is kept.
    BlobVerified,
    /// A request about one task succeeded; the task as it is now.
    Task(TaskSummary),
    /// Every task of the host.
    Tasks {
        /// The tasks, by name.
        tasks: Vec<TaskSummary>,
    },
    /// One task in detail.
    Status(TaskStatus),
    /// Output of a task.
    Logs(LogChunk),
    /// The task was removed.
    Removed {
        /// Its name.
        name: String,
    },
    /// About the host itself.
    HostInfo(HostInfo),
    /// A shell session started; its output follows on its keys.
    ShellOpened {
        /// The session id.
        session: String,
    },
    /// The host's services and how to call them.
    Services {
        /// By name.
        services: Vec<super::ServiceInfo>,
    },
    /// The inbox after the request's acknowledgements.
    Inbox {
        /// Unread entries, oldest first.
        entries: Vec<super::InboxEntry>,
        /// The most recent deliveries, newest last.
        deliveries: Vec<super::Delivery>,
        /// How many entries the request marked read.
        acked: u64,
    },
    /// The host's roster after the request's offer.
    Roster {
        /// Its version (0: the host runs `--insecure` and has none).
        version: u64,
        /// The signed roster as JSON, to carry to other hosts.
        roster: Option<String>,
        /// Whether the offer was taken.
        taken: bool,
    },
    /// The request failed.
    Error(ErrorReply),
}

/// Why a request failed, as data a script can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The message could not be decoded or is from another protocol version.
    BadRequest,
    /// The task file has problems; the message lists them all.
    InvalidTask,
    /// A task with this name (or the same folder) exists.
    NameTaken,
    /// No such task on this host.
    UnknownTask,
    /// A file path would leave the workspace.
    BadPath,
    /// A referenced file was not uploaded, or its bytes do not match the hash.
    MissingFile,
    /// The host cannot do this kind of task (no Docker engine...).
    Unsupported,
    /// The host could not do it (disk full, permissions...).
    HostFailure,
    /// A service call ran past its time limit; its processes were killed.
    Timeout,
    /// A service's command exited non-zero and the service counts that as a
    /// failed call (`service_fail_is_command_fail = true`).
    CommandFailed,
    /// A service call was cancelled: the service was stopped during it.
    Cancelled,
    /// The request is over one of the host's limits (`[limits]` in its
    /// `host.toml`); the message names the limit, its value and the key.
    LimitExceeded,
    /// A kind this build does not know (from a newer host), so that a new
    /// kind never makes a whole answer undecodable.
    #[serde(other)]
    Other,
}

/// A failed request.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ErrorReply {
    /// What went wrong, for scripts.
    pub kind: ErrorKind,
    /// What went wrong and what to do, for people.
    pub message: String,
}

impl ErrorReply {
    /// Builds an error reply.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorReply {
            kind,
            message: message.into(),
        }
    }
}

/// Where a task is in its life (SPEC 10 lists these as stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Running its setup commands.
    SettingUp,
    /// Setup done; waiting for an edit (`wait_after_setup`) or holding only a workspace.
    Waiting,
    /// Its commands are running.
    Running,
    /// A habit between runs.
    Scheduled,
    /// A service ready for calls.
    Ready,
    /// Stopped by a user.
    Stopped,
    /// A daemon waiting to restart.
    Backoff,
    /// A daemon that kept crashing and is no longer restarted.
    Crashloop,
    /// Its commands ended successfully.
    Finished,
    /// Its commands or setup failed.
    Failed,
}

impl TaskState {
    /// The stable spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::SettingUp => "setting_up",
            TaskState::Waiting => "waiting",
            TaskState::Running => "running",
            TaskState::Scheduled => "scheduled",
            TaskState::Ready => "ready",
            TaskState::Stopped => "stopped",
            TaskState::Backoff => "backoff",
            TaskState::Crashloop => "crashloop",
            TaskState::Finished => "finished",
            TaskState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `tnet ls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskSummary {
    /// The host that has the task.
    pub host: String,
    /// `task_name` as written.
    pub name: String,
    /// `daemon`, `habit` or `service`.
    #[serde(rename = "type")]
    pub task_type: String,
    /// Where the task is in its life.
    pub state: TaskState,
    /// Process id of the running command, if one runs.
    pub pid: Option<u32>,
    /// How many times the commands were started again after the first time.
    pub restarts: u32,
    /// Start of the last run, RFC 3339.
    pub last_run: Option<String>,
    /// Start of the next run, RFC 3339 (habits).
    pub next_run: Option<String>,
    /// Exit code of the last finished run.
    pub exit_code: Option<i32>,
}

/// One execution of a task's commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// 1 for the first run of the task, counting up.
    pub number: u64,
    /// `setup`, `run`, or `call` (one call of a service).
    pub phase: String,
    /// Start, RFC 3339.
    pub started: String,
    /// How long it ran; `None` while it runs.
    pub duration_ms: Option<u64>,
    /// Exit code; `None` while it runs or when killed by a signal.
    pub exit_code: Option<i32>,
    /// `running`, `succeeded`, `failed`, `stopped` (by a user), `shutdown`
    /// (the host was stopping, e.g. SIGTERM, and ended it; the task runs again
    /// when the host starts), `skipped`, or `lost` (the host died during it);
    /// a call may also end `timeout`, `cancelled` or `rejected` (its request
    /// could not be read).
    pub outcome: String,
    /// Why it failed, when the host knows more than an exit code (a
    /// command that could not be started, a container that would not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `tnet status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskStatus {
    /// The summary, flattened so `host`, `name`, `type` and `state` are top-level.
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// The workspace folder on the host.
    pub workspace: String,
    /// Recent runs, newest last.
    pub runs: Vec<RunRecord>,
    /// Why the task's last run failed, when the host knows (the `reason`
    /// of that run): what a user asks first about a `failed` task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The task file as the host holds it.
    pub task_toml: String,
    /// The task's files as last submitted.
    pub files: Vec<super::FileEntry>,
    /// Its whole history, counted past the pruning of old records (`None`
    /// from a host older than retention).
    #[serde(default)]
    pub totals: Option<super::RunTotals>,
}

/// Output of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogChunk {
    /// Log text.
    pub text: String,
    /// Sequence number of the last output chunk included; chunks published on
    /// the task's log key carry theirs as `{"seq": n}` in their attachment.
    pub seq: u64,
}

/// `tnet hosts`: what a host is and has.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostInfo {
    /// Its name.
    pub host: String,
    /// The tnet version it runs.
    pub version: String,
    /// How many tasks it has.
    pub tasks: usize,
    /// File bytes received since it started (uploads).
    pub bytes_received: u64,
    /// How to reach it with OpenSSH (`tnet ssh`).
    pub ssh: Option<SshInfo>,
    /// The Zenoh locators a client can reach it at (`tcp/10.0.0.7:7449`),
    /// addresses other machines can dial first, loopback last. Empty from a
    /// host older than this field.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Whether it can run docker tasks (it reached a Docker engine at start).
    #[serde(default)]
    pub docker: bool,
    /// Whether it runs with `--insecure`: plain TCP, no certificates, no
    /// access control. Hosts before this field were all insecure.
    #[serde(default = "insecure_before_security")]
    pub insecure: bool,
    /// The version of the fleet roster it enforces (`None` when insecure).
    #[serde(default)]
    pub roster_version: Option<u64>,
    /// What it stores on its disk (`None` from a host older than this field).
    #[serde(default)]
    pub disk: Option<super::DiskUse>,
}

fn insecure_before_security() -> bool {
    true
}

/// Where `tnet ssh` connects for a host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshInfo {
    /// The user to log in as.
    pub user: String,
    /// The address to connect to; the host's name when absent.
    pub address: Option<String>,
    /// The SSH port.
    pub port: u16,
}
