//! Events a host publishes about its tasks on [`crate::keys::task_event`]:
//! what happened, for `tnet` followers and, through notifiers, for people.

use serde::{Deserialize, Serialize};

use super::TaskState;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Setup commands completed.
    SetupDone,
    /// Setup commands failed; the task stops there.
    SetupFailed,
    /// Setup is done and the task waits for an edit (`wait_after_setup`).
    Waiting,
    /// A run or process ended with exit code 0.
    Succeeded,
    /// A run or process ended otherwise.
    Failed,
    /// A daemon will be restarted after a delay.
    Restarting,
    /// A daemon kept crashing and is no longer restarted.
    Crashloop,
    /// A habit run was due while the previous one still ran, and was skipped.
    Skipped,
    /// A user stopped the task.
    Stopped,
}

/// One event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// The host.
    pub host: String,
    /// The task's name as written.
    pub task: String,
    /// `daemon`, `habit` or `service`.
    #[serde(rename = "type")]
    pub task_type: String,
    /// What happened.
    pub kind: EventKind,
    /// The task's state after it.
    pub state: TaskState,
    /// The run it concerns, if any.
    pub run: Option<u64>,
    /// The exit code, if a command ended.
    pub exit_code: Option<i32>,
    /// A sentence for people.
    pub message: String,
    /// Why a command could not run or failed, when the host knows (a
    /// container that cannot start, a program that cannot be spawned); also
    /// in `message`, and kept with the run for `tnet status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When, RFC 3339.
    pub time: String,
}
