//! Sending a task's files: hashed, asked about, and only the missing ones
//! uploaded, in chunks with a few in flight (SPEC 3.4).
//!
//! Memory stays bounded by `CHUNK * IN_FLIGHT` whatever the file size, and a
//! file the host already has (same BLAKE3 hash) costs one hash lookup.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use tnet_proto::keys;
use tnet_proto::msg::{
    self, BlobChunk, BlobChunkAck, FileEntry, MissingBlobsRequest, Request, Response, UploadPlan,
    VerifyBlobRequest,
};
use zenoh::qos::Priority;

use crate::client::Client;
use crate::files::LocalFile;
use crate::hashcache::{HashCache, Stamp};

/// Bytes per chunk.
pub const CHUNK: u64 = 1 << 20;
/// Chunks of one file in flight at once: enough to keep the link busy (a
/// round trip per chunk otherwise).
pub const IN_FLIGHT: usize = 8;
/// Files sent at once, so the host checks one file's hash while the next
/// one's bytes arrive. Memory stays under `CHUNK * IN_FLIGHT * FILES_IN_FLIGHT`.
pub const FILES_IN_FLIGHT: usize = 3;

/// What an upload did, for the user and for tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct UploadStats {
    /// Files the host already had.
    pub reused: usize,
    /// Files sent.
    pub sent: usize,
    /// Bytes sent.
    pub bytes: u64,
}

/// The BLAKE3 hash of a file. Blocking. Large files are mapped and hashed
/// on every core; small ones are simply read.
fn hash_file(path: &Path) -> anyhow::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_mmap_rayon(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// The task file the files are for: its name and size, so the host can
/// refuse a task over its limits before any file is sent.
#[derive(Debug, Clone, Copy)]
pub struct TaskFile<'a> {
    /// Its name, as submitted.
    pub name: &'a str,
    /// Its size in bytes.
    pub size: u64,
}

/// Hashes the files and sends those `host` does not have. Returns the entries to submit.
pub async fn upload(
    client: &Client,
    host: &str,
    task: TaskFile<'_>,
    files: &[LocalFile],
) -> anyhow::Result<(Vec<FileEntry>, UploadStats)> {
    let entries = hash_all(files).await?;
    let stats = send_missing(client, host, task, files, &entries).await?;
    Ok((entries, stats))
}

/// The entries describing `files`: where each lands, its hash, size and mode.
/// Hashes of files unchanged since an earlier submit come from the hash cache.
pub async fn hash_all(files: &[LocalFile]) -> anyhow::Result<Vec<FileEntry>> {
    let files = files.to_vec();
    tokio::task::spawn_blocking(move || hash_with_cache(&files, &mut HashCache::open_default()))
        .await?
}

/// Hashes `files`, asking `cache` first and telling it what was hashed. Blocking.
pub fn hash_with_cache(
    files: &[LocalFile],
    cache: &mut HashCache,
) -> anyhow::Result<Vec<FileEntry>> {
    let started = SystemTime::now();
    let stamp = |path: &Path| -> anyhow::Result<Stamp> {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Stamp::of(&meta))
    };
    let mut hashed = Vec::new();
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        let before = stamp(&f.source)?;
        let hash = match cache.lookup(&f.source, &before) {
            Some(hash) => hash,
            None => {
                let hash = hash_file(&f.source)?;
                // A file written while it was read is hashed again next time.
                if stamp(&f.source)? == before {
                    hashed.push((f.source.clone(), before, hash.clone()));
                }
                hash
            }
        };
        entries.push(FileEntry {
            path: f.dest.clone(),
            hash,
            size: before.size(),
            mode: f.mode,
        });
    }
    cache.remember(started, &hashed);
    Ok(entries)
}

/// Whether a host refused a submission or edit for a file it does not have
/// (anymore): asking it again which files it lacks, and sending them, mends it.
pub fn is_missing_file(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<msg::ErrorReply>()
            .is_some_and(|reply| reply.kind == msg::ErrorKind::MissingFile)
    })
}

/// Sends the files among `files` (described by `entries`) that `host` does
/// not have, once it has checked the task against its limits.
pub async fn send_missing(
    client: &Client,
    host: &str,
    task: TaskFile<'_>,
    files: &[LocalFile],
    entries: &[FileEntry],
) -> anyhow::Result<UploadStats> {
    let mut hashes: Vec<String> = entries.iter().map(|e| e.hash.clone()).collect();
    hashes.sort();
    hashes.dedup();
    let plan = UploadPlan {
        file_name: task.name.to_owned(),
        task_file_size: task.size,
        files: entries.to_vec(),
    };
    let missing = match client
        .ask_host(
            host,
            Request::MissingBlobs(MissingBlobsRequest {
                hashes,
                plan: Some(plan),
            }),
        )
        .await?
    {
        Response::MissingBlobs { hashes } => hashes,
        other => bail!("host `{host}` gave an unexpected answer to an upload: {other:?}"),
    };
    let mut stats = UploadStats::default();
    let mut to_send: Vec<(&LocalFile, &FileEntry)> = Vec::new();
    for (f, e) in files.iter().zip(entries) {
        if missing.contains(&e.hash) && !to_send.iter().any(|(_, s)| s.hash == e.hash) {
            to_send.push((f, e));
        }
    }
    stats.reused = files.len() - to_send.len();
    let total: u64 = to_send.iter().map(|(_, e)| e.size).sum();
    let bar = progress_bar(total);
    let bar = &bar;
    futures::stream::iter(to_send)
        .map(|(file, entry)| async move {
            send_file(client, host, file, entry, bar).await?;
            anyhow::Ok(entry.size)
        })
        .buffer_unordered(FILES_IN_FLIGHT)
        .try_for_each(|size| {
            stats.sent += 1;
            stats.bytes += size;
            futures::future::ready(Ok(()))
        })
        .await?;
    bar.finish_and_clear();
    Ok(stats)
}

