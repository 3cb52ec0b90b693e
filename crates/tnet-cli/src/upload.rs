//! Sending a task's files: hashed, asked about, and only the missing ones
//! uploaded, in chunks with a few in flight (SPEC 3.4).
//!
//! Memory stays bounded by `CHUNK * IN_FLIGHT` whatever the file size, and a
//! file the host already has (same BLAKE3 hash) costs one hash lookup.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use anyhow::{bail, Context};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use tnet_proto::keys;
use tnet_proto::msg::{
    self, BlobChunk, BlobChunkAck, FileEntry, MissingBlobsRequest, Request, Response,
    VerifyBlobRequest,
};
use zenoh::qos::Priority;

use crate::client::Client;
use crate::files::LocalFile;

/// Bytes per chunk.
pub const CHUNK: u64 = 1 << 20;
/// Chunks in flight at once: enough to keep the link busy (a round trip per chunk otherwise).
pub const IN_FLIGHT: usize = 8;

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

/// The BLAKE3 hash of a file, read in a blocking thread.
fn hash_file(path: &std::path::Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Hashes the files and sends those `host` does not have. Returns the entries to submit.
pub async fn upload(
    client: &Client,
    host: &str,
    files: &[LocalFile],
) -> anyhow::Result<(Vec<FileEntry>, UploadStats)> {
    let entries = hash_all(files).await?;
    let stats = send_missing(client, host, files, &entries).await?;
    Ok((entries, stats))
}

/// The entries describing `files`: where each lands, its hash, size and mode.
pub async fn hash_all(files: &[LocalFile]) -> anyhow::Result<Vec<FileEntry>> {
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        let source = f.source.clone();
        let hash = tokio::task::spawn_blocking(move || hash_file(&source)).await??;
        entries.push(FileEntry {
            path: f.dest.clone(),
            hash,
            size: f.size,
            mode: f.mode,
        });
    }
    Ok(entries)
}

/// Sends the files among `files` (described by `entries`) that `host` does not have.
pub async fn send_missing(
    client: &Client,
    host: &str,
    files: &[LocalFile],
    entries: &[FileEntry],
) -> anyhow::Result<UploadStats> {
    let mut hashes: Vec<String> = entries.iter().map(|e| e.hash.clone()).collect();
    hashes.sort();
    hashes.dedup();
    let missing = match client
        .ask_host(host, Request::MissingBlobs(MissingBlobsRequest { hashes }))
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
    for (file, entry) in to_send {
        send_file(client, host, file, entry, &bar).await?;
        stats.sent += 1;
        stats.bytes += entry.size;
    }
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

async fn send_chunk(
    client: &Client,
    key: &str,
    meta: BlobChunk,
    data: Vec<u8>,
) -> anyhow::Result<()> {
    let replies = client
        .session
        .get(key)
        .payload(data)
        .attachment(msg::encode(&meta))
        // File bytes yield to control traffic, so other commands stay responsive.
        .priority(Priority::DataLow)
        .timeout(Duration::from_secs(60).max(client.timeout))
        .await
        .map_err(|e| anyhow::anyhow!("cannot send a file chunk: {e}"))?;
    let reply = replies
        .recv_async()
        .await
        .map_err(|_| anyhow::anyhow!("the host went away during the upload"))?;
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
