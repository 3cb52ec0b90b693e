//! The habits' own threads: a few single-threaded Tokio runtimes ("lanes"),
//! each habit's actor and log writer on one of them.
//!
//! A habit run is a handful of short steps (a timer, its record, a spawn,
//! its pipes, its end) spread over a few small tasks. On the host's
//! work-stealing runtime each of those steps could wake the other worker
//! thread to look for work that the first one then did itself: at a hundred
//! one-second habits, a run woke a parked worker about three times, and
//! those wake-ups, not the work, were the largest share of what a run cost
//! the host (docs/benchmarks.md, "Habits", "2026-12-05, late"). On a lane a
//! habit wakes its thread only when a timer, a pipe or the ledger has
//! something for it, as cron's one loop does; and an upload or a service
//! call busy on the host's runtime does not delay a habit's start.
//!
//! One lane per CPU (two at least), as the host's runtime has one worker
//! per CPU: a spawn blocks its thread until the child has exec'd
//! (`posix_spawn` waits for it), which on a machine saturated by the
//! habits' own commands takes a millisecond or more, and then holds up only
//! the habits of its lane. Fewer lanes share more wake-ups (the ledger
//! answers a batch of slots with one wake-up of each lane that has one in
//! it), so there are not more. Habits are dealt to the lanes in turn.
//!
//! A habit's work on a lane is short: commands run as processes, the
//! store's writes go through the ledger's thread, publications through
//! Zenoh's own threads. The lanes live as long as the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::runtime::Handle;

static LANES: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The lane for a new habit: the next one in turn, the lanes started on
/// first use; the caller's runtime if no lane could be started (said once).
pub(crate) fn next() -> Handle {
    let lanes = LANES.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let lanes: Vec<Handle> = (0..cpus.max(2))
            .filter_map(|i| match start(i) {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!("cannot start a thread for habits: {err}");
                    None
                }
            })
            .collect();
        lanes
    });
    if lanes.is_empty() {
        return Handle::current();
    }
    lanes[NEXT.fetch_add(1, Ordering::Relaxed) % lanes.len()].clone()
}

fn start(index: usize) -> std::io::Result<Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name(format!("tnet-habits-{index}"))
        // A current-thread runtime runs its tasks inside `block_on`.
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}
