//! The checks a host makes of an upload before it touches a file (SPEC 3.4):
//! a file's path in the workspace, a blob's hash, a chunk's place in its file.
//!
//! They are pure (no I/O) so they can be tested and fuzzed without a host;
//! the host (`blobs.rs`, `workspace.rs`) calls them on everything that
//! arrives, and refuses with the error they return.

use std::path::{Component, Path, PathBuf};

use crate::msg::{BlobChunk, ErrorKind, ErrorReply};

/// The largest file any host accepts, whatever its `[limits] max_file_size`
/// says, so a hostile size cannot be used to allocate or pre-check absurd
/// amounts; the disk is the real limit.
pub const MAX_BLOB_SIZE: u64 = 1 << 40;

/// The largest single chunk accepted.
pub const MAX_CHUNK: usize = 16 << 20;

/// Whether `hash` is a BLAKE3 hash in lowercase hex, and so a safe file name.
pub fn is_valid_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `Ok` for a valid hash ([`is_valid_hash`]), else the `bad_request` a host answers.
pub fn check_hash(hash: &str) -> Result<(), ErrorReply> {
    if is_valid_hash(hash) {
        return Ok(());
    }
    let shown: String = hash.chars().take(80).collect();
    Err(ErrorReply::new(
        ErrorKind::BadRequest,
        format!("`{shown}` is not a BLAKE3 hash (64 lowercase hex digits)"),
    ))
}

/// Checks a chunk of `len` bytes before it is written: its hash is valid
/// ([`check_hash`]), its file is at most [`MAX_BLOB_SIZE`], the chunk at
/// most [`MAX_CHUNK`], and `offset + len` (without overflow) is within the
/// file's declared size. A refusal is a `bad_request`.
pub fn check_chunk(chunk: &BlobChunk, len: usize) -> Result<(), ErrorReply> {
    check_hash(&chunk.hash)?;
    let end = chunk.offset.checked_add(len as u64);
    if chunk.size > MAX_BLOB_SIZE || len > MAX_CHUNK || end.is_none_or(|e| e > chunk.size) {
        return Err(ErrorReply::new(
            ErrorKind::BadRequest,
            format!(
                "chunk at offset {} of {} bytes does not fit a file of {} bytes",
                chunk.offset, len, chunk.size
            ),
        ));
    }
    Ok(())
}

/// Checks a file path from the network and returns it as a relative path
/// with only normal components, or the `bad_path` a host answers.
pub fn safe_relative_path(raw: &str) -> Result<PathBuf, ErrorReply> {
    let refuse = |why: &str| {
        let shown: String = raw.chars().take(200).collect();
        Err(ErrorReply::new(
            ErrorKind::BadPath,
            format!("refused file path `{shown}`: {why}"),
        ))
    };
    if raw.is_empty() || raw.contains('\0') {
        return refuse("it is empty or holds a NUL byte");
    }
    let path = Path::new(raw);
    let mut clean = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::Normal(c) => clean.push(c),
            Component::CurDir => {}
            Component::ParentDir => return refuse("`..` would leave the workspace"),
            Component::RootDir | Component::Prefix(_) => {
                return refuse("an absolute path would leave the workspace")
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return refuse("it names the workspace itself, not a file");
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_workspace_are_refused() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "", ".", "a\0b"] {
            let err = safe_relative_path(bad).expect_err(bad);
            assert_eq!(err.kind, ErrorKind::BadPath, "{bad:?}");
        }
        assert_eq!(
            safe_relative_path("./bin/run.sh").expect("ok"),
            PathBuf::from("bin/run.sh")
        );
    }

    #[test]
    fn only_lowercase_hex_of_64_digits_is_a_hash() {
        assert!(is_valid_hash(&"0a".repeat(32)));
        for bad in [
            String::new(),
            "a".repeat(63),
            "a".repeat(65),
            "A".repeat(64),
            format!("../{}", "a".repeat(61)),
            format!("{}é", "a".repeat(62)),
        ] {
            assert!(!is_valid_hash(&bad), "{bad:?}");
            assert_eq!(
                check_hash(&bad).expect_err("refused").kind,
                ErrorKind::BadRequest
            );
        }
    }

    #[test]
    fn hostile_chunks_are_refused() {
        let chunk = |hash: &str, offset, size| BlobChunk {
            hash: hash.into(),
            offset,
            size,
        };
        let h = "a".repeat(64);
        let refused = |c: BlobChunk, len| {
            let err = check_chunk(&c, len).expect_err("refused");
            assert_eq!(err.kind, ErrorKind::BadRequest, "{c:?} {len}");
        };
        refused(chunk("../../etc/passwd", 0, 4), 4);
        refused(chunk(&h, u64::MAX, 4), 4);
        refused(chunk(&h, 2, 4), 4);
        refused(chunk(&h, 0, MAX_BLOB_SIZE + 1), 4);
        refused(chunk(&h, 0, MAX_BLOB_SIZE), MAX_CHUNK + 1);
        check_chunk(&chunk(&h, 0, 4), 4).expect("fits");
        check_chunk(&chunk(&h, 4, 4), 0).expect("an empty chunk at the end fits");
        check_chunk(&chunk(&h, 0, MAX_BLOB_SIZE), MAX_CHUNK).expect("the largest fits");
    }
}
