//! The host's check of an uploaded file's path (`tnet_proto::upload::safe_relative_path`)
//! on any string.
//!
//! Asserts: an accepted path is relative, made of plain names only, stays in
//! the workspace and keeps every name sent; a refused one had a reason
//! (empty, NUL, absolute, `..`, or nothing but `.` and `/`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = std::str::from_utf8(data) {
        tnet_fuzz::check_upload_path(raw);
        tnet_fuzz::check_hash(raw);
        tnet_fuzz::check_safe_name(raw);
    }
});
