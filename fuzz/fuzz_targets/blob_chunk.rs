//! An upload chunk as the host receives it (`server.rs::answer_blob`): the
//! query's attachment, a JSON `BlobChunk`, and its payload, the chunk's bytes.
//! The input is the attachment, then a 0xFF byte (never in JSON text), then
//! the payload.
//!
//! The decoded chunk goes through `tnet_proto::upload::check_chunk`, the
//! check `BlobStore::write_chunk` makes before it opens any file. Asserts: no
//! panic; a chunk passes only if its hash is a valid file name and it fits
//! its file (`offset + len <= size <= MAX_BLOB_SIZE`, `len <= MAX_CHUNK`);
//! a refusal is a `bad_request`. The write itself (`partial/<hash>` at the
//! offset) is file I/O and is not fuzzed here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tnet_proto::msg::{self, BlobChunk, ErrorKind};
use tnet_proto::upload::{check_chunk, is_valid_hash, MAX_BLOB_SIZE, MAX_CHUNK};

fuzz_target!(|data: &[u8]| {
    let (attachment, payload) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(chunk) = msg::decode::<BlobChunk>(attachment) else {
        return;
    };
    tnet_fuzz::check_reencodes(&chunk);
    tnet_fuzz::check_hash(&chunk.hash);
    // The payload's length, and a length as large as the host could receive
    // (the fuzzer's inputs are small, a hostile chunk need not be).
    for len in [payload.len(), MAX_CHUNK, MAX_CHUNK + 1] {
        let fits = chunk
            .offset
            .checked_add(len as u64)
            .is_some_and(|end| end <= chunk.size);
        match check_chunk(&chunk, len) {
            Ok(()) => {
                assert!(is_valid_hash(&chunk.hash), "{chunk:?} accepted");
                assert!(len <= MAX_CHUNK, "{chunk:?} of {len} bytes accepted");
                assert!(chunk.size <= MAX_BLOB_SIZE, "{chunk:?} accepted");
                assert!(fits, "{chunk:?} of {len} bytes accepted");
            }
            Err(err) => {
                assert_eq!(err.kind, ErrorKind::BadRequest, "{chunk:?}: {err:?}");
                assert!(
                    !is_valid_hash(&chunk.hash)
                        || len > MAX_CHUNK
                        || chunk.size > MAX_BLOB_SIZE
                        || !fits,
                    "{chunk:?} of {len} bytes refused for no reason: {}",
                    err.message
                );
            }
        }
    }
});
