//! A habit run's stdout, kept apart on its way to the task's log.
//!
//! The runner sends stdout and stderr into one channel, tagged; the log
//! wants both, publication only stdout. A run's commands get a sender of
//! their own whose chunks all go on to the log, while stdout is also kept
//! (up to [`MAX_OUTPUT`]) for publication.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

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

/// A sender for a run's commands whose chunks all go on to `log`, and whose
/// stdout is also kept (up to [`MAX_OUTPUT`]) for publication.
pub(crate) fn capture_stdout(
    log: mpsc::Sender<OutputChunk>,
) -> (
    mpsc::Sender<OutputChunk>,
    Arc<Mutex<Captured>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(64);
    let captured = Arc::new(Mutex::new(Captured::default()));
    let keep = captured.clone();
    let tee = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if chunk.stream == Stream::Stdout {
                let mut c = keep.lock().unwrap_or_else(|p| p.into_inner());
                let room = MAX_OUTPUT.saturating_sub(c.bytes.len());
                if chunk.bytes.len() > room {
                    c.truncated = true;
                }
                let take = chunk.bytes.len().min(room);
                c.bytes.extend_from_slice(&chunk.bytes[..take]);
            }
            // The log is the task's whole output; without it nothing is lost here.
            let _ = log.send(chunk).await;
        }
    });
    (tx, captured, tee)
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

    #[tokio::test]
    async fn stdout_is_kept_apart_and_everything_reaches_the_log() {
        let (log_tx, mut log_rx) = mpsc::channel(16);
        let (tx, captured, tee) = capture_stdout(log_tx);
        tx.send(chunk(Stream::Stdout, b"price 12\n"))
            .await
            .expect("send");
        tx.send(chunk(Stream::Stderr, b"warning\n"))
            .await
            .expect("send");
        tx.send(chunk(Stream::Stdout, b"price 13\n"))
            .await
            .expect("send");
        drop(tx);
        tee.await.expect("tee ends when its senders are gone");
        let c = captured.lock().expect("lock");
        assert_eq!(c.bytes, b"price 12\nprice 13\n");
        assert!(!c.truncated);
        let mut logged = Vec::new();
        while let Ok(chunk) = log_rx.try_recv() {
            logged.extend(chunk.bytes);
        }
        assert_eq!(logged, b"price 12\nwarning\nprice 13\n");
    }

    #[tokio::test]
    async fn a_loud_run_is_cut_at_the_limit() {
        let (log_tx, mut log_rx) = mpsc::channel(16);
        let drain = tokio::spawn(async move { while log_rx.recv().await.is_some() {} });
        let (tx, captured, tee) = capture_stdout(log_tx);
        let big = vec![b'x'; 3 << 20];
        for _ in 0..3 {
            tx.send(chunk(Stream::Stdout, &big)).await.expect("send");
        }
        drop(tx);
        tee.await.expect("tee");
        drain.await.expect("drain");
        let c = captured.lock().expect("lock");
        assert_eq!(c.bytes.len(), MAX_OUTPUT);
        assert!(c.truncated);
    }
}
