//! The folders of service calls in progress, so the sweep never takes one
//! that a call still uses (`.tnet/calls/<id>/`: its input, its process group).
//!
//! A call removes its own folder when it ends; what is left behind (a file
//! the host may not delete at that moment, a host killed mid-call) is the
//! sweep's to clear once no call holds it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Folders held by calls in progress, over every host of the process.
static HELD: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// A call's hold on its folder; released when dropped.
pub struct Held(PathBuf);

/// Holds `dir` for a call until the returned value is dropped.
pub fn hold(dir: &Path) -> Held {
    HELD.lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(dir.to_path_buf());
    Held(dir.to_path_buf())
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(held) = HELD.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            held.remove(&self.0);
        }
    }
}

/// Whether a call in progress holds `dir`.
pub fn is_held(dir: &Path) -> bool {
    HELD.lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .is_some_and(|held| held.contains(dir))
}
