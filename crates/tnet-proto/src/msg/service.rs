//! Service calls (SPEC 6): what a call carries, how its result streams back,
//! and how a service describes itself.
//!
//! A call is a Zenoh query on [`crate::keys::service`]:
//!
//! - **payload**: the input bytes (may be empty);
//! - **attachment** (optional): a JSON [`CallRequest`] with the arguments,
//!   a time limit and the caller's id. A query with no attachment is a call
//!   with no arguments and the service's own time limit, so any Zenoh client
//!   can call a service with a plain `get`.
//!
//! The host answers on the service's own concrete key with:
//!
//! - zero or more **data replies**: payload up to [`RESULT_CHUNK`] bytes of
//!   standard output, attachment `{"seq": n}` counting from 0;
//! - one **final reply**: the rest of the output (possibly empty) with
//!   attachment `{"seq": n, "end": {...}}` ([`CallEnd`]): exit code, stderr tail;
//! - or, instead of the final reply, an **error reply** whose payload is a
//!   JSON [`CallError`] (`kind` is `timeout`, `command_failed`, ...). Zenoh's
//!   own timeout is an error whose payload is the bare string `Timeout`,
//!   which is not JSON, so the two are never confused.

use serde::{Deserialize, Serialize};

use super::{ErrorKind, TaskState};
use crate::task::{InputKind, ServiceArgument, ServiceDetails};

/// Most bytes of standard output in one reply: big enough to stream at full
/// speed, small enough that a large result never sits whole in memory.
pub const RESULT_CHUNK: usize = 1 << 20;

/// Most bytes of standard error sent back with a result (its end).
pub const STDERR_TAIL: usize = 8 << 10;

/// The attachment of a call query. Every field may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRequest {
    /// Arguments for the commands: their positional parameters (`"$@"`, `$1`...)
    /// and, as a JSON list, the `TNET_ARGS` environment variable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The call's time limit in milliseconds, instead of the service's `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The caller's Zenoh session id. A caller that also declares the
    /// liveliness token [`crate::keys::caller`] of that id gets its call
    /// cancelled (processes killed) when it goes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
}

/// The attachment of each reply carrying output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultMeta {
    /// 0 for the first reply of a call, counting up: a gap means lost output.
    pub seq: u64,
    /// Present on the last reply only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<CallEnd>,
}

/// How a call's commands ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEnd {
    /// The exit code of the last command run; `None` when it was killed by a signal.
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// The end of standard error (at most [`STDERR_TAIL`] bytes, lossy UTF-8).
    pub stderr_tail: String,
    /// Bytes of standard output sent in all replies of the call.
    pub bytes: u64,
    /// From the call's arrival to its end, waiting included.
    pub duration_ms: u64,
}

impl CallEnd {
    /// Whether the commands exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The payload of a call's error reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    /// What went wrong, for scripts: `timeout`, `command_failed`,
    /// `cancelled`, `bad_request`, `host_failure`.
    pub kind: ErrorKind,
    /// What went wrong, for people.
    pub message: String,
    /// How the commands ended, when they ran (`command_failed`, `timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<CallEnd>,
}

impl CallError {
    /// An error with no command outcome.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            message: message.into(),
            end: None,
        }
    }
}

/// `tnet services`: a service and how to call it (SPEC 6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The host offering it.
    pub host: String,
    /// The task's name as written.
    pub name: String,
    /// `ready` when it takes calls.
    pub state: TaskState,
    /// The key expression to query.
    pub key: String,
    /// What it does; may be empty.
    pub description: String,
    /// What a caller sends.
    pub input: ServiceInput,
    /// The arguments it understands, in order.
    pub arguments: Vec<ServiceArgument>,
    /// A ready-to-paste `tnet call` line: the author's example, or one made
    /// from the input and arguments.
    pub call: String,
    /// The time limit of a call unless the caller asks for another.
    pub timeout_ms: u64,
    /// Calls that run at once.
    pub max_concurrent_calls: u32,
    /// Whether a non-zero exit is a failed call (SPEC 6.2).
    pub fail_is_command_fail: bool,
    /// Calls whose commands run now.
    #[serde(default)]
    pub calls_running: u32,
    /// Calls waiting for a turn now (beyond `max_concurrent_calls`).
    #[serde(default)]
    pub calls_waiting: u32,
    /// For a warm service, its workers now; absent for a cold one (and from
    /// hosts older than warm services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm: Option<WarmStatus>,
}

