//! The host's inbox (`tnet inbox`): `qmail` notifications, and notifications
//! of other channels that could not be delivered, with every attempt's result.

use serde::{Deserialize, Serialize};

use super::Event;

/// One notification kept in a host's inbox; also the payload published on
/// [`crate::keys::inbox`] when a `qmail` one arrives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxEntry {
    /// The entry's id on its host (`tnet inbox --ack ID`).
    pub id: u64,
    /// The host that keeps it.
    pub host: String,
    /// `qmail`, or the channel that failed (`email`, `webhook`, `command`).
    pub channel: String,
    /// `queued` (qmail), `failed` (every attempt failed), `acked`.
    pub state: String,
    /// A line for people: the outcome in a sentence.
    pub summary: String,
    /// Why delivery failed, after how many attempts; `None` for qmail.
    pub reason: Option<String>,
    /// Delivery attempts made.
    pub attempts: u32,
    /// The event it is about.
    pub event: Event,
    /// When it was kept, RFC 3339.
    pub created: String,
}

/// See [`super::Request::Inbox`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InboxRequest {
    /// Mark this entry read.
    pub ack: Option<u64>,
    /// Mark every entry read.
    #[serde(default)]
    pub ack_all: bool,
}

/// One delivery (email, webhook, command, qmail) and how it went, so every
/// attempt is visible (`tnet inbox --deliveries`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// The delivery's id on its host.
    pub id: u64,
    /// The task.
    pub task: String,
    /// `email`, `webhook`, `command` or `qmail`.
    pub channel: String,
    /// `pending`, `retrying`, `sent`, `failed`, `queued`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error, if any.
    pub last_error: Option<String>,
    /// The event kind it is about (`failed`, `succeeded`...).
    pub event: String,
    /// When it was created, RFC 3339.
    pub created: String,
}
