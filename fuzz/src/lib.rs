//! Properties the fuzz targets share: what the host's checks of network input
//! must guarantee whenever they accept something.
//!
//! Each `check_*` function runs the real check from `tnet-proto` (the host
//! calls the same functions) and panics (which libFuzzer reports as a crash) if an accepted
//! value breaks the guarantee the rest of the host relies on.

use std::path::{Component, Path};

use tnet_proto::msg::{self, ErrorKind};
use tnet_proto::task::safe_name;
use tnet_proto::upload::{is_valid_hash, safe_relative_path};

/// A file path from an upload (`FileEntry::path`): refused, or a relative path
/// of plain names that stays inside the workspace and keeps every name the
/// client sent (only empty and `.` parts dropped).
pub fn check_upload_path(raw: &str) {
    match safe_relative_path(raw) {
        Ok(rel) => {
            assert!(rel.is_relative(), "{raw:?} accepted as {rel:?}");
            assert!(!rel.as_os_str().is_empty(), "{raw:?} accepted as empty");
            assert!(
                rel.components().all(|c| matches!(c, Component::Normal(_))),
                "{raw:?} accepted as {rel:?}"
            );
            let root = Path::new("/workspace/task");
            let joined = root.join(&rel);
            assert!(
                joined.starts_with(root) && joined != root,
                "{raw:?} escapes as {joined:?}"
            );
            let sent: Vec<&str> = raw
                .split('/')
                .filter(|part| !part.is_empty() && *part != ".")
                .collect();
            let kept: Vec<&str> = rel
                .components()
                .map(|c| c.as_os_str().to_str().expect("made from a str"))
                .collect();
            assert_eq!(sent, kept, "{raw:?} accepted as {rel:?}");
            assert!(!raw.contains('\0'), "{raw:?} accepted with a NUL byte");
        }
        Err(err) => {
            assert_eq!(err.kind, ErrorKind::BadPath, "{raw:?}: {err:?}");
            assert!(
                raw.is_empty()
                    || raw.contains('\0')
                    || raw.starts_with('/')
                    || raw.split('/').any(|part| part == "..")
                    || raw.split('/').all(|part| part.is_empty() || part == "."),
                "{raw:?} refused for no reason: {}",
                err.message
            );
        }
    }
}

/// A blob hash from the network: accepted only as a single file name that
/// cannot be hidden, climb out or hold a separator (it names a file in the
/// blob store).
pub fn check_hash(hash: &str) {
    if is_valid_hash(hash) {
        assert_eq!(hash.len(), 64, "{hash:?}");
        let mut parts = Path::new(hash).components();
        assert!(
            matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none(),
            "{hash:?} is not one file name"
        );
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{hash:?}"
        );
    }
}

/// A task's safe name: one visible path component and one key-expression chunk.
pub fn check_safe_name(name: &str) {
    let safe = safe_name(name);
    assert_eq!(
        safe.chars().count(),
        name.chars().count(),
        "{name:?} → {safe:?}"
    );
    assert!(!safe.starts_with('.'), "{name:?} → {safe:?}");
    assert!(
        safe.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')),
        "{name:?} → {safe:?}"
    );
    if !safe.is_empty() {
        let mut parts = Path::new(&safe).components();
        assert!(
            matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none(),
            "{name:?} → {safe:?} is not one folder name"
        );
    }
}

/// A decoded message encodes to bytes that decode to a message encoding the same.
pub fn check_reencodes<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let bytes = msg::encode(value);
    let back: T = msg::decode(&bytes).unwrap_or_else(|e| {
        panic!(
            "re-encoded message does not decode: {e}: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(
        msg::encode(&back),
        bytes,
        "encoding is not stable: {}",
        String::from_utf8_lossy(&bytes)
    );
}
