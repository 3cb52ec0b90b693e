//! A service call's attachment (`CallRequest`, JSON) as the host decodes it,
//! and the same bytes as the reply metadata and error a caller decodes.
//!
//! Asserts: no panic; whatever decodes re-encodes to an equal value; the
//! arguments survive the `TNET_ARGS` JSON the commands receive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tnet_fuzz::check_reencodes;
use tnet_proto::msg::{self, CallError, CallRequest, ResultMeta};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = msg::decode::<CallRequest>(data) {
        let back: CallRequest = msg::decode(&msg::encode(&request)).expect("re-decodes");
        assert_eq!(back, request);
        let args = serde_json::to_string(&request.args).expect("strings serialize");
        let args_back: Vec<String> = serde_json::from_str(&args).expect("TNET_ARGS decodes");
        assert_eq!(args_back, request.args);
    }
    if let Ok(meta) = msg::decode::<ResultMeta>(data) {
        check_reencodes(&meta);
        let back: ResultMeta = msg::decode(&msg::encode(&meta)).expect("re-decodes");
        assert_eq!(back, meta);
    }
    if let Ok(err) = msg::decode::<CallError>(data) {
        let back: CallError = msg::decode(&msg::encode(&err)).expect("re-decodes");
        assert_eq!(back, err);
    }
});
