//! Messages of the file transfer (SPEC 3.4): content-hashed files sent in chunks.

use serde::{Deserialize, Serialize};

/// One file of a task as the client sends it: where it lands and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the workspace, `/`-separated and relative. The host checks it
    /// again and refuses any path that would leave the workspace.
    pub path: String,
    /// BLAKE3 hash of the content, lowercase hex.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// Unix permission bits (the execute bit matters).
    pub mode: u32,
}

/// Metadata of one chunk of a file upload, sent as the attachment of a query
/// on [`crate::keys::host_blob`] whose payload is the chunk's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobChunk {
    /// Hash of the whole file this chunk belongs to.
    pub hash: String,
    /// Byte offset of this chunk in the file.
    pub offset: u64,
    /// Size of the whole file.
    pub size: u64,
}

/// The host's answer to a [`BlobChunk`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobChunkAck {
    /// Bytes written from this chunk.
    pub written: u64,
}
