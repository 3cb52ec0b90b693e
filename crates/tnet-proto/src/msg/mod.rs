//! Versioned request and response messages, and their codec.
//!
//! A control request is a Zenoh query on [`crate::keys::host_control`] whose
//! payload is a JSON [`RequestEnvelope`]; the host answers with one JSON
//! [`ResponseEnvelope`]. JSON keeps the protocol readable from any language
//! (a Python script can drive a host with no tnet code). File contents never
//! travel as JSON: they go as raw bytes in [`BlobChunk`] queries, and a
//! service call's input and output are raw bytes too (see [`service`]).

mod event;
mod files;
mod habit;
mod inbox;
mod progress;
mod request;
mod response;
mod retention;
pub mod service;

pub use event::{Event, EventKind};
pub use files::{BlobChunk, BlobChunkAck, FileEntry};
pub use habit::HabitRun;
pub use inbox::{Delivery, InboxEntry, InboxRequest};
pub use progress::Progress;
pub use request::{
    EditRequest, LogsRequest, MissingBlobsRequest, Request, RosterRequest, ShellExit, ShellRequest,
    ShellSize, SubmitRequest, TaskRef, UploadPlan, VerifyBlobRequest,
};
pub use response::{
    ErrorKind, ErrorReply, HostInfo, LogChunk, Response, RunRecord, SshInfo, TaskState, TaskStatus,
    TaskSummary,
};
pub use retention::{DiskUse, RunMark, RunTotals};
pub use service::{
    call_line, CallEnd, CallError, CallRequest, ResultMeta, ServiceInfo, ServiceInput, WarmStatus,
    WorkerState, WorkerStatus, RESULT_CHUNK, STDERR_TAIL,
};

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request with the protocol version of its sender.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// [`PROTOCOL_VERSION`] of the client.
    pub version: u32,
    /// What is asked.
    pub request: Request,
}

/// A response with the protocol version and name of the host that sent it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    /// [`PROTOCOL_VERSION`] of the host.
    pub version: u32,
    /// The host's name.
    pub host: String,
    /// The answer.
    pub response: Response,
}

/// A message that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed tnet message: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

impl RequestEnvelope {
    /// Wraps a request with this build's version.
    pub fn new(request: Request) -> Self {
        RequestEnvelope {
            version: PROTOCOL_VERSION,
            request,
        }
    }
}

/// Encodes any message of this module as the bytes sent on the wire.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    serde_json::to_vec(msg).expect("tnet messages are plain data and always serialize")
}

/// Decodes a message received from the network; never panics on hostile bytes.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    Ok(serde_json::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_the_wire() {
        let env = RequestEnvelope::new(Request::Stop(TaskRef {
            name: "Game Server".into(),
        }));
        let back: RequestEnvelope = decode(&encode(&env)).expect("decodes");
        assert!(matches!(back.request, Request::Stop(t) if t.name == "Game Server"));
    }

    #[test]
    fn every_response_encodes() {
        let summary = TaskSummary {
            host: "h".into(),
            name: "t".into(),
            task_type: "daemon".into(),
            state: TaskState::Running,
            pid: Some(1),
            restarts: 0,
            last_run: None,
            next_run: None,
            exit_code: None,
        };
        let responses = [
            Response::MissingBlobs {
                hashes: vec!["a".into()],
            },
            Response::BlobVerified,
            Response::Task(summary.clone()),
            Response::Tasks {
                tasks: vec![summary.clone()],
            },
            Response::Status(TaskStatus {
                summary,
                workspace: "/w".into(),
                runs: vec![],
                reason: None,
                task_toml: String::new(),
                files: vec![],
                totals: Some(RunTotals::default()),
            }),
            Response::Logs(LogChunk {
                text: "x".into(),
                seq: 1,
            }),
            Response::Removed { name: "t".into() },
            Response::Services { services: vec![] },
            Response::HostInfo(HostInfo {
                host: "h".into(),
                version: "0".into(),
                tasks: 1,
                bytes_received: 0,
                ssh: None,
                addresses: vec!["tcp/10.0.0.7:7449".into()],
                docker: true,
                insecure: false,
                roster_version: Some(1),
                disk: Some(DiskUse::default()),
            }),
            Response::Error(ErrorReply::new(ErrorKind::UnknownTask, "no")),
        ];
        for r in responses {
            let env = ResponseEnvelope {
                version: PROTOCOL_VERSION,
                host: "h".into(),
                response: r,
            };
            let back: ResponseEnvelope = decode(&encode(&env)).expect("round trip");
            assert_eq!(encode(&back), encode(&env));
        }
    }

    #[test]
    fn host_info_of_an_older_host_still_decodes() {
        // As a host from before `addresses` and `docker` answered.
        let old = br#"{"version":1,"host":"h","response":{"kind":"host_info","body":
            {"host":"h","version":"0.1.0","tasks":2,"bytes_received":0,"ssh":null}}}"#;
        let env: ResponseEnvelope = decode(old).expect("decodes");
        let Response::HostInfo(info) = env.response else {
            panic!("not host info: {env:?}");
        };
        assert!(info.addresses.is_empty());
        assert!(!info.docker);
        assert!(info.disk.is_none());
    }

    #[test]
    fn an_error_kind_from_a_newer_host_still_decodes() {
        let newer = br#"{"version":1,"host":"h","response":{"kind":"error","body":
            {"kind":"something_new","message":"m"}}}"#;
        let env: ResponseEnvelope = decode(newer).expect("decodes");
        assert!(matches!(env.response, Response::Error(e) if e.kind == ErrorKind::Other));
        let limit = encode(&ErrorReply::new(ErrorKind::LimitExceeded, "x"));
        assert!(String::from_utf8_lossy(&limit).contains("limit_exceeded"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode::<RequestEnvelope>(b"\xff{not json").is_err());
        assert!(
            decode::<RequestEnvelope>(br#"{"version":1,"request":{"kind":"nope","body":{}}}"#)
                .is_err()
        );
    }
}
