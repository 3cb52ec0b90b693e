//! Uploaded file contents, kept by BLAKE3 hash (SPEC 3.4).
//!
//! A file arrives as chunks written at their offsets into `partial/<hash>`;
//! the client then asks to verify it, and only a file whose bytes hash to its
//! name moves (atomically, by rename) into `blobs/<hash>`. A complete blob is
//! never written again, so a task re-submitted with unchanged files costs no
//! transfer. Blobs outlive the tasks that used them: that is the cache.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tnet_proto::msg::{BlobChunk, ErrorKind, ErrorReply};
use tnet_proto::upload::{check_chunk, check_hash, is_valid_hash};

use crate::paths::Paths;

/// The blob store of one host.
pub struct BlobStore {
    dir: PathBuf,
    partial: PathBuf,
    received: AtomicU64,
}

fn io_failure(what: &str, err: io::Error) -> ErrorReply {
    crate::disk::write_failure(what, &err)
}

impl BlobStore {
    /// The store in the host's records; drops uploads left over from a previous run.
    pub fn open(paths: &Paths) -> io::Result<BlobStore> {
        let partial = paths.partial_blobs();
        // An upload interrupted by a crash is simply sent again.
        if partial.exists() {
            std::fs::remove_dir_all(&partial)?;
        }
        std::fs::create_dir_all(&partial)?;
        std::fs::create_dir_all(paths.blobs())?;
        Ok(BlobStore {
            dir: paths.blobs(),
            partial,
            received: AtomicU64::new(0),
        })
    }

    /// Where a complete blob lives.
    pub fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash)
    }

    /// Whether the complete blob is here.
    pub fn has(&self, hash: &str) -> bool {
        is_valid_hash(hash) && self.path(hash).is_file()
    }

    /// The size of the complete blob, if it is here.
    pub fn size(&self, hash: &str) -> Option<u64> {
        if !is_valid_hash(hash) {
            return None;
        }
        std::fs::metadata(self.path(hash))
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

    /// Checks an upload against its hash and keeps it. Blocking.
    pub fn verify(&self, hash: &str, size: u64) -> Result<(), ErrorReply> {
        check_hash(hash)?;
        if self.has(hash) {
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
        file.sync_all()
            .map_err(|e| io_failure("save an upload", e))?;
        std::fs::rename(&part, self.path(hash)).map_err(|e| io_failure("save an upload", e))
    }
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
        store.verify(&hash, size).expect("verified");
        assert!(store.has(&hash));
        assert_eq!(std::fs::read(store.path(&hash)).expect("read"), data);
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
            store.verify(&h, 4).expect_err("wrong hash").kind,
            ErrorKind::MissingFile
        );
    }
}
