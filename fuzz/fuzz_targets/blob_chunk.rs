//! An upload chunk as the host receives it (`server.rs::answer_blob`): the
//! query's attachment, a JSON `BlobChunk`, and its payload, the chunk's bytes.
//! The input is the attachment, then a 0xFF byte (never in JSON text), then
//! the payload.
//!
//! The decoded chunk goes into a real `BlobStore` in a temporary folder, as
//! the host's handler does. Asserts: no panic; a chunk is written only if its
//! hash is a valid file name and it fits its file (`offset + len <= size <=
//! MAX_BLOB_SIZE`, `len <= MAX_CHUNK`); it lands only at `partial/<hash>`;
//! a refusal is a `bad_request`, never a host failure.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tnet_host::blobs::{is_valid_hash, BlobStore, MAX_BLOB_SIZE, MAX_CHUNK};
use tnet_host::paths::Paths;
use tnet_proto::msg::{self, BlobChunk, ErrorKind};

struct Store {
    _dir: tempfile::TempDir,
    paths: Paths,
    blobs: BlobStore,
}

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let paths = Paths::new(dir.path());
        paths.create_all().expect("the host's folders");
        let blobs = BlobStore::open(&paths).expect("a blob store");
        Store {
            _dir: dir,
            paths,
            blobs,
        }
    })
}

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
    let store = store();
    let partial = store.paths.partial_blobs();
    match store.blobs.write_chunk(&chunk, payload) {
        Ok(written) => {
            assert_eq!(written, payload.len() as u64);
            assert!(is_valid_hash(&chunk.hash), "{chunk:?} written");
            assert!(payload.len() <= MAX_CHUNK);
            assert!(chunk.size <= MAX_BLOB_SIZE, "{chunk:?} written");
            let end = chunk.offset.checked_add(payload.len() as u64);
            assert!(end.is_some_and(|e| e <= chunk.size), "{chunk:?} written");
            let names: Vec<_> = std::fs::read_dir(&partial)
                .expect("partial folder")
                .map(|e| e.expect("an entry").file_name())
                .collect();
            assert_eq!(names, [chunk.hash.as_str()], "{chunk:?}");
            std::fs::remove_file(partial.join(&chunk.hash)).expect("remove the upload");
        }
        Err(err) => assert_eq!(err.kind, ErrorKind::BadRequest, "{chunk:?}: {err:?}"),
    }
    // Nothing is left anywhere else in the host's home either.
    assert!(std::fs::read_dir(store.paths.blobs())
        .expect("blobs folder")
        .next()
        .is_none());
});
