//! Uploads: which files the host lacks, their chunks, and their verification.

use tnet_proto::msg::{
    BlobChunk, BlobChunkAck, ErrorReply, MissingBlobsRequest, Response, VerifyBlobRequest,
};

use crate::host::Host;
use tnet_proto::upload::is_valid_hash;

/// Lists the hashes the host does not have, after checking the task they
/// are for against the host's limits (so nothing is sent for a task the
/// host would refuse).
pub fn missing(host: &Host, req: MissingBlobsRequest) -> Result<Response, ErrorReply> {
    let limits = &host.shared.guards.limits;
    if let Some(plan) = &req.plan {
        limits.check_task(
            &plan.file_name,
            plan.task_file_size,
            plan.files.iter().map(|f| (f.path.as_str(), f.size)),
        )?;
    }
    if req.hashes.len() as u64 > limits.max_files {
        // However the client describes its task, it cannot have more files than this.
        limits.check_task("", 0, req.hashes.iter().map(|h| (h.as_str(), 0)))?;
    }
    let blobs = &host.shared.blobs;
    let (present, hashes): (Vec<String>, Vec<String>) =
        req.hashes.into_iter().partition(|h| blobs.has(h));
    // The files the client will not send start their lease again, so the
    // cache keeps them until its submission.
    blobs.touch(present.iter().map(String::as_str));
    if let Some(plan) = &req.plan {
        let needed: std::collections::HashMap<&str, u64> = plan
            .files
            .iter()
            .filter(|f| hashes.contains(&f.hash))
            .map(|f| (f.hash.as_str(), f.size))
            .collect();
        let incoming = needed.values().sum();
        blobs.check_room(incoming, || host.shared.store.referenced_blobs())?;
    }
    Ok(Response::MissingBlobs { hashes })
}

/// Checks an upload against its hash and keeps it; either way the upload
/// is over and its place among `max_uploads` is free.
pub async fn verify(host: &Host, req: VerifyBlobRequest) -> Result<Response, ErrorReply> {
    let shared = host.shared.clone();
    let hash = req.hash.clone();
    let verified = tokio::task::spawn_blocking(move || {
        shared
            .blobs
            .verify(&req.hash, req.size, || shared.store.referenced_blobs())
    })
    .await
    .map_err(super::host_failure);
    host.shared.guards.upload_done(&hash);
    verified??;
    Ok(Response::BlobVerified)
}

/// Writes one chunk of an upload: a file over `max_file_size` is refused at
/// its first chunk, and a new upload needs a place among `max_uploads`.
pub async fn chunk(
    host: &Host,
    meta: BlobChunk,
    data: zenoh::bytes::ZBytes,
) -> Result<BlobChunkAck, ErrorReply> {
    let shared = host.shared.clone();
    let guards = &shared.guards;
    guards.limits.check_file_size(&meta.hash, meta.size)?;
    if is_valid_hash(&meta.hash) && !shared.blobs.has(&meta.hash) {
        for abandoned in guards.upload_chunk(&meta.hash)? {
            tracing::info!(hash = %abandoned, "an upload received nothing for {:?}: dropped", guards.limits.upload_idle);
            shared.blobs.drop_partial(&abandoned);
        }
    }
    // `to_bytes` borrows a payload that arrived in one piece, and joins one
    // that came in fragments: a 1 MiB chunk is not copied once more here.
    let written =
        tokio::task::spawn_blocking(move || shared.blobs.write_chunk(&meta, &data.to_bytes()))
            .await
            .map_err(super::host_failure)??;
    Ok(BlobChunkAck { written })
}
