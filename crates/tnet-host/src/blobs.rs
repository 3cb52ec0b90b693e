//! Uploaded file contents, kept by BLAKE3 hash (SPEC 3.4).
//!
//! A file arrives as chunks written at their offsets into `partial/<hash>`;
//! the client then asks to verify it, and only a file whose bytes hash to its
//! name is kept: renamed to `partial/<hash>.verified` and handed to the
//! syncer, a thread that writes it to disk (`fsync`) and only then renames
//! it into `blobs/<hash>`, so `blobs/` holds nothing a power cut could have
//! cut short. Neither the client's next file nor a submission waits for the
//! disk: a `kill -9` loses nothing the kernel holds, and a submission shares
//! the verified file with its workspace wherever it is
//! ([`BlobStore::install`]). A host killed before the move keeps the verified
//! upload, as lent (checked at each use); the rest of the partial folder is
//! emptied at start, and an interrupted upload is sent again. A complete blob is never written again, so a task
//! re-submitted with unchanged files costs no transfer. Blobs outlive the tasks that used them for a grace period: that
//! is the cache, bounded in time and size by `cache` (docs/retention.md).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tnet_proto::msg::{BlobChunk, ErrorKind, ErrorReply};
use tnet_proto::upload::{check_chunk, check_hash, is_valid_hash};

use crate::limits::show_size;
use crate::paths::Paths;

mod cache;

pub use cache::Pin;
use cache::{stamp, Fingerprint, Index};

/// How long and how much the cache keeps (`[retention]` of host.toml).
#[derive(Debug, Clone, Copy)]
pub struct CacheBounds {
    /// A blob no task uses goes after this long unused.
    pub grace: Duration,
    /// The cache never holds more bytes than this.
    pub cap: u64,
    /// A blob used this recently is not evicted to make room (an upload in
    /// progress was just told the host has it): `[limits] upload_idle`.
    pub lease: Duration,
}

impl Default for CacheBounds {
    fn default() -> Self {
        let retention = crate::retention::Retention::default();
        CacheBounds {
            grace: retention.blob_grace,
            cap: retention.blob_cache_max,
            lease: crate::limits::Limits::default().upload_idle,
        }
    }
}

/// The blob store of one host.
pub struct BlobStore {
    dir: PathBuf,
    /// Blobs whose file a workspace shares (see [`BlobStore::install`]).
    lent: PathBuf,
    partial: PathBuf,
    received: AtomicU64,
    /// When an upload or a submission last did something (see [`Quiet`]).
    busy: Arc<Quiet>,
    index: Arc<Mutex<Index>>,
    /// To the syncer thread: verified blobs to write to disk and move in.
    to_sync: Mutex<mpsc::Sender<(String, std::time::Instant)>>,
    bounds: Mutex<CacheBounds>,
}

fn io_failure(what: &str, err: io::Error) -> ErrorReply {
    crate::disk::write_failure(what, &err)
}

impl BlobStore {
    /// The store in the host's records; drops uploads left over from a previous run.
    pub fn open(paths: &Paths) -> io::Result<BlobStore> {
        let partial = paths.partial_blobs();
        std::fs::create_dir_all(paths.lent_blobs())?;
        // An upload interrupted by a crash is simply sent again; a verified
        // one the syncer had not moved in is kept, as lent.
        if partial.exists() {
            keep_verified(&partial, &paths.blobs(), &paths.lent_blobs());
            std::fs::remove_dir_all(&partial)?;
        }
        std::fs::create_dir_all(&partial)?;
        let index = Arc::new(Mutex::new(Index::scan(
            &paths.blobs(),
            &paths.lent_blobs(),
        )?));
        let (to_sync, queue) = mpsc::channel();
        let busy = Arc::new(Quiet::new());
        let syncer = Syncer {
            busy: busy.clone(),
            index: index.clone(),
            dir: paths.blobs(),
            lent: paths.lent_blobs(),
            partial: partial.clone(),
        };
        std::thread::Builder::new()
            .name("tnet-blob-sync".into())
            .spawn(move || syncer.run(&queue))?;
        Ok(BlobStore {
            index,
            to_sync: Mutex::new(to_sync),
            dir: paths.blobs(),
            lent: paths.lent_blobs(),
            partial,
            received: AtomicU64::new(0),
            busy,
            bounds: Mutex::new(CacheBounds::default()),
        })
    }

