//! What a client asks a host.

use serde::{Deserialize, Serialize};

use super::FileEntry;

/// Every control request; one handler per variant on the host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum Request {
    /// Which of these file hashes the host does not have yet.
    MissingBlobs(MissingBlobsRequest),
    /// Check an uploaded file against its hash and keep it.
    VerifyBlob(VerifyBlobRequest),
    /// Create a task from a task file and already uploaded files, and start it.
    Submit(SubmitRequest),
    /// Replace a task's definition and changed files, keeping its workspace.
    Edit(EditRequest),
    /// Every task on the host.
    List,
    /// Open a shell in a task's workspace.
    OpenShell(ShellRequest),
    /// Every service on the host, with how to call it.
    Services,
    /// About the host itself.
    HostInfo,
    /// One task in detail.
    Status(TaskRef),
    /// A task's output.
    Logs(LogsRequest),
    /// Stop a task (it stays stopped across host restarts).
    Stop(TaskRef),
    /// Start a stopped task.
    Start(TaskRef),
    /// Stop, then start.
    Restart(TaskRef),
    /// Stop a task and delete it with its workspace.
    Remove(TaskRef),
    /// The inbox's unread entries and recent deliveries, after acknowledging
    /// what the request names.
    Inbox(super::InboxRequest),
    /// The host's fleet roster, after offering a newer one (hosts take only
    /// a roster their fleet's authority signed).
    Roster(RosterRequest),
}

impl Request {
    /// Whether only an admin may send it: it changes the host, uploads, or
    /// opens a shell. These go to `keys::host_admin`, the rest (reading,
    /// listing) to `keys::host_control`; a host refuses a request on the wrong key.
    pub fn needs_admin(&self) -> bool {
        match self {
            Request::MissingBlobs(_)
            | Request::VerifyBlob(_)
            | Request::Submit(_)
            | Request::Edit(_)
            | Request::OpenShell(_)
            | Request::Stop(_)
            | Request::Start(_)
            | Request::Restart(_)
            | Request::Remove(_) => true,
            // Reading the inbox is a user's; marking entries read is not.
            Request::Inbox(inbox) => inbox.ack.is_some() || inbox.ack_all,
            // A roster is checked against the fleet's authority, whoever brings it.
            Request::Roster(_)
            | Request::List
            | Request::Services
            | Request::HostInfo
            | Request::Status(_)
            | Request::Logs(_) => false,
        }
    }

    /// What the request does, as a user would call it (for refusals).
    pub fn verb(&self) -> &'static str {
        match self {
            // Files are sent by `run` (and `edit`) before the task itself.
            Request::MissingBlobs(_) | Request::VerifyBlob(_) => "run`/`tnet edit",
            Request::Submit(_) => "run",
            Request::Edit(_) => "edit",
            Request::OpenShell(_) => "shell",
            Request::Stop(_) => "stop",
            Request::Start(_) => "start",
            Request::Restart(_) => "restart",
            Request::Remove(_) => "rm",
            Request::Inbox(_) => "inbox --ack",
            Request::Roster(_) => "fleet push",
            Request::List => "ls",
            Request::Services => "services",
            Request::HostInfo => "hosts",
            Request::Status(_) => "status",
            Request::Logs(_) => "logs",
        }
    }
}

/// See [`Request::Roster`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RosterRequest {
    /// A signed roster (`tnet_fleet::SignedRoster` as JSON) to take if newer.
    pub offer: Option<String>,
}

/// Names a task on the host that receives the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRef {
    /// The task's name as written in its file, or its safe name.
    pub name: String,
}

/// See [`Request::MissingBlobs`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MissingBlobsRequest {
    /// Hashes the client is about to reference.
    pub hashes: Vec<String>,
    /// The task these files are for, so a host can refuse one over its
    /// limits before a byte is sent. Absent from older clients; the host
    /// checks the task again, on what it received, when it is submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<UploadPlan>,
}

/// See [`MissingBlobsRequest::plan`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadPlan {
    /// The task file's name, for messages.
    pub file_name: String,
    /// The task file's size in bytes.
    pub task_file_size: u64,
    /// Every file of the task (the ones the host has too), as they will be submitted.
    pub files: Vec<FileEntry>,
}

/// See [`Request::VerifyBlob`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyBlobRequest {
    /// The hash the uploaded bytes must have.
    pub hash: String,
    /// Their size.
    pub size: u64,
}

/// See [`Request::Submit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The task file's name, for error messages (`file:line:column`).
    pub file_name: String,
    /// The task file's text; the host parses and validates it itself.
    pub task_toml: String,
    /// The files of `necessary_files`, already uploaded as blobs.
    pub files: Vec<FileEntry>,
    /// Where the host reports the preparation of a docker task's image
    /// (pull, package build) while the request runs: the id of a
    /// [`crate::keys::progress`] key the client subscribed to. Absent from
    /// older clients, who then see no progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

/// See [`Request::Logs`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogsRequest {
    /// The task.
    pub name: String,
    /// At most this many bytes from the end of the log.
    pub tail_bytes: Option<u64>,
}

/// See [`Request::Edit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditRequest {
    /// The task being changed (its name stays).
    pub name: String,
    /// The new task file's name, for error messages.
    pub file_name: String,
    /// The new task file's text.
    pub task_toml: String,
    /// The task's files, already uploaded; only those whose content or mode
    /// changed since the last submission are written into the workspace.
    pub files: Vec<FileEntry>,
    /// Run the setup commands again.
    pub rerun_setup: bool,
    /// As [`SubmitRequest::progress`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

/// See [`Request::OpenShell`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShellRequest {
    /// The task whose workspace the shell starts in.
    pub name: String,
    /// The session's id, a UUID the client chose; it names the session's keys.
    pub session: String,
    /// The client's window size, for a terminal; `None` runs without one.
    pub size: Option<ShellSize>,
    /// `$TERM` of the client.
    pub term: Option<String>,
    /// A command to run instead of an interactive shell.
    pub command: Option<Vec<String>>,
}

/// A terminal's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellSize {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

/// How a shell session ended, published on its `exit` key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShellExit {
    /// The shell's exit code (128 + signal when killed).
    pub code: i32,
}
