//! A warm worker's standard output cut into frames (`tnet_proto::worker`).
//!
//! Its keeper reads them itself, without a reader task and a channel in
//! between (one wake-up less on every call): [`FrameReader::next`] is
//! cancel-safe, so the keeper can `select!` on it next to a call's deadline,
//! its caller and the worker's exit. It awaits nothing but `fill_buf`, which
//! takes no bytes, and changes its state only after that returns.

use std::pin::Pin;

use tnet_proto::worker::{parse_line, WorkerLine, MAX_HEADER_LINE};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The most bytes of a result read from a worker at once.
const PIECE: usize = 64 << 10;

/// What a worker wrote on its standard output.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// `{"ready": true}`.
    Ready,
    /// A piece of the result of call `id`.
    Data { id: u64, bytes: Vec<u8> },
    /// The last frame of call `id` ended.
    End {
        id: u64,
        exit_code: i32,
        stderr: Option<String>,
    },
    /// A line that is not a frame (a library's banner): for the task's log.
    Noise(Vec<u8>),
}

/// The frame whose result bytes are being read.
struct Body {
    id: u64,
    left: u64,
    more: bool,
    exit_code: i32,
    stderr: Option<String>,
}

/// Reads frames from a worker's standard output.
pub(crate) struct FrameReader {
    reader: BufReader<Pin<Box<dyn AsyncRead + Send>>>,
    /// The header line read so far.
    line: Vec<u8>,
    /// The frame being read, once its header is.
    body: Option<Body>,
}

impl FrameReader {
    pub(crate) fn new(stdout: Pin<Box<dyn AsyncRead + Send>>) -> FrameReader {
        FrameReader {
            reader: BufReader::with_capacity(PIECE, stdout),
            line: Vec::new(),
            body: None,
        }
    }

    /// The next frame; `None` once the worker's standard output is closed
    /// (or cannot be read). Cancel-safe.
    pub(crate) async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(body) = self.body.take_if(|b| b.left == 0) {
                if body.more {
                    continue;
                }
                return Some(Frame::End {
                    id: body.id,
                    exit_code: body.exit_code,
                    stderr: body.stderr,
                });
            }
            let buf = match self.reader.fill_buf().await {
                Ok([]) | Err(_) => return None,
                Ok(buf) => buf,
            };
            if let Some(body) = &mut self.body {
                let n = buf
                    .len()
                    .min(usize::try_from(body.left).unwrap_or(usize::MAX));
                let bytes = buf[..n].to_vec();
                self.reader.consume(n);
                body.left -= n as u64;
                return Some(Frame::Data { id: body.id, bytes });
            }
            // A header line: up to its newline, or until it is too long to be one.
            let room = MAX_HEADER_LINE + 1 - self.line.len();
            let window = &buf[..buf.len().min(room)];
            let (taken, complete) = match window.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (window.len(), window.len() == room),
            };
            self.line.extend_from_slice(&window[..taken]);
            self.reader.consume(taken);
            if !complete {
                continue;
            }
            let line = std::mem::take(&mut self.line);
            match parse_line(line.strip_suffix(b"\n").unwrap_or(&line)) {
                WorkerLine::Ready => return Some(Frame::Ready),
                WorkerLine::Reply(header) => {
                    self.body = Some(Body {
                        id: header.id,
                        left: header.len,
                        more: header.more,
                        exit_code: header.exit_code.unwrap_or(0),
                        stderr: header.stderr,
                    });
                }
                WorkerLine::NotAFrame => return Some(Frame::Noise(line)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// What a worker writes: noise, ready, a call in two frames, an empty
    /// answer with an exit code and a note.
    const OUTPUT: &[u8] = b"Loading model...\n{\"ready\": true}\n\
        {\"id\":1,\"len\":3,\"more\":true}\nabc{\"id\":1,\"len\":2}\nde\
        {\"id\":2,\"len\":0,\"exit_code\":3,\"stderr\":\"bad\"}\n";

    fn expected() -> Vec<Frame> {
        vec![
            Frame::Noise(b"Loading model...\n".to_vec()),
            Frame::Ready,
            Frame::Data {
                id: 1,
                bytes: b"abc".to_vec(),
            },
            Frame::Data {
                id: 1,
                bytes: b"de".to_vec(),
            },
            Frame::End {
                id: 1,
                exit_code: 0,
                stderr: None,
            },
            Frame::End {
                id: 2,
                exit_code: 3,
                stderr: Some("bad".to_owned()),
            },
        ]
    }

    #[tokio::test]
    async fn frames_noise_and_the_end_of_output() {
        let mut frames = FrameReader::new(Box::pin(OUTPUT));
        let mut got = Vec::new();
        while let Some(frame) = frames.next().await {
            got.push(frame);
        }
        assert_eq!(got, expected());
    }

    #[tokio::test]
    async fn nothing_is_lost_when_a_read_is_dropped_half_way() {
        // The output trickles in a byte at a time, and every read waits at
        // most a moment before it is dropped: as the keeper's `select!` does.
        let (mut tx, rx) = tokio::io::duplex(64);
        tokio::spawn(async move {
            for byte in OUTPUT {
                tx.write_all(&[*byte]).await.expect("write");
                tokio::task::yield_now().await;
            }
        });
        let mut frames = FrameReader::new(Box::pin(rx));
        let mut got = Vec::new();
        let mut dropped = 0;
        loop {
            tokio::select! {
                frame = frames.next() => match frame {
                    Some(frame) => got.push(frame),
                    None => break,
                },
                () = tokio::task::yield_now() => dropped += 1,
            }
        }
        assert!(dropped > 0, "no read was dropped: the test proves nothing");
        // Data arrives in the pieces the pipe had: joined, they are the same.
        let joined = join_data(got);
        assert_eq!(joined, join_data(expected()));
    }

    #[tokio::test]
    async fn a_line_too_long_for_a_header_is_noise() {
        let mut output = vec![b'{'; MAX_HEADER_LINE + 10];
        output.extend_from_slice(b"\n{\"ready\":true}\n");
        let mut frames = FrameReader::new(Box::pin(std::io::Cursor::new(output)));
        let Some(Frame::Noise(first)) = frames.next().await else {
            panic!("a long line is noise")
        };
        assert_eq!(first.len(), MAX_HEADER_LINE + 1);
        assert!(matches!(frames.next().await, Some(Frame::Noise(_))));
        assert_eq!(frames.next().await, Some(Frame::Ready));
        assert_eq!(frames.next().await, None);
    }

    /// Consecutive data frames of one call joined into one.
    fn join_data(frames: Vec<Frame>) -> Vec<Frame> {
        let mut out: Vec<Frame> = Vec::new();
        for frame in frames {
            if let (Some(Frame::Data { id: a, bytes }), Frame::Data { id: b, bytes: more }) =
                (out.last_mut(), &frame)
            {
                if a == b {
                    bytes.extend_from_slice(more);
                    continue;
                }
            }
            out.push(frame);
        }
        out
    }
}
