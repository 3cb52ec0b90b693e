//! A control request (`tnet/<host>/ctl` query payload) as the host decodes it.
//!
//! Asserts: no panic; a decoded envelope re-encodes stably; every file path
//! and hash it carries goes through the host's own checks, which never accept
//! a path that leaves the workspace or a hash that is not one file name; a
//! task file it carries goes through the parser without a panic; a shell
//! session id the host accepts (a UUID) holds no key-expression specials.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tnet_fuzz::{check_hash, check_reencodes, check_upload_path};
use tnet_proto::msg::{self, Request, RequestEnvelope};
use tnet_proto::task::parse_task;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = msg::decode::<RequestEnvelope>(data) else {
        return;
    };
    check_reencodes(&envelope);
    match &envelope.request {
        Request::MissingBlobs(req) => req.hashes.iter().for_each(|h| check_hash(h)),
        Request::VerifyBlob(req) => check_hash(&req.hash),
        Request::Submit(req) => {
            let _ = parse_task(&req.file_name, &req.task_toml);
            for file in &req.files {
                check_upload_path(&file.path);
                check_hash(&file.hash);
            }
        }
        Request::Edit(req) => {
            let _ = parse_task(&req.file_name, &req.task_toml);
            for file in &req.files {
                check_upload_path(&file.path);
                check_hash(&file.hash);
            }
        }
        Request::OpenShell(req) => {
            // The host's check (handlers/shell.rs) before the id names keys.
            if uuid::Uuid::parse_str(&req.session).is_ok() {
                assert!(
                    !req.session.contains(['/', '*', '$', '?', '#']),
                    "{:?} would break the session's keys",
                    req.session
                );
            }
        }
        _ => {}
    }
});