    /// Waits until the blobs among `hashes` that were verified are on disk
    /// and in `blobs/` (or `blobs/lent/`); fails if one of them could not be
    /// written there. Blocking; it polls, since nothing waits for this but
    /// tests: a submission does not wait for the disk (docs/reliability.md).
    #[cfg(test)]
    pub fn wait_synced<'a>(
        &self,
        hashes: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ErrorReply> {
        let hashes: Vec<&str> = hashes.into_iter().collect();
        let mut index = self.index();
        while hashes.iter().any(|h| index.unsynced.contains(*h)) {
            drop(index);
            std::thread::sleep(Duration::from_millis(5));
            index = self.index();
        }
        match hashes.iter().find(|h| !index.entries.contains_key(**h)) {
            None => Ok(()),
            Some(lost) => Err(ErrorReply::new(
                ErrorKind::MissingFile,
                format!("the upload of {lost} could not be saved on the host's disk; submit the task again"),
            )),
        }
    }

    /// Sets how long and how much the cache keeps.
    pub fn set_bounds(&self, bounds: CacheBounds) {
        *self.bounds.lock().unwrap_or_else(|p| p.into_inner()) = bounds;
    }

    fn bounds(&self) -> CacheBounds {
        *self.bounds.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes and files in the cache now.
    pub fn usage(&self) -> (u64, u64) {
        let index = self.index();
        (index.total, index.entries.len() as u64)
    }

    /// Bytes of cached files a workspace holds too (lent and still linked):
    /// on disk once, so the host's disk use counts them with the workspaces.
    pub fn shared_with_workspaces(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let lent: Vec<(PathBuf, u64)> = {
            let index = self.index();
            index
                .entries
                .iter()
                .filter(|(_, e)| e.lent.is_some())
                .map(|(hash, e)| (self.locate(&index, hash), e.size))
                .collect()
        };
        lent.into_iter()
            .filter(|(path, _)| std::fs::metadata(path).is_ok_and(|m| m.nlink() > 1))
            .map(|(_, size)| size)
            .sum()
    }

    /// The cache's cap.
    pub fn cap(&self) -> u64 {
        self.bounds().cap
    }

    /// Marks blobs as used now (told "present" to an uploader, or let go by
    /// a task), which starts their grace and lease again.
    pub fn touch<'a>(&self, hashes: impl IntoIterator<Item = &'a str>) {
        let now = SystemTime::now();
        let mut index = self.index();
        for hash in hashes {
            if let Some(entry) = index.entries.get_mut(hash) {
                entry.last_used = now;
                // A lent blob's file is a workspace's too: its time is the
                // task's, and the fingerprint's.
                if entry.lent.is_none() {
                    stamp(&self.locate(&index, hash), now);
                }
            }
        }
    }