/// A warm service's workers (`tnet services`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmStatus {
    /// One entry per worker the service keeps, in order.
    pub workers: Vec<WorkerStatus>,
}

/// One worker of a warm service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// Where it is in its life.
    pub state: WorkerState,
    /// Its process id on the host, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// How many times it was started again (after a crash, or after a call
    /// that ran out of time or lost its caller killed it).
    pub restarts: u32,
    /// Calls it answered since the service started.
    pub calls: u64,
}

/// Where a warm service's worker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Started, not yet `{"ready": true}`.
    Starting,
    /// Waiting for a call.
    Ready,
    /// Answering a call.
    Busy,
    /// Exited on its own; started again after a pause that grows while it keeps crashing.
    Backoff,
    /// The service is not running.
    Stopped,
    /// Exited too often in a row, each time soon after it started (the
    /// task's `[daemon_details]` policy); not started again until `tnet start`.
    Crashloop,
    /// A state from a newer host.
    #[serde(other)]
    Other,
}

impl WorkerState {
    /// The spelling on the wire and in `tnet services`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Starting => "starting",
            WorkerState::Ready => "ready",
            WorkerState::Busy => "busy",
            WorkerState::Backoff => "backoff",
            WorkerState::Stopped => "stopped",
            WorkerState::Crashloop => "crashloop",
            WorkerState::Other => "other",
        }
    }
}

/// What a service takes as input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInput {
    /// `none`, `text` or `file`.
    pub kind: InputKind,
    /// Its media type, when the author gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

impl ServiceInfo {
    /// Describes the service `name` (its safe name `safe`) of `host` from its details.
    pub fn new(
        host: &str,
        name: &str,
        safe: &str,
        state: TaskState,
        details: &ServiceDetails,
    ) -> Self {
        ServiceInfo {
            host: host.to_owned(),
            name: name.to_owned(),
            state,
            key: crate::keys::service(host, safe),
            description: details.description.clone(),
            input: ServiceInput {
                kind: details.input,
                media_type: details.input_media_type.clone(),
            },
            arguments: details.arguments.clone(),
            call: details
                .example
                .clone()
                .unwrap_or_else(|| call_line(safe, details)),
            timeout_ms: u64::try_from(details.timeout.as_millis()).unwrap_or(u64::MAX),
            max_concurrent_calls: details.max_concurrent_calls,
            fail_is_command_fail: details.service_fail_is_command_fail,
            calls_running: 0,
            calls_waiting: 0,
            warm: details.warm.then(WarmStatus::default),
        }
    }
}

/// A `tnet call` line for a service whose author wrote no example: the input
/// it takes and its arguments, as placeholders.
pub fn call_line(safe_name: &str, details: &ServiceDetails) -> String {
    let mut line = match details.input {
        InputKind::None => format!("tnet call {safe_name}"),
        InputKind::Text => format!("echo 'some text' | tnet call {safe_name} --input -"),
        InputKind::File => {
            let file = match details.input_media_type.as_deref().and_then(extension) {
                Some(ext) => format!("FILE.{ext}"),
                None => "FILE".to_owned(),
            };
            format!("tnet call {safe_name} --input {file}")
        }
    };
    if !details.arguments.is_empty() {
        line.push_str(" --");
        for arg in &details.arguments {
            line.push(' ');
            if arg.name.starts_with('-') {
                line.push_str(&arg.name);
            } else {
                line.push_str(&format!("<{}>", arg.name));
            }
        }
    }
    line
}