/// A progress bar on stderr; indicatif draws nothing when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("uploading");
    bar
}

async fn send_file(
    client: &Client,
    host: &str,
    file: &LocalFile,
    entry: &FileEntry,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let handle = std::fs::File::open(&file.source)
        .with_context(|| format!("cannot read {}", file.source.display()))?;
    let handle = &handle;
    let key = keys::host_blob(host);
    let key = &key;
    let offsets: Vec<u64> = (0..entry.size.div_ceil(CHUNK).max(1))
        .map(|i| i * CHUNK)
        .collect();
    futures::stream::iter(offsets)
        .map(|offset| async move {
            let len = CHUNK.min(entry.size - offset) as usize;
            let mut data = vec![0u8; len];
            handle
                .read_exact_at(&mut data, offset)
                .with_context(|| format!("cannot read {}", file.source.display()))?;
            let meta = BlobChunk {
                hash: entry.hash.clone(),
                offset,
                size: entry.size,
            };
            send_chunk(client, key, meta, data).await?;
            bar.inc(len as u64);
            anyhow::Ok(())
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    match client
        .ask_host(
            host,
            Request::VerifyBlob(VerifyBlobRequest {
                hash: entry.hash.clone(),
                size: entry.size,
            }),
        )
        .await?
    {
        Response::BlobVerified => Ok(()),
        other => bail!("host `{host}` gave an unexpected answer to an upload: {other:?}"),
    }
}

/// How often a chunk whose answer never came is sent again, and the first
/// pause before it (doubled each time: about 8 s in all).
const CHUNK_RETRIES: u32 = 5;
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(250);

async fn send_chunk(
    client: &Client,
    key: &str,
    meta: BlobChunk,
    data: Vec<u8>,
) -> anyhow::Result<()> {
    let data = zenoh::bytes::ZBytes::from(data);
    let mut attempt = 0;
    let reply = loop {
        let replies = client
            .session
            .get(key)
            .payload(data.clone())
            .attachment(msg::encode(&meta))
            // File bytes yield to control traffic, so other commands stay responsive.
            .priority(Priority::DataLow)
            .timeout(Duration::from_secs(60).max(client.timeout))
            .await
            .map_err(|e| anyhow::anyhow!("cannot send a file chunk: {e}"))?;
        match replies.recv_async().await {
            Ok(reply) => break reply,
            // No answer at all: a link on the way closed under load (a host's
            // gate and its own session, `tnet-host`'s zenoh_pools.rs). Writing
            // a chunk twice writes the same bytes, so it is simply sent again.
            Err(_) if attempt < CHUNK_RETRIES => {
                tracing::debug!(offset = meta.offset, attempt, "no answer to a chunk; sending it again");
                tokio::time::sleep(FIRST_RETRY_PAUSE * 2u32.pow(attempt)).await;
                attempt += 1;
            }
            Err(_) => bail!("the host went away during the upload; run the command again: only the files that did not arrive are sent"),
        }
    };
    let sample = reply.result().map_err(|e| {
        anyhow::anyhow!(
            "upload failed: {}",
            String::from_utf8_lossy(&e.payload().to_bytes())
        )
    })?;
    let bytes = sample.payload().to_bytes();
    if msg::decode::<BlobChunkAck>(&bytes).is_ok() {
        return Ok(());
    }
    match msg::decode::<Response>(&bytes) {
        Ok(Response::Error(err)) => Err(anyhow::Error::new(err).context("upload refused")),
        _ => bail!("the host sent an answer to an upload chunk that this tnet does not understand"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashcache::SETTLE;

    #[test]
    fn unchanged_files_come_from_the_cache_and_changed_ones_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a");
        std::fs::write(&path, b"hello").expect("write");
        let file = LocalFile {
            source: path.clone(),
            dest: "a".into(),
            mode: 0o644,
            size: 5,
        };
        let mut cache = HashCache::open(&dir.path().join("hashes.sqlite"));
        let stamp = Stamp::of(&std::fs::metadata(&path).expect("stat"));
        // A hash no file has: seeing it back proves the file was not read.
        let planted = "f".repeat(64);
        cache.remember(
            SystemTime::now() + SETTLE * 2,
            &[(path.clone(), stamp, planted.clone())],
        );
        let entries = hash_with_cache(std::slice::from_ref(&file), &mut cache).expect("hash");
        assert_eq!(entries[0].hash, planted);

        // Same size, new bytes: the stamp differs, so the file is read again.
        std::fs::write(&path, b"world").expect("write");
        let entries = hash_with_cache(std::slice::from_ref(&file), &mut cache).expect("hash");
        assert_eq!(entries[0].hash, blake3::hash(b"world").to_hex().to_string());
        assert_eq!(entries[0].size, 5);
    }
}
