//! The habits' own thread: one single-threaded Tokio runtime that every
//! habit's actor (and its log writer) runs on.
//!
//! A habit run is a handful of short steps (a timer, its record, a spawn,
//! its pipes, its end) spread over many small tasks. On the host's
//! work-stealing runtime each of those steps could wake the other worker
//! thread to look for work that the first one then did itself: at a hundred
//! one-second habits, a run woke a parked worker about three times, and
//! those wake-ups, not the work, were the largest share of what a run cost
//! the host (docs/benchmarks.md, "Habits", 2026-12-05, late). On a thread of
//! their own the habits wake that thread only when a timer, a pipe or the
//! ledger has something for them, as cron's one loop does; and an upload or
//! a service call busy on the host's runtime does not delay a habit's start.
//!
//! A habit's work on this thread is short: commands run as processes, the
//! store's writes go through the ledger's thread, publications through
//! Zenoh's own threads. The thread lives as long as the process.

use std::sync::OnceLock;

use tokio::runtime::Handle;

static LANE: OnceLock<Option<Handle>> = OnceLock::new();

/// Where habits run: the habits' thread, started on first use; the
/// caller's runtime if that thread cannot be started (said once).
pub(crate) fn habits() -> Handle {
    LANE.get_or_init(|| match start() {
        Ok(handle) => Some(handle),
        Err(err) => {
            tracing::warn!("cannot start the habits' thread, habits share the host's: {err}");
            None
        }
    })
    .clone()
    .unwrap_or_else(Handle::current)
}

fn start() -> std::io::Result<Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("tnet-habits".into())
        // A current-thread runtime runs its tasks inside `block_on`.
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}