    /// Protects blobs from the sweep and from eviction until the returned
    /// pin is dropped: a submission or edit holds it from the check of its
    /// files until its task is recorded.
    pub fn pin<'a>(&self, hashes: impl IntoIterator<Item = &'a str>) -> Pin {
        let now = SystemTime::now();
        let mut index = self.index();
        let hashes: Vec<String> = hashes.into_iter().map(str::to_owned).collect();
        for hash in &hashes {
            *index.pins.entry(hash.clone()).or_default() += 1;
            if let Some(entry) = index.entries.get_mut(hash) {
                entry.last_used = now;
            }
        }
        Pin {
            index: self.index.clone(),
            hashes,
        }
    }

    /// Refuses, before anything is sent, uploads of `incoming` bytes that
    /// could not fit under the cap even after evicting every blob that may go.
    pub fn check_room(
        &self,
        incoming: u64,
        referenced: impl FnOnce() -> HashSet<String>,
    ) -> Result<(), ErrorReply> {
        let bounds = self.bounds();
        let index = self.index();
        if index.total + incoming <= bounds.cap {
            return Ok(());
        }
        let referenced = referenced();
        match index.room_for(
            incoming,
            bounds.cap,
            &referenced,
            SystemTime::now(),
            bounds.lease,
        ) {
            Some(_) => Ok(()),
            None => Err(cache_full(incoming, &index, bounds.cap)),
        }
    }

    /// Drops the blobs no task uses that were unused for longer than the
    /// grace, and evicts down to the cap (a cap lowered since they came);
    /// returns how many files and bytes went. Blocking (unlinks files).
    pub fn sweep(&self, referenced: impl FnOnce() -> HashSet<String>) -> (usize, u64) {
        let bounds = self.bounds();
        let now = SystemTime::now();
        let mut index = self.index();
        let referenced = referenced();
        let mut gone = index.expired(&referenced, now, bounds.grace);
        let over_cap = index
            .room_for(0, bounds.cap, &referenced, now, bounds.lease)
            .unwrap_or_default();
        for hash in over_cap {
            if !gone.contains(&hash) {
                gone.push(hash);
            }
        }
        let mut bytes = 0;
        let mut files = 0;
        for hash in gone {
            let size = index.entries.get(&hash).map_or(0, |e| e.size);
            if self.unlink(&mut index, &hash) {
                files += 1;
                bytes += size;
            }
        }
        (files, bytes)
    }

    /// Deletes one blob's file and forgets it (a file already gone is forgotten too).
    fn unlink(&self, index: &mut Index, hash: &str) -> bool {
        let path = self.locate(index, hash);
        match std::fs::remove_file(path) {
            Ok(()) => {
                index.remove(hash);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                index.remove(hash);
                false
            }
            Err(e) => {
                tracing::warn!(%hash, "cannot drop a cached upload: {e}");
                false
            }
        }
    }

    /// Where a complete blob lives now: `blobs/<hash>`, `blobs/lent/<hash>`
    /// once lent, or the partial folder while the syncer has not moved it in
    /// yet. Only meaningful under the index's lock, which the moves take too.
    fn locate(&self, index: &Index, hash: &str) -> PathBuf {
        if index.unsynced.contains(hash) {
            verified_path(&self.partial, hash)
        } else if index.entries.get(hash).is_some_and(|e| e.lent.is_some()) {
            self.lent.join(hash)
        } else {
            self.dir.join(hash)
        }
    }

    /// Where the complete blob lives (see `locate`); it may move, so
    /// [`BlobStore::install`] is how a workspace gets it.
    pub fn path(&self, hash: &str) -> PathBuf {
        self.locate(&self.index(), hash)
    }

    /// Whether the complete blob is here. A lent blob whose file no longer
    /// looks as it did when lent (its task wrote to it) is not: the cache
    /// lets it go, so that it is sent again.
    pub fn has(&self, hash: &str) -> bool {
        if !is_valid_hash(hash) {
            return false;
        }
        let mut index = self.index();
        let path = self.locate(&index, hash);
        let Ok(meta) = std::fs::metadata(&path) else {
            return false;
        };
        match index.entries.get(hash).and_then(|e| e.lent) {
            Some(then) if then != Fingerprint::of(&meta) => {
                self.let_changed_go(&mut index, hash);
                false
            }
            _ => meta.is_file(),
        }
    }

    /// Puts the blob's content at `to` (a new name), for a workspace.
    ///
    /// The first time, the file itself is shared: the blob moves to the
    /// lent folder (a rename, so a host killed at any instant leaves it in
    /// one folder or the other) and is hard-linked at `to`, which costs no
    /// copy. From then on the task may write to that file, so the blob is
    /// never linked again and never trusted as it is: a later use copies
    /// it and checks the copy's hash on the way, and a copy that does not
    /// match is removed, the cache lets the blob go, and the file is
    /// reported missing (`shown` names it), so the client sends it again.
    /// Blocking.
    pub fn install(&self, hash: &str, to: &Path, shown: &str) -> Result<(), ErrorReply> {
        self.busy.mark();
        let failed = |e| io_failure("copy a file into the workspace", e);
        let (from, verify) = {
            let mut index = self.index();
            let Some(entry) = index.entries.get(hash).copied() else {
                return Err(not_uploaded(shown, hash));
            };
            if entry.lent.is_none() {
                match self.lend(&mut index, hash, to) {
                    Ok(()) => return Ok(()),
                    Err(err) => {
                        tracing::debug!(%hash, "cannot share a cached file, copying it: {err}");
                    }
                }
            }
            let from = File::open(self.locate(&index, hash)).map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    not_uploaded(shown, hash)
                } else {
                    failed(e)
                }
            })?;
            (from, entry.lent.is_some())
        };
        if !verify {
            let mut from = from;
            let mut out = File::create(to).map_err(failed)?;
            // File to file: the kernel copies (`copy_file_range`).
            io::copy(&mut from, &mut out).map_err(failed)?;
            return Ok(());
        }
        if copy_hashing(from, to).map_err(failed)? != hash {
            let _ = std::fs::remove_file(to);
            self.let_changed_go(&mut self.index(), hash);
            return Err(ErrorReply::new(
                ErrorKind::MissingFile,
                format!(
                    "file `{shown}` changed on the host since it was uploaded (a task wrote to its copy); submit again to send it"
                ),
            ));
        }
        Ok(())
    }

    /// Drops a lent blob whose file a task changed (only the cache's name:
    /// the workspace keeps its file).
    fn let_changed_go(&self, index: &mut Index, hash: &str) {
        if index.entries.get(hash).is_some_and(|e| e.lent.is_some()) {
            tracing::info!(%hash, "a task changed a file it shares with the upload cache; the cache lets it go");
            self.unlink(index, hash);
        }
    }

    /// Moves a blob never lent to the lent folder and links it at `to`;
    /// moves it back if the link cannot be made (another file system).
    fn lend(&self, index: &mut Index, hash: &str, to: &Path) -> io::Result<()> {
        // A blob the syncer has not moved in yet stays where it is: the
        // syncer moves it to the lent folder once it is on disk.
        let unsynced = index.unsynced.contains(hash);
        let home = self.locate(index, hash);
        let at = if unsynced {
            home.clone()
        } else {
            let lent = self.lent.join(hash);
            std::fs::rename(&home, &lent)?;
            lent
        };
        // From here the index says where it is, whatever follows; a file
        // that cannot be read gets a fingerprint nothing matches.
        let meta = std::fs::metadata(&at);
        let then = meta.as_ref().map_or(
            Fingerprint {
                len: u64::MAX,
                modified: SystemTime::UNIX_EPOCH,
            },
            Fingerprint::of,
        );
        let mut mark = |lent| {
            if let Some(entry) = index.entries.get_mut(hash) {
                entry.lent = lent;
            }
        };
        mark(Some(then));
        let linked = meta.and_then(|_| std::fs::hard_link(&at, to));
        // Nothing shares it if the link failed: it may go back, trusted.
        if linked.is_err() && (unsynced || std::fs::rename(&at, &home).is_ok()) {
            mark(None);
        }
        linked
    }

    /// The size of the complete blob, if it is here.
    pub fn size(&self, hash: &str) -> Option<u64> {
        if !is_valid_hash(hash) {
            return None;
        }
        let index = self.index();
        std::fs::metadata(self.locate(&index, hash))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Deletes what arrived of an upload that will not be finished. Blocking.
    pub fn drop_partial(&self, hash: &str) {
        if is_valid_hash(hash) {
            let _ = std::fs::remove_file(self.partial.join(hash));
        }
    }

    /// File bytes received since the host started (the test of "nothing resent").
    pub fn bytes_received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Writes one chunk of an upload. Blocking: call from a blocking thread.
    pub fn write_chunk(&self, chunk: &BlobChunk, data: &[u8]) -> Result<u64, ErrorReply> {
        check_chunk(chunk, data.len())?;
        self.busy.mark();
        self.received
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        if self.has(&chunk.hash) {
            return Ok(data.len() as u64);
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(self.partial.join(&chunk.hash))
            .map_err(|e| io_failure("open an upload", e))?;
        if let Err(err) = file.write_all_at(data, chunk.offset) {
            // A full disk ends the upload: nothing half-written stays behind.
            if crate::disk::is_full(&err) {
                let _ = std::fs::remove_file(self.partial.join(&chunk.hash));
            }
            return Err(io_failure("write an upload", err));
        }
        Ok(data.len() as u64)
    }

    /// Checks an upload against its hash and keeps it, evicting what may go
    /// (oldest use first) to keep the cache under its cap, or refusing it
    /// when that cannot be done. Blocking.
    pub fn verify(
        &self,
        hash: &str,
        size: u64,
        referenced: impl FnOnce() -> HashSet<String>,
    ) -> Result<(), ErrorReply> {
        check_hash(hash)?;
        if self.has(hash) {
            self.touch([hash]);
            return Ok(());
        }
        let part = self.partial.join(hash);
        let missing = |why: String| ErrorReply::new(ErrorKind::MissingFile, why);
        let file = File::open(&part)
            .map_err(|_| missing(format!("no upload of {hash} arrived; send the file again")))?;
        let actual = file
            .metadata()
            .map_err(|e| io_failure("read an upload", e))?
            .len();
        if actual != size {
            // The upload is over either way: nothing of it stays.
            let _ = std::fs::remove_file(&part);
            return Err(missing(format!(
                "upload of {hash} has {actual} of {size} bytes; send the file again"
            )));
        }
        let mut hasher = blake3::Hasher::new();
        hasher
            .update_mmap_rayon(&part)
            .map_err(|e| io_failure("read an upload", e))?;
        if hasher.finalize().to_hex().as_str() != hash {
            let _ = std::fs::remove_file(&part);
            return Err(missing(format!(
                "the bytes uploaded for {hash} do not match it; send the file again"
            )));
        }
        drop(file);
        // Room, eviction and the new blob's arrival are one step under the
        // index's lock, with the referenced set read under it too.
        let bounds = self.bounds();
        let now = SystemTime::now();
        let mut index = self.index();
        let referenced = referenced();
        let Some(evict) = index.room_for(size, bounds.cap, &referenced, now, bounds.lease) else {
            let _ = std::fs::remove_file(&part);
            return Err(cache_full(size, &index, bounds.cap));
        };
        for old in evict {
            self.unlink(&mut index, &old);
        }
        std::fs::rename(&part, verified_path(&self.partial, hash))
            .map_err(|e| io_failure("save an upload", e))?;
        index.insert(hash.to_owned(), size, now);
        index.unsynced.insert(hash.to_owned());
        drop(index);
        self.busy.mark();
        let queued = self
            .to_sync
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((hash.to_owned(), std::time::Instant::now()));
        if queued.is_err() {
            // No syncer (it cannot end before the store): never wait for it.
            let mut index = self.index();
            self.unlink(&mut index, hash);
            return Err(io_failure(
                "save an upload",
                io::Error::other("the disk writer stopped"),
            ));
        }
        Ok(())
    }
}

/// Moves the verified uploads a killed host left in `partial` to the lent
/// folder. Whole after a `kill -9` (the kernel kept them), maybe not after
/// a power cut, and maybe shared with a workspace already: so each is kept
/// as lent, never linked again and checked at each use, like any blob a
/// task may have written to. Best effort: one not moved is sent again.
fn keep_verified(partial: &Path, dir: &Path, lent: &Path) {
    let Ok(entries) = std::fs::read_dir(partial) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(hash) = name.strip_suffix(".verified") else {
            continue;
        };
        if is_valid_hash(hash) && !dir.join(hash).exists() && !lent.join(hash).exists() {
            let _ = std::fs::rename(entry.path(), lent.join(hash));
        }
    }
}

