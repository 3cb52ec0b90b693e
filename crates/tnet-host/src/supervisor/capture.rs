//! A habit run's stdout, kept apart on its way to the task's log.
//!
//! A run reads its commands' output itself (stdout and stderr, tagged); the
//! log wants both, publication only stdout. Every chunk goes on to the log,
//! and stdout is also kept (up to [`MAX_OUTPUT`]) for publication.

use crate::runner::{OutputChunk, Stream};

/// The most stdout a run publishes and keeps; past it the payload is cut and
/// the attachment says `truncated` (the log still has everything).
pub const MAX_OUTPUT: usize = 8 << 20;

/// A run's stdout as captured so far.
#[derive(Default)]
pub(crate) struct Captured {
    /// Stdout, up to [`MAX_OUTPUT`].
    pub(crate) bytes: Vec<u8>,
    /// More was printed than kept.
    pub(crate) truncated: bool,
}

impl Captured {
    /// Keeps what `chunk` adds to stdout, up to [`MAX_OUTPUT`].
    pub(crate) fn take(&mut self, chunk: &OutputChunk) {
        if chunk.stream != Stream::Stdout {
            return;
        }
        let room = MAX_OUTPUT.saturating_sub(self.bytes.len());
        if chunk.bytes.len() > room {
            self.truncated = true;
        }
        let take = chunk.bytes.len().min(room);
        self.bytes.extend_from_slice(&chunk.bytes[..take]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(stream: Stream, bytes: &[u8]) -> OutputChunk {
        OutputChunk {
            stream,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn stdout_is_kept_apart() {
        let mut c = Captured::default();
        c.take(&chunk(Stream::Stdout, b"price 12\n"));
        c.take(&chunk(Stream::Stderr, b"warning\n"));
        c.take(&chunk(Stream::Stdout, b"price 13\n"));
        assert_eq!(c.bytes, b"price 12\nprice 13\n");
        assert!(!c.truncated);
    }

    #[test]
    fn a_loud_run_is_cut_at_the_limit() {
        let mut c = Captured::default();
        let big = vec![b'x'; 3 << 20];
        for _ in 0..3 {
            c.take(&chunk(Stream::Stdout, &big));
        }
        assert_eq!(c.bytes.len(), MAX_OUTPUT);
        assert!(c.truncated);
    }
}
