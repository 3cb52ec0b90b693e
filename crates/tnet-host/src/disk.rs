//! A full disk, said so (issue 16): the one place that turns "no space
//! left" into an error a user can act on, for every write a client waits
//! for (uploads, workspaces, records).

use tnet_proto::msg::{ErrorKind, ErrorReply};

/// Whether `err` means the filesystem (or the user's quota) is full.
pub fn is_full(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(nix::libc::ENOSPC) | Some(nix::libc::EDQUOT)
    ) || err.kind() == std::io::ErrorKind::StorageFull
}

/// The reply for a failed write: the host's disk is full, or another I/O
/// failure while doing `what` (a phrase after "could not").
pub fn write_failure(what: &str, err: &std::io::Error) -> ErrorReply {
    if is_full(err) {
        return ErrorReply::new(
            ErrorKind::HostFailure,
            format!(
                "the host's disk is full: it could not {what} ({err}); nothing was kept. Free space on the host, then try again"
            ),
        );
    }
    ErrorReply::new(
        ErrorKind::HostFailure,
        format!("the host could not {what}: {err}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named_as_such() {
        let full = std::io::Error::from_raw_os_error(nix::libc::ENOSPC);
        assert!(write_failure("write an upload", &full)
            .message
            .contains("disk is full"));
        let other = std::io::Error::from_raw_os_error(nix::libc::EACCES);
        assert!(!write_failure("write an upload", &other)
            .message
            .contains("disk is full"));
    }
}
