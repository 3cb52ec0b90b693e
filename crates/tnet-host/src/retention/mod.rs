//! Nothing on a host grows without bound (docs/retention.md): the sweep
//! that prunes what insertions leave behind, and the host's disk use.
//!
//! Run records are pruned as they are written (`store::retention`); this
//! sweep, every `[retention] sweep_interval` (more often when the upload
//! cache's grace is shorter), drains what that leaves: a backlog of runs (a
//! limit lowered, a store from before retention), inbox entries and
//! delivery records past their count or age, unused uploads past their
//! grace (`blobs`), and call folders no call holds. Each step is a short
//! transaction or a few unlinks on a blocking thread, so no task, request
//! or habit record waits long behind it.

pub mod calls;
pub mod config;
pub mod disk;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::Retention;

use crate::host::Host;

/// A call folder no call holds is cleared once it is this old (a call in
/// progress always holds its own, so this only spares a folder being made).
const CALL_FOLDER_AGE: Duration = Duration::from_secs(60);

/// Sweeps until the host ends (the task is dropped with the runtime).
pub async fn run(host: Arc<Host>) {
    let retention = host.shared.upkeep.config.clone();
    let mut last_records = None::<Instant>;
    loop {
        tokio::time::sleep(retention.tick()).await;
        let records_due = last_records.is_none_or(|at| at.elapsed() >= retention.sweep_interval);
        if records_due {
            last_records = Some(Instant::now());
        }
        let shared = host.shared.clone();
        let retention = retention.clone();
        let swept = tokio::task::spawn_blocking(move || {
            sweep(&shared, &retention, records_due);
        })
        .await;
        if let Err(err) = swept {
            tracing::warn!("the retention sweep failed: {err}");
        }
    }
}

/// One pass: the upload cache always, the records when they are due, then
/// the disk use for `tnet hosts`. Blocking.
fn sweep(shared: &crate::host::Shared, retention: &Retention, records_due: bool) {
    let (files, bytes) = shared.blobs.sweep(|| shared.store.referenced_blobs());
    if files > 0 {
        tracing::info!(
            "upload cache: dropped {files} file(s) no task uses ({})",
            crate::limits::show_size(bytes)
        );
    }
    if records_due {
        prune_records(shared, retention);
        clear_call_folders(&shared.paths.calls());
    }
    shared.upkeep.measure(&shared.paths);
}

/// Drains every task's backlog of runs a batch at a time, then the inbox
/// and the delivery log.
fn prune_records(shared: &crate::host::Shared, retention: &Retention) {
    let store = &shared.store;
    let tasks = match store.counted_tasks() {
        Ok(tasks) => tasks,
        Err(err) => {
            tracing::warn!("{err}");
            return;
        }
    };
    for task in tasks {
        let began = Instant::now();
        let mut pruned = 0;
        loop {
            match store.prune_backlog(&task) {
                Ok(0) => break,
                Ok(n) => pruned += n,
                Err(err) => {
                    tracing::warn!(%task, "{err}");
                    break;
                }
            }
            // Between batches the store is free for everyone else.
            std::thread::sleep(Duration::from_millis(1));
        }
        if pruned > 0 {
            tracing::info!(%task, "pruned {pruned} old run record(s) in {:.1} s", began.elapsed().as_secs_f64());
        }
    }
    let cutoff = |age: Duration| {
        let at =
            chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    if let Err(err) = store.prune_inbox(retention.keep_inbox, &cutoff(retention.inbox_max_age)) {
        tracing::warn!("{err}");
    }
    if let Err(err) = store.prune_deliveries(
        retention.keep_deliveries,
        &cutoff(retention.deliveries_max_age),
    ) {
        tracing::warn!("{err}");
    }
}

/// Removes call folders that no call in progress holds (left by a call
/// whose folder could not be removed at its end).
fn clear_call_folders(calls: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(calls) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > CALL_FOLDER_AGE);
        if old && !calls::is_held(&path) {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!("cleared a call folder no call uses: {}", path.display()),
                Err(err) => tracing::debug!("cannot clear {}: {err}", path.display()),
            }
        }
    }
}

/// What the sweep keeps of the host's upkeep, shared with the handlers.
pub struct Upkeep {
    /// `[retention]` of host.toml.
    pub config: Retention,
    /// The last measured sizes of the folders that are costly to measure.
    walked: std::sync::Mutex<disk::Walked>,
}

impl Upkeep {
    /// Upkeep by `config`, measured at the first sweep.
    pub fn new(config: Retention) -> Upkeep {
        Upkeep {
            config,
            walked: Default::default(),
        }
    }

    fn measure(&self, paths: &crate::paths::Paths) {
        let walked = disk::walk(paths);
        *self.walked.lock().unwrap_or_else(|p| p.into_inner()) = walked;
    }

    /// The host's disk use: the store, logs and cache now, the workspaces
    /// and the rest as the last sweep found them.
    pub fn disk_use(&self, shared: &crate::host::Shared) -> tnet_proto::msg::DiskUse {
        let walked = self
            .walked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        disk::disk_use(&shared.paths, &shared.blobs, &walked)
    }
}