/// The answer for a file whose blob is not (or no longer) here.
fn not_uploaded(shown: &str, hash: &str) -> ErrorReply {
    ErrorReply::new(
        ErrorKind::MissingFile,
        format!("file `{shown}` ({hash}) was not uploaded; submit the task again"),
    )
}

/// Copies `from` to a new file at `to`, hashing what it copies; returns the hash.
fn copy_hashing(mut from: File, to: &Path) -> io::Result<String> {
    use std::io::{Read, Write};
    let mut out = File::create(to)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Where a verified blob waits for the syncer.
fn verified_path(partial: &std::path::Path, hash: &str) -> PathBuf {
    partial.join(format!("{hash}.verified"))
}

/// When uploads and submissions last did something, so that the syncer
/// writes when they pause.
///
/// Forcing 1 GiB to disk while it still arrives cost an `--insecure`
/// upload about a fifth of its time on this machine (the host writing
/// pages the disk was busy with, and the task's record waiting behind the
/// blobs in ext4's journal); nothing is lost by writing them a moment
/// later, since a `kill -9` loses nothing the kernel holds and a blob
/// enters the cache only once written. A stream of uploads that never
/// pauses is still written, [`MAX_DEFER`] behind.
struct Quiet {
    start: std::time::Instant,
    /// Milliseconds since `start` at the last activity.
    last: AtomicU64,
}

/// How long uploads must have paused before the syncer writes.
const PAUSE: Duration = Duration::from_millis(250);
/// The longest the syncer waits for a pause.
const MAX_DEFER: Duration = Duration::from_secs(2);

impl Quiet {
    fn new() -> Quiet {
        Quiet {
            start: std::time::Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn mark(&self) {
        self.last.store(self.now(), Ordering::Relaxed);
    }

    /// Returns once nothing happened for [`PAUSE`], or [`MAX_DEFER`] after `since`.
    fn wait_for_a_pause(&self, since: std::time::Instant) {
        let deadline = since + MAX_DEFER;
        loop {
            let idle =
                Duration::from_millis(self.now().saturating_sub(self.last.load(Ordering::Relaxed)));
            let now = std::time::Instant::now();
            if idle >= PAUSE || now >= deadline {
                return;
            }
            std::thread::sleep((PAUSE - idle).min(deadline - now));
        }
    }
}

/// The thread that writes verified blobs to disk and moves them into `blobs/`.
struct Syncer {
    busy: Arc<Quiet>,
    index: Arc<Mutex<Index>>,
    dir: PathBuf,
    lent: PathBuf,
    partial: PathBuf,
}

impl Syncer {
    fn run(self, queue: &mpsc::Receiver<(String, std::time::Instant)>) {
        while let Ok((hash, verified)) = queue.recv() {
            self.busy.wait_for_a_pause(verified);
            let from = verified_path(&self.partial, &hash);
            // Evicted meanwhile: nothing to open, nothing to move.
            let written = File::open(&from).and_then(|f| f.sync_all());
            let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            if !index.unsynced.contains(&hash) {
                continue;
            }
            let lent = index.entries.get(&hash).and_then(|e| e.lent).is_some();
            let to = if lent { &self.lent } else { &self.dir }.join(&hash);
            match written.and_then(|()| std::fs::rename(&from, &to)) {
                Ok(()) => {
                    index.unsynced.remove(&hash);
                    if let Some(entry) = index.entries.get(&hash).filter(|_| !lent) {
                        stamp(&to, entry.last_used);
                    }
                }
                Err(err) => {
                    tracing::warn!(%hash, "cannot save an upload on disk, it is dropped: {err}");
                    let _ = std::fs::remove_file(&from);
                    index.remove(&hash);
                }
            }
        }
    }
}

/// The answer to an upload that cannot fit under the cache's cap.
fn cache_full(incoming: u64, index: &Index, cap: u64) -> ErrorReply {
    ErrorReply::new(
        ErrorKind::LimitExceeded,
        format!(
            "{} more cannot fit in the host's upload cache: it holds {} of files that tasks use or uploads in progress need, and its limit is {}; remove tasks you no longer need (`tnet rm`), or the host's owner can raise `[retention] blob_cache_max` in its host.toml (docs/retention.md)",
            show_size(incoming),
            show_size(index.total),
            show_size(cap)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path());
        paths.create_all().expect("dirs");
        let store = BlobStore::open(&paths).expect("open");
        (dir, store)
    }

    #[test]
    fn chunks_in_any_order_make_a_verified_blob() {
        let (_dir, store) = store();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let hash = blake3::hash(&data).to_hex().to_string();
        let size = data.len() as u64;
        for (offset, part) in [(4096u64, &data[4096..]), (0, &data[..4096])] {
            store
                .write_chunk(
                    &BlobChunk {
                        hash: hash.clone(),
                        offset,
                        size,
                    },
                    part,
                )
                .expect("chunk");
        }
        store.verify(&hash, size, HashSet::new).expect("verified");
        assert!(store.has(&hash));
        store.wait_synced([hash.as_str()]).expect("on disk");
        assert_eq!(
            store.path(&hash),
            store.dir.join(&hash),
            "moved into blobs/"
        );
        assert_eq!(std::fs::read(store.path(&hash)).expect("read"), data);
    }

    /// Uploads `data` as one chunk and verifies it; the syncer may not have
    /// written it yet.
    fn upload(store: &BlobStore, data: &[u8]) -> String {
        let hash = blake3::hash(data).to_hex().to_string();
        let size = data.len() as u64;
        let chunk = BlobChunk {
            hash: hash.clone(),
            offset: 0,
            size,
        };
        store.write_chunk(&chunk, data).expect("chunk");
        store.verify(&hash, size, HashSet::new).expect("verified");
        hash
    }

    /// Uploads `data` and waits until it is in `blobs/`.
    fn put(store: &BlobStore, data: &[u8]) -> String {
        let hash = upload(store, data);
        store.wait_synced([hash.as_str()]).expect("on disk");
        hash
    }

    #[test]
    fn a_blob_is_shared_once_then_copied_and_checked() {
        use std::os::unix::fs::MetadataExt;
        let (dir, store) = store();
        let data = b"the original bytes".to_vec();
        let hash = put(&store, &data);
        let first = dir.path().join("first");
        store.install(&hash, &first, "data.txt").expect("first");
        let lent = store.path(&hash);
        assert_eq!(lent, store.lent.join(&hash), "moved to the lent folder");
        let (a, b) = (
            std::fs::metadata(&first).expect("first"),
            std::fs::metadata(&lent).expect("lent"),
        );
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "the same file, no copy");

        let second = dir.path().join("second");
        store.install(&hash, &second, "data.txt").expect("second");
        let c = std::fs::metadata(&second).expect("second");
        assert_ne!(c.ino(), a.ino(), "a later use gets its own copy");
        assert_eq!(std::fs::read(&second).expect("read"), data);

        // The first task writes in place, same size, and puts the time back:
        // the fingerprint cannot tell, the copy's check does.
        let file = std::fs::File::options()
            .write(true)
            .open(&first)
            .expect("open");
        file.write_all_at(b"THE", 0).expect("write");
        file.set_modified(a.modified().expect("mtime"))
            .expect("time back");
        assert!(store.has(&hash), "same size and time");
        let third = dir.path().join("third");
        let err = store
            .install(&hash, &third, "data.txt")
            .expect_err("a changed blob is not installed");
        assert_eq!(err.kind, ErrorKind::MissingFile);
        assert!(err.message.contains("data.txt"), "{}", err.message);
        assert!(!third.exists(), "no copy left behind");
        assert!(!store.has(&hash), "the cache let it go");
        assert!(first.exists(), "the task's file stays");

        // Sent again: a new, trusted blob; a write that changes the size is
        // seen at once, before anything is installed.
        let hash = put(&store, &data);
        assert_eq!(store.path(&hash), store.dir.join(&hash));
        let fourth = dir.path().join("fourth");
        store.install(&hash, &fourth, "data.txt").expect("fourth");
        std::fs::write(&fourth, b"longer than the original bytes").expect("rewrite");
        assert!(!store.has(&hash), "a changed size is noticed");
        assert_eq!(store.usage(), (0, 0));
    }

    #[test]
    fn a_blob_shared_before_it_is_on_disk_is_moved_in_as_lent() {
        use std::os::unix::fs::MetadataExt;
        let (dir, store) = store();
        let data = b"shared at once".to_vec();
        let hash = upload(&store, &data);
        // Whether or not the syncer got to it first, the workspace shares it
        // and the cache ends up holding it as lent.
        let first = dir.path().join("first");
        store.install(&hash, &first, "x").expect("shared");
        store.wait_synced([hash.as_str()]).expect("on disk");
        assert_eq!(store.path(&hash), store.lent.join(&hash));
        assert_eq!(
            std::fs::metadata(&first).expect("first").ino(),
            std::fs::metadata(store.path(&hash)).expect("lent").ino()
        );
        assert_eq!(std::fs::read(&first).expect("read"), data);
    }

    #[test]
    fn a_verified_upload_a_killed_host_had_not_moved_in_is_kept_as_lent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path());
        paths.create_all().expect("dirs");
        let data = b"verified, not yet synced".to_vec();
        let hash = blake3::hash(&data).to_hex().to_string();
        // What a host killed between the verify and the syncer leaves.
        std::fs::write(verified_path(&paths.partial_blobs(), &hash), &data).expect("verified");
        std::fs::write(paths.partial_blobs().join("a".repeat(64)), b"half").expect("partial");
        let store = BlobStore::open(&paths).expect("open");
        assert!(store.has(&hash), "kept");
        assert_eq!(store.path(&hash), store.lent.join(&hash), "as lent");
        assert!(!store.has(&"a".repeat(64)), "an unfinished upload is not");
        assert_eq!(
            std::fs::read_dir(paths.partial_blobs())
                .expect("partial")
                .count(),
            0
        );
        let copy = dir.path().join("copy");
        store.install(&hash, &copy, "x").expect("a checked copy");
        assert_eq!(std::fs::read(&copy).expect("read"), data);
    }

    #[test]
    fn a_lent_blob_stays_lent_across_a_restart() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path());
        paths.create_all().expect("dirs");
        let data = b"kept across a restart".to_vec();
        let hash = {
            let store = BlobStore::open(&paths).expect("open");
            let hash = put(&store, &data);
            store
                .install(&hash, &dir.path().join("first"), "x")
                .expect("lent");
            hash
        };
        let store = BlobStore::open(&paths).expect("open again");
        assert!(store.has(&hash));
        let again = dir.path().join("again");
        store.install(&hash, &again, "x").expect("copied");
        assert_eq!(std::fs::metadata(&again).expect("again").nlink(), 1);
        assert_eq!(std::fs::read(&again).expect("read"), data);
    }

    #[test]
    fn a_refused_chunk_writes_nothing_and_wrong_bytes_do_not_verify() {
        let (_dir, store) = store();
        let chunk = |hash: &str, offset, size| BlobChunk {
            hash: hash.into(),
            offset,
            size,
        };
        // Which chunks are refused is tested with `check_chunk` (tnet-proto).
        assert!(store
            .write_chunk(&chunk("../../etc/passwd", 0, 4), b"abcd")
            .is_err());
        let h = "a".repeat(64);
        assert!(store.write_chunk(&chunk(&h, 2, 4), b"abcd").is_err());
        assert_eq!(
            std::fs::read_dir(&store.partial).expect("partial").count(),
            0
        );
        assert_eq!(store.bytes_received(), 0);
        store.write_chunk(&chunk(&h, 0, 4), b"abcd").expect("fits");
        assert_eq!(
            store
                .verify(&h, 4, HashSet::new)
                .expect_err("wrong hash")
                .kind,
            ErrorKind::MissingFile
        );
    }
}
