//! The protocol between a host and a warm service's worker (`docs/services.md`,
//! "Warm services"): framed lines on the worker's standard input and output,
//! simple enough to speak in a few lines of any language.
//!
//! - The worker starts, loads what it needs, and writes the line
//!   `{"ready": true}` on standard output. Until then it gets no call.
//! - For each call the host writes **one line** of JSON on the worker's
//!   standard input ([`CallFrame`]): the call's id, its arguments, and the
//!   path of a file holding the input (in the call's own folder, deleted
//!   after the call). Input never travels on the pipe, so any size the host
//!   accepts works, and a worker that wants a file has one.
//! - The worker answers on standard output with a header line of JSON
//!   ([`ReplyHeader`]) `{"id": 7, "len": 5}` followed by exactly `len` bytes
//!   of result. `"more": true` says another frame of the same call follows
//!   (a large result in pieces); the frame without it ends the call, and may
//!   carry `"exit_code"` (default 0) and `"stderr"` (a note for the caller).
//! - Standard error goes to the task's log, as for every command.
//!
//! A line on standard output that is not a frame (a library's banner) is
//! logged and skipped, so a worker is not killed for a stray `print`.

use serde::{Deserialize, Serialize};

/// The longest header line read from a worker; a longer line is not a frame.
pub const MAX_HEADER_LINE: usize = 64 << 10;

/// One call, as the host writes it to a worker (one line of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFrame {
    /// The call's number on this worker; the reply names it.
    pub id: u64,
    /// The caller's arguments (as `TNET_ARGS` for cold services).
    pub args: Vec<String>,
    /// A file holding the call's input bytes (possibly empty).
    pub input: String,
    /// The input's size in bytes.
    pub input_len: u64,
    /// The call's own folder, for scratch files; deleted after the call.
    pub call_dir: String,
    /// Milliseconds left before the call's time limit, when the worker is
    /// killed and restarted.
    pub timeout_ms: u64,
}

impl CallFrame {
    /// The frame as written to the worker: JSON and a newline.
    pub fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// The header line of a reply frame from a worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyHeader {
    /// The id of the call it answers.
    pub id: u64,
    /// Bytes of result that follow the line.
    #[serde(default)]
    pub len: u64,
    /// Another frame of the same call follows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    /// The call's exit code, on its last frame (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// A note for the caller, returned as the call's standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
}

/// What one line from a worker's standard output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerLine {
    /// `{"ready": true}`: it takes calls from now on.
    Ready,
    /// A reply frame's header; `len` bytes follow.
    Reply(ReplyHeader),
    /// Anything else: logged and skipped.
    NotAFrame,
}

/// Reads one line a worker wrote (without its newline).
pub fn parse_line(line: &[u8]) -> WorkerLine {
    #[derive(Deserialize)]
    struct Ready {
        ready: bool,
    }
    let trimmed = line.trim_ascii();
    if !trimmed.starts_with(b"{") {
        return WorkerLine::NotAFrame;
    }
    if let Ok(Ready { ready: true }) = serde_json::from_slice(trimmed) {
        return WorkerLine::Ready;
    }
    match serde_json::from_slice::<ReplyHeader>(trimmed) {
        Ok(header) => WorkerLine::Reply(header),
        Err(_) => WorkerLine::NotAFrame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_replies_and_noise_are_told_apart() {
        assert_eq!(parse_line(br#"{"ready": true}"#), WorkerLine::Ready);
        assert_eq!(parse_line(b" {\"ready\":true} \r"), WorkerLine::Ready);
        assert_eq!(
            parse_line(br#"{"id": 7, "len": 5}"#),
            WorkerLine::Reply(ReplyHeader {
                id: 7,
                len: 5,
                ..ReplyHeader::default()
            })
        );
        let last = parse_line(br#"{"id":1,"len":0,"exit_code":3,"stderr":"bad input"}"#);
        let WorkerLine::Reply(h) = last else {
            panic!("{last:?}")
        };
        assert_eq!(
            (h.exit_code, h.stderr.as_deref(), h.more),
            (Some(3), Some("bad input"), false)
        );
        for noise in [
            &b"Loading model..."[..],
            b"",
            b"{\"ready\": false}",
            b"{\"len\": 3}",
            b"{oops",
        ] {
            assert_eq!(parse_line(noise), WorkerLine::NotAFrame, "{noise:?}");
        }
    }

    #[test]
    fn a_call_frame_is_one_line() {
        let frame = CallFrame {
            id: 1,
            args: vec!["a\nb".into()],
            input: "/x/input".into(),
            input_len: 3,
            call_dir: "/x".into(),
            timeout_ms: 1000,
        };
        let line = frame.line();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        assert!(line.ends_with(b"\n"));
        let back: CallFrame = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(back, frame);
    }
}
