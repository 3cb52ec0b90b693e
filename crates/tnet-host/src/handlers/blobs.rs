//! Uploads: which files the host lacks, their chunks, and their verification.

use tnet_proto::msg::{
    BlobChunk, BlobChunkAck, ErrorReply, MissingBlobsRequest, Response, VerifyBlobRequest,
};

use crate::host::Host;

/// Lists the hashes the host does not have.
pub fn missing(host: &Host, req: MissingBlobsRequest) -> Result<Response, ErrorReply> {
    let hashes = req
        .hashes
        .into_iter()
        .filter(|h| !host.shared.blobs.has(h))
        .collect();
    Ok(Response::MissingBlobs { hashes })
}

/// Checks an upload against its hash and keeps it.
pub async fn verify(host: &Host, req: VerifyBlobRequest) -> Result<Response, ErrorReply> {
    let shared = host.shared.clone();
    tokio::task::spawn_blocking(move || shared.blobs.verify(&req.hash, req.size))
        .await
        .map_err(super::host_failure)??;
    Ok(Response::BlobVerified)
}

/// Writes one chunk of an upload.
pub async fn chunk(
    host: &Host,
    meta: BlobChunk,
    data: Vec<u8>,
) -> Result<BlobChunkAck, ErrorReply> {
    let shared = host.shared.clone();
    let written = tokio::task::spawn_blocking(move || shared.blobs.write_chunk(&meta, &data))
        .await
        .map_err(super::host_failure)??;
    Ok(BlobChunkAck { written })
}
