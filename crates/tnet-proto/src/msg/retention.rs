//! What a host tells about bounded records: a task's whole run history
//! beyond the records it keeps (`tnet status`), and the host's own disk use
//! (`tnet hosts --json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A task's history as counted since it was created, kept when its oldest
/// run records are pruned (a host keeps the newest `keep` of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTotals {
    /// Runs ever recorded (the newest run's number).
    pub runs: u64,
    /// Run records kept now, the newest ones.
    pub kept: u64,
    /// How many records the task keeps at most.
    pub keep: u64,
    /// Runs that failed (`failed`, a service's `timeout`).
    pub failures: u64,
    /// Each final outcome and how many runs ended so.
    pub outcomes: BTreeMap<String, u64>,
    /// The last run that succeeded.
    pub last_success: Option<RunMark>,
    /// The last run that failed.
    pub last_failure: Option<RunMark>,
}

/// One run, named by number and start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMark {
    /// Its number.
    pub number: u64,
    /// Its start, RFC 3339.
    pub started: String,
}

/// Bytes a host uses on its disk, by what for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskUse {
    /// The SQLite store (tasks, runs, outputs, inbox), with its write-ahead log.
    pub store: u64,
    /// The upload cache (complete files by hash).
    pub blobs: u64,
    /// Files in the upload cache.
    pub blob_count: u64,
    /// The upload cache's cap (`[retention] blob_cache_max`).
    pub blob_cache_max: u64,
    /// Task output logs.
    pub logs: u64,
    /// Task workspaces.
    pub workspaces: u64,
    /// Everything else under the records folder (uploads in progress, calls, staging).
    pub other: u64,
    /// All of the above.
    pub total: u64,
}
