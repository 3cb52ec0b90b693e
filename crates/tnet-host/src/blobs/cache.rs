//! The upload cache's bounds: which complete blobs may go, and when.
//!
//! A blob is **protected** while a task refers to it (the store's
//! `files_json`), while a submission or edit in progress holds a [`Pin`] on
//! it (from its files' check until its task is recorded), and, from the cap,
//! for `lease` after it was last used (answered "present" to an upload,
//! verified, or let go by a task): a client that was just told it need not
//! send a file finds it at its submission. Unprotected blobs go
//! - after `grace` without use (the sweep), and
//! - oldest use first, when a new blob would take the cache over its cap.
//!
//! Every decision and every unlink happens under one mutex, and the
//! referenced set is read from the store under it too; a pin is released
//! only after its task is committed, so a blob is always pinned or
//! referenced by a committed task, never neither for a moment the sweep
//! could see. A host killed at any instant leaves files that are either
//! whole or gone (rename in, unlink out); the index is rebuilt from the
//! folder at start, with each file's modification time as its last use.
//!
//! A blob **lent** to a workspace (`blobs/lent/<hash>`, see
//! `BlobStore::install`) shares its file with a task that may write to it:
//! the folder it sits in says so across restarts, and the size and
//! modification time it had when lent are kept to notice most such writes
//! early.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What the cache knows of one complete blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) size: u64,
    pub(crate) last_used: SystemTime,
    /// Set once the blob's file is also a workspace's: what it looked like then.
    pub(crate) lent: Option<Fingerprint>,
}

/// A file's size and modification time: a task's write changes one or
/// both (only a deliberate `touch` puts a time back, which the copy's hash
/// check still catches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) len: u64,
    pub(crate) modified: SystemTime,
}

impl Fingerprint {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Fingerprint {
        Fingerprint {
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }
    }
}

/// The index of complete blobs and the pins on them.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) entries: HashMap<String, Entry>,
    pub(crate) total: u64,
    pub(crate) pins: HashMap<String, usize>,
    /// Verified blobs whose bytes may not be on disk yet: they wait in the
    /// partial folder (emptied at start) until the syncer moves them in.
    pub(crate) unsynced: HashSet<String>,
}

impl Index {
    /// Reads the blob folder and its lent folder: every file named by a
    /// valid hash. A hash in both (the host moves a blob from one to the
    /// other, never copies it) keeps the one never lent.
    pub(crate) fn scan(dir: &Path, lent: &Path) -> std::io::Result<Index> {
        let mut index = Index::default();
        for (folder, is_lent) in [(dir, false), (lent, true)] {
            for entry in std::fs::read_dir(folder)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !tnet_proto::upload::is_valid_hash(&name) {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                if is_lent && index.entries.contains_key(&name) {
                    let _ = std::fs::remove_file(entry.path());
                    continue;
                }
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                index.insert(name.clone(), meta.len(), modified);
                if is_lent {
                    if let Some(e) = index.entries.get_mut(&name) {
                        e.lent = Some(Fingerprint::of(&meta));
                    }
                }
            }
        }
        Ok(index)
    }

    pub(crate) fn insert(&mut self, hash: String, size: u64, last_used: SystemTime) {
        let entry = Entry {
            size,
            last_used,
            lent: None,
        };
        if let Some(old) = self.entries.insert(hash, entry) {
            self.total -= old.size;
        }
        self.total += size;
    }

    pub(crate) fn remove(&mut self, hash: &str) {
        if let Some(old) = self.entries.remove(hash) {
            self.total -= old.size;
        }
        self.unsynced.remove(hash);
    }

    fn unprotected<'a>(
        &'a self,
        referenced: &'a HashSet<String>,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        self.entries
            .iter()
            .filter(move |(h, _)| !referenced.contains(*h) && !self.pins.contains_key(*h))
    }

    /// Blobs unused for longer than `grace` that nothing protects.
    pub(crate) fn expired(
        &self,
        referenced: &HashSet<String>,
        now: SystemTime,
        grace: Duration,
    ) -> Vec<String> {
        self.unprotected(referenced)
            .filter(|(_, e)| idle(e, now) > grace)
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// The blobs to evict, oldest use first, so that `incoming` more bytes
    /// fit under `cap`; `None` when even evicting every evictable blob (idle
    /// longer than `lease`) would not make room.
    pub(crate) fn room_for(
        &self,
        incoming: u64,
        cap: u64,
        referenced: &HashSet<String>,
        now: SystemTime,
        lease: Duration,
    ) -> Option<Vec<String>> {
        let mut over = (self.total + incoming).saturating_sub(cap);
        if over == 0 {
            return Some(Vec::new());
        }
        let mut candidates: Vec<(&String, &Entry)> = self
            .unprotected(referenced)
            .filter(|(_, e)| idle(e, now) > lease)
            .collect();
        candidates.sort_by_key(|(_, e)| e.last_used);
        let mut chosen = Vec::new();
        for (hash, entry) in candidates {
            if over == 0 {
                break;
            }
            chosen.push(hash.clone());
            over = over.saturating_sub(entry.size);
        }
        (over == 0).then_some(chosen)
    }
}

fn idle(entry: &Entry, now: SystemTime) -> Duration {
    now.duration_since(entry.last_used).unwrap_or_default()
}

/// Protection of blobs a submission or edit is about to install; released
/// when dropped, after the task is recorded (or the request failed).
pub struct Pin {
    pub(crate) index: Arc<Mutex<Index>>,
    pub(crate) hashes: Vec<String>,
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        for hash in &self.hashes {
            if let Some(n) = index.pins.get_mut(hash) {
                *n -= 1;
                if *n == 0 {
                    index.pins.remove(hash);
                }
            }
        }
    }
}

/// Sets a blob file's modification time to `when` (its last use, kept
/// across restarts). Best effort: a blob whose time could not be written
/// is only dropped sooner after a restart, which costs a resend.
pub(crate) fn stamp(path: &PathBuf, when: SystemTime) {
    if let Ok(file) = std::fs::File::options().write(true).open(path) {
        let _ = file.set_modified(when);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn only_unprotected_blobs_go_oldest_first() {
        let mut index = Index::default();
        index.insert("old".into(), 10, at(100));
        index.insert("older".into(), 10, at(50));
        index.insert("used".into(), 10, at(10));
        index.insert("pinned".into(), 10, at(20));
        index.insert("fresh".into(), 10, at(995));
        index.pins.insert("pinned".into(), 1);
        let referenced: HashSet<String> = ["used".to_owned()].into();
        let now = at(1000);
        let mut expired = index.expired(&referenced, now, Duration::from_secs(600));
        expired.sort();
        assert_eq!(expired, ["old", "older"]);
        // Room for 15 more under a cap of 50: 65 - 50 = 15 over, two blobs.
        let lease = Duration::from_secs(60);
        assert_eq!(
            index.room_for(15, 50, &referenced, now, lease),
            Some(vec!["older".to_owned(), "old".to_owned()])
        );
        assert_eq!(index.room_for(0, 50, &referenced, now, lease), Some(vec![]));
        // The fresh one is leased, the others protected: 35 cannot be made.
        assert_eq!(index.room_for(35, 50, &referenced, now, lease), None);
        index.remove("old");
        assert_eq!(index.total, 40);
    }
}
