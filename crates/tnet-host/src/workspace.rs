//! A task's workspace: atomic installation of files at safe relative paths.
//!
//! The host never trusts the client's mapping of files (SPEC 3.4): every name
//! is checked here again (`tnet_proto::upload::safe_relative_path`), and files are written so that no name can land
//! outside the workspace, not even through a link already inside it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tnet_proto::msg::{ErrorKind, ErrorReply, FileEntry};
use tnet_proto::upload::safe_relative_path;

use crate::blobs::BlobStore;

/// Creates the parent folders of `rel` under `root`, refusing to pass through
/// any symbolic link (which could point outside the workspace).
fn prepare_parent(root: &Path, rel: &Path) -> Result<PathBuf, ErrorReply> {
    let mut dir = root.to_path_buf();
    let parents: Vec<_> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for comp in parents {
        dir.push(comp);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(ErrorReply::new(
                    ErrorKind::BadPath,
                    format!(
                        "refused file path `{}`: `{}` is a link in the workspace",
                        rel.display(),
                        dir.display()
                    ),
                ))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(ErrorReply::new(
                    ErrorKind::BadPath,
                    format!(
                        "refused file path `{}`: `{}` is a file, not a folder",
                        rel.display(),
                        dir.display()
                    ),
                ))
            }
            Err(_) => std::fs::create_dir(&dir).map_err(|e| failure("create a folder", e))?,
        }
    }
    Ok(root.join(rel))
}

fn failure(what: &str, err: std::io::Error) -> ErrorReply {
    crate::disk::write_failure(&format!("{what} in the workspace"), &err)
}

/// Refuses an entry whose mode claims it is not a regular file (a device,
/// fifo, socket, link or folder): only contents travel, and the host never
/// makes anything but a regular file of them.
fn check_regular(f: &FileEntry) -> Result<(), ErrorReply> {
    const TYPE: u32 = 0o170_000;
    const REGULAR: u32 = 0o100_000;
    let kind = f.mode & TYPE;
    if f.mode <= 0o177_777 && (kind == 0 || kind == REGULAR) {
        return Ok(());
    }
    let shown: String = f.path.chars().take(200).collect();
    Err(ErrorReply::new(
        ErrorKind::BadPath,
        format!(
            "refused file `{shown}`: its mode {:o} is not a regular file's (devices, fifos and sockets cannot be sent)",
            f.mode
        ),
    ))
}

/// Checks every entry's path and that its blob is here, before anything is written.
pub fn check_files(files: &[FileEntry], blobs: &BlobStore) -> Result<Vec<PathBuf>, ErrorReply> {
    let mut out = Vec::with_capacity(files.len());
    let mut seen = std::collections::HashSet::new();
    for f in files {
        let rel = safe_relative_path(&f.path)?;
        check_regular(f)?;
        if !seen.insert(rel.clone()) {
            return Err(ErrorReply::new(
                ErrorKind::BadPath,
                format!("file `{}` is listed twice", f.path),
            ));
        }
        if !blobs.has(&f.hash) {
            return Err(ErrorReply::new(
                ErrorKind::MissingFile,
                format!(
                    "file `{}` ({}) was not uploaded; submit the task again",
                    f.path, f.hash
                ),
            ));
        }
        out.push(rel);
    }
    Ok(out)
}

/// Puts the files into `root` (a fresh folder or a workspace), keeping their
/// modes. Blocking. It does not wait for the blobs' `fsync` (a `kill -9`
/// loses nothing the kernel has; docs/reliability.md says what a power cut
/// may). Each file is made under a
/// temporary name and renamed, so a crash never leaves a half-written file
/// under its real name; a blob's first use shares its file, later ones copy
/// it ([`BlobStore::install`]). Folders are made and every name checked
/// first, one by one; the files are then placed by up to [`COPIERS`]
/// threads, since copies of a large upload are the last thing its
/// submitter waits for.
pub fn write_files(
    root: &Path,
    files: &[FileEntry],
    rels: &[PathBuf],
    blobs: &BlobStore,
) -> Result<(), ErrorReply> {
    let mut jobs = Vec::with_capacity(files.len());
    for (f, rel) in files.iter().zip(rels) {
        let dest = prepare_parent(root, rel)?;
        if std::fs::symlink_metadata(&dest).is_ok_and(|m| m.file_type().is_symlink() || m.is_dir())
        {
            return Err(ErrorReply::new(
                ErrorKind::BadPath,
                format!(
                    "refused file path `{}`: a link or folder of that name is in the workspace",
                    f.path
                ),
            ));
        }
        jobs.push((f, dest));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let copier = || -> Result<(), ErrorReply> {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((f, dest)) = jobs.get(i) else {
                return Ok(());
            };
            place(f, dest, blobs)?;
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, COPIERS)
        .min(jobs.len().max(1));
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(copier)).collect();
        let mut result = copier();
        for helper in helpers {
            let theirs = helper.join().unwrap_or_else(|_| {
                Err(failure(
                    "copy a file",
                    std::io::Error::other("a copier panicked"),
                ))
            });
            result = result.and(theirs);
        }
        result
    })
}

/// The most threads placing one submission's files.
const COPIERS: usize = 4;

/// Puts one blob at a temporary name beside `dest`, sets its mode, and
/// renames it into place.
fn place(f: &FileEntry, dest: &Path, blobs: &BlobStore) -> Result<(), ErrorReply> {
    let tmp = dest.with_file_name(format!(
        ".tnet-incoming-{}",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    // Left by a crash during an earlier edit: a link cannot replace it.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(failure("copy a file", e))
        }
        _ => {}
    }
    blobs.install(&f.hash, &tmp, &f.path)?;
    // Only permission bits: no setuid/setgid from the network.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(f.mode & 0o777))
        .map_err(|e| failure("set a file's mode", e))?;
    std::fs::rename(&tmp, dest).map_err(|e| failure("place a file", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_claiming_to_be_a_device_or_fifo_is_refused() {
        let entry = |mode| FileEntry {
            path: "x".into(),
            hash: "a".repeat(64),
            size: 0,
            mode,
        };
        for ok in [0o644, 0o100_755] {
            assert!(check_regular(&entry(ok)).is_ok(), "{ok:o}");
        }
        // fifo, character device, socket, link, folder, nonsense
        for bad in [
            0o010_644,
            0o020_666,
            0o140_755,
            0o120_777,
            0o040_755,
            0o7_000_000,
        ] {
            let err = check_regular(&entry(bad)).expect_err("refused");
            assert_eq!(err.kind, ErrorKind::BadPath);
        }
    }

    #[test]
    fn a_link_inside_the_workspace_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("link");
        let err = prepare_parent(dir.path(), Path::new("out/evil")).expect_err("refused");
        assert_eq!(err.kind, ErrorKind::BadPath);
    }
}
