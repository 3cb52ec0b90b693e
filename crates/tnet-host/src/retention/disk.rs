//! The host's own disk use, by what for (`tnet hosts --json`).
//!
//! Sizes are what the files occupy (allocated blocks), so a sparse or a
//! half-written file counts as what it costs. The store, logs and the
//! upload cache are measured at each question (a few `stat`s); workspaces
//! and the rest can hold any number of files, so the sweep walks them and
//! the answer is as of the last sweep.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use tnet_proto::msg::DiskUse;

use crate::blobs::BlobStore;
use crate::paths::Paths;

/// The sizes only a walk finds.
#[derive(Debug, Clone, Default)]
pub struct Walked {
    /// Every workspace.
    pub workspaces: u64,
    /// Uploads in progress, call folders, staging.
    pub other: u64,
}

/// Bytes a file occupies on disk.
fn occupied(meta: &std::fs::Metadata) -> u64 {
    meta.blocks() * 512
}

/// Bytes under `path`, never following a link; unreadable parts count as nothing.
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return occupied(&meta);
    }
    let mut total = occupied(&meta);
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            total += occupied(&meta);
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

/// Walks the workspaces and the records folder's other parts.
pub fn walk(paths: &Paths) -> Walked {
    let records = paths.records();
    let workspaces = std::fs::read_dir(paths.home())
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path() != records)
                .map(|e| size_of(&e.path()))
                .sum()
        })
        .unwrap_or(0);
    let other = [paths.partial_blobs(), paths.calls(), paths.staging()]
        .iter()
        .map(|p| size_of(p))
        .sum();
    Walked { workspaces, other }
}

/// The whole picture from what is measured now and what the sweep walked.
pub fn disk_use(paths: &Paths, blobs: &BlobStore, walked: &Walked) -> DiskUse {
    let database = paths.database();
    let store = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = database.clone().into_os_string();
            name.push(suffix);
            size_of(Path::new(&name))
        })
        .sum();
    let logs = size_of(&paths.logs());
    // The cache's own index (file sizes), not a walk of thousands of files;
    // a cached file a workspace shares is on disk once, with the workspace.
    let (blob_bytes, blob_count) = blobs.usage();
    let blob_bytes = blob_bytes.saturating_sub(blobs.shared_with_workspaces());
    let mut usage = DiskUse {
        store,
        blobs: blob_bytes,
        blob_count,
        blob_cache_max: blobs.cap(),
        logs,
        workspaces: walked.workspaces,
        other: walked.other,
        total: 0,
    };
    usage.total = usage.store + usage.blobs + usage.logs + usage.workspaces + usage.other;
    usage
}
