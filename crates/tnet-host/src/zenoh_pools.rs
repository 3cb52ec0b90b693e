//! Zenoh's own thread pools, sized for a host.
//!
//! Zenoh sizes its pools once per process, from the `ZENOH_RUNTIME`
//! environment variable. A host holds two sessions in one process: the gate,
//! which clients reach, and the host's own session, the gate's client over a
//! Unix socket (`gate.rs`). Both read their links on Zenoh's one receive
//! pool, two threads by default, and a link's reader that forwards a message
//! to a full link waits on its thread until there is room. When two clients
//! upload at once, both threads wait to push into the host's own session,
//! whose reader then has no thread to run on: five seconds later the gate
//! gives up and closes that link, and every request in flight on it is lost
//! (the clients saw "the host went away during the upload").
//!
//! A pool of [`RX_THREADS`] makes that need as many clients sending at the
//! same instant; a thread that waits costs no CPU and an idle one a few
//! kilobytes. The CLI sends a chunk again whose answer was lost, so a link
//! closed even so costs a retry, not the upload.

use std::sync::atomic::{AtomicBool, Ordering};

/// The variable Zenoh reads its pools' sizes from.
pub const VAR: &str = "ZENOH_RUNTIME";

/// Receive threads: how many clients may push at once before the deadlock
/// described above can close the gate's link to the host's own session.
pub const RX_THREADS: usize = 32;

static SET_HERE: AtomicBool = AtomicBool::new(false);

/// Sizes Zenoh's pools for a host, unless the user sized them (then theirs
/// stand). Call first in `main`, while the process has one thread: setting
/// a variable is unsound once other threads may read the environment.
pub fn configure() {
    if std::env::var_os(VAR).is_some() {
        return;
    }
    std::env::set_var(VAR, format!("(rx: (worker_threads: {RX_THREADS}))"));
    SET_HERE.store(true, Ordering::Relaxed);
}

/// The variable a child's environment leaves out: the host's own setting is
/// not its tasks' (a task that uses Zenoh sizes its own pools).
pub fn hidden_from_children() -> Option<&'static str> {
    SET_HERE.load(Ordering::Relaxed).then_some(VAR)
}

/// Leaves the host's own setting out of `cmd`'s environment.
pub fn hide_from(cmd: &mut std::process::Command) {
    if let Some(var) = hidden_from_children() {
        cmd.env_remove(var);
    }
}