/// A file extension for a media type, for the placeholder file name (`image/png` → `png`).
fn extension(media_type: &str) -> Option<&str> {
    let essence = media_type.split(';').next()?.trim();
    let sub = essence.split_once('/')?.1;
    // `svg+xml` → `svg`; `vnd.ms-excel` is better left as FILE.
    let sub = sub.split('+').next()?;
    (!sub.contains('.') && !sub.is_empty()).then_some(sub)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{decode, encode};

    #[test]
    fn an_empty_attachment_is_a_plain_call() {
        let req: CallRequest = decode(b"{}").expect("decodes");
        assert_eq!(req, CallRequest::default());
        assert_eq!(encode(&CallRequest::default()), b"{}");
        // Fields a newer client adds are ignored, not an error.
        let req: CallRequest = decode(br#"{"args":["a"],"future":1}"#).expect("decodes");
        assert_eq!(req.args, ["a"]);
    }

    #[test]
    fn result_meta_carries_the_end_only_on_the_last_reply() {
        let data = ResultMeta { seq: 3, end: None };
        assert_eq!(encode(&data), br#"{"seq":3}"#);
        let end = ResultMeta {
            seq: 4,
            end: Some(CallEnd {
                exit_code: Some(3),
                signal: None,
                stderr_tail: "oops\n".into(),
                bytes: 10,
                duration_ms: 7,
            }),
        };
        let back: ResultMeta = decode(&encode(&end)).expect("round trip");
        assert_eq!(back, end);
    }

    #[test]
    fn warm_status_is_optional_both_ways() {
        let cold = ServiceInfo::new("h", "c", "c", TaskState::Ready, &ServiceDetails::default());
        let text = String::from_utf8(encode(&cold)).expect("utf8");
        assert!(
            !text.contains("warm"),
            "an old client sees nothing new: {text}"
        );
        // What an older host sends has no `warm`.
        let back: ServiceInfo = decode(text.as_bytes()).expect("decodes");
        assert_eq!(back.warm, None);
        let mut warm = ServiceInfo::new(
            "h",
            "w",
            "w",
            TaskState::Ready,
            &ServiceDetails {
                warm: true,
                ..ServiceDetails::default()
            },
        );
        warm.warm = Some(WarmStatus {
            workers: vec![WorkerStatus {
                state: WorkerState::Busy,
                pid: Some(4),
                restarts: 1,
                calls: 9,
            }],
        });
        let back: ServiceInfo = decode(&encode(&warm)).expect("round trip");
        assert_eq!(back, warm);
        let newer: WorkerStatus =
            decode(br#"{"state":"hibernating","restarts":0,"calls":0}"#).expect("decodes");
        assert_eq!(newer.state, WorkerState::Other);
    }

    #[test]
    fn a_call_error_is_json_and_never_zenohs_timeout() {
        let err = CallError::new(ErrorKind::Timeout, "ran past 1s");
        let bytes = encode(&err);
        assert!(bytes.starts_with(br#"{"kind":"timeout""#), "{bytes:?}");
        assert!(decode::<CallError>(b"Timeout").is_err());
    }

    #[test]
    fn call_lines_show_input_and_arguments() {
        let mut d = ServiceDetails::default();
        assert_eq!(
            call_line("upper", &d),
            "echo 'some text' | tnet call upper --input -"
        );
        d.input = InputKind::File;
        d.input_media_type = Some("image/png".into());
        d.arguments = vec![
            ServiceArgument {
                name: "top".into(),
                help: String::new(),
            },
            ServiceArgument {
                name: "--verbose".into(),
                help: String::new(),
            },
        ];
        assert_eq!(
            call_line("classify", &d),
            "tnet call classify --input FILE.png -- <top> --verbose"
        );
        d.input = InputKind::None;
        d.arguments.clear();
        assert_eq!(call_line("now", &d), "tnet call now");
        d.example = Some("tnet call now -- utc".into());
        let info = ServiceInfo::new("h", "now", "now", TaskState::Ready, &d);
        assert_eq!(info.call, "tnet call now -- utc");
        assert_eq!(info.key, "tnet/h/service/now");
    }
}
