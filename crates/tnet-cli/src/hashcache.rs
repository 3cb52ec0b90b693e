//! Hashes of local files remembered between submits, the way git's index
//! remembers them, so that re-submitting a task whose files did not change
//! reads none of their bytes (SPEC 3.4, issue "Fleet": a no-change re-submit
//! must beat rsync's own no-change run).
//!
//! A hash is reused only while the file's device, inode, size, modification
//! time and change time are exactly those it had when it was hashed. A file
//! whose modification time is less than [`SETTLE`] before the moment it was
//! hashed is not remembered ("racily clean" in git's words): a write in the
//! same timestamp tick would not change its stamp, so only a settled file can
//! be trusted by its stamp alone.
//!
//! The cache lives in `$XDG_CACHE_HOME/tnet/hashes.sqlite` (or
//! `~/.cache/tnet/hashes.sqlite`). It is never a reason to fail: when it cannot
//! be opened or written, every file is simply hashed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection, OptionalExtension};

/// How long a file must have been left alone before its stamp vouches for its hash.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Entries older than this are dropped, so the cache does not grow forever.
const KEEP_FOR: Duration = Duration::from_secs(90 * 24 * 3600);

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stamp {
    /// The stamp of `meta`.
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        }
    }

    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the file was last changed at least [`SETTLE`] before `hashed_at`.
    fn settled_before(&self, hashed_at: SystemTime) -> bool {
        let newest = self.mtime_ns.max(self.ctime_ns);
        let at = hashed_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        at - newest >= SETTLE.as_nanos() as i64
    }
}

/// The remembered hashes.
pub struct HashCache {
    conn: Option<Connection>,
}

/// The cache file's place.
pub fn default_path() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("tnet").join("hashes.sqlite"))
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn key(path: &Path) -> String {
    // An absolute path, so the same file reached from two folders is one entry.
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

impl HashCache {
    /// The cache at its default place; an empty, unwritable one if that fails.
    pub fn open_default() -> HashCache {
        match default_path() {
            Some(path) => HashCache::open(&path),
            None => HashCache { conn: None },
        }
    }

    /// The cache in `path`, created if needed.
    pub fn open(path: &Path) -> HashCache {
        match Self::try_open(path) {
            Ok(conn) => HashCache { conn: Some(conn) },
            Err(err) => {
                tracing::debug!("no hash cache at {}: {err}", path.display());
                HashCache { conn: None }
            }
        }
    }

    fn try_open(path: &Path) -> anyhow::Result<Connection> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        // Two `tnet` commands at once wait for each other rather than fail.
        conn.busy_timeout(Duration::from_secs(2))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Losing the last entries to a power cut only costs a re-hash.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS hashes (
                path TEXT PRIMARY KEY,
                dev INTEGER NOT NULL,
                ino INTEGER NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                ctime_ns INTEGER NOT NULL,
                hash TEXT NOT NULL,
                used INTEGER NOT NULL
            );",
        )?;
        Ok(conn)
    }

    /// The remembered hash of the file at `path`, if its stamp is still `stamp`.
    pub fn lookup(&self, path: &Path, stamp: &Stamp) -> Option<String> {
        let conn = self.conn.as_ref()?;
        let found = conn
            .query_row(
                "SELECT dev, ino, size, mtime_ns, ctime_ns, hash FROM hashes WHERE path = ?1",
                params![key(path)],
                |row| {
                    Ok((
                        Stamp {
                            dev: row.get::<_, i64>(0)? as u64,
                            ino: row.get::<_, i64>(1)? as u64,
                            size: row.get::<_, i64>(2)? as u64,
                            mtime_ns: row.get(3)?,
                            ctime_ns: row.get(4)?,
                        },
                        row.get::<_, String>(5)?,
                    ))
                },
            )
            .optional();
        match found {
            Ok(Some((kept, hash))) if kept == *stamp => Some(hash),
            Ok(_) => None,
            Err(err) => {
                tracing::debug!("cannot read the hash cache: {err}");
                None
            }
        }
    }

    /// Remembers hashes computed at `hashed_at`, in one transaction; files
    /// changed too recently to be trusted by their stamp are left out. Hits
    /// are refreshed too, so entries in use are never aged out.
    pub fn remember(&mut self, hashed_at: SystemTime, entries: &[(PathBuf, Stamp, String)]) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO hashes
                     (path, dev, ino, size, mtime_ns, ctime_ns, hash, used)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                let now = unix_secs(SystemTime::now());
                for (path, stamp, hash) in entries {
                    if !stamp.settled_before(hashed_at) {
                        continue;
                    }
                    put.execute(params![
                        key(path),
                        stamp.dev as i64,
                        stamp.ino as i64,
                        stamp.size as i64,
                        stamp.mtime_ns,
                        stamp.ctime_ns,
                        hash,
                        now
                    ])?;
                }
                let oldest = unix_secs(SystemTime::now() - KEEP_FOR);
                tx.execute("DELETE FROM hashes WHERE used < ?1", params![oldest])?;
            }
            tx.commit()
        })();
        if let Err(err) = result {
            tracing::debug!("cannot write the hash cache: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(path: &Path) -> Stamp {
        Stamp::of(&std::fs::metadata(path).expect("metadata"))
    }

    #[test]
    fn a_settled_file_is_remembered_until_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a");
        std::fs::write(&file, b"one").expect("write");
        let mut cache = HashCache::open(&dir.path().join("c.sqlite"));
        let s = stamp(&file);
        // Hashed long after its last change: trusted.
        let later = SystemTime::now() + SETTLE * 2;
        cache.remember(later, &[(file.clone(), s, "h1".into())]);
        assert_eq!(cache.lookup(&file, &s).as_deref(), Some("h1"));

        // A second cache on the same file sees it (another `tnet` command).
        let again = HashCache::open(&dir.path().join("c.sqlite"));
        assert_eq!(again.lookup(&file, &s).as_deref(), Some("h1"));

        std::fs::write(&file, b"two").expect("write");
        assert_eq!(cache.lookup(&file, &stamp(&file)), None, "a changed file");
    }

    #[test]
    fn a_file_changed_just_before_hashing_is_not_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a");
        std::fs::write(&file, b"one").expect("write");
        let mut cache = HashCache::open(&dir.path().join("c.sqlite"));
        let s = stamp(&file);
        cache.remember(SystemTime::now(), &[(file.clone(), s, "h1".into())]);
        assert_eq!(cache.lookup(&file, &s), None);
    }

    #[test]
    fn an_unusable_cache_place_just_means_hashing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").expect("write");
        let mut cache = HashCache::open(&blocker.join("c.sqlite"));
        let s = stamp(&blocker);
        cache.remember(
            SystemTime::now() + SETTLE * 2,
            &[(blocker.clone(), s, "h".into())],
        );
        assert_eq!(cache.lookup(&blocker, &s), None);
    }
}
