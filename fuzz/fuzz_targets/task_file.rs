//! The task-file parser on any text, as the host runs it on every submitted file.
//!
//! Asserts: no panic; a refused file has problems, each at a line and column
//! inside the text; an accepted file's spec, written back out by the
//! generator, parses to the same spec; its name makes a safe folder name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tnet_proto::task::{generate, parse_task};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_task("fuzz.toml", text) {
        Ok(spec) => {
            tnet_fuzz::check_safe_name(&spec.name);
            let written = generate(&spec, &[]);
            match parse_task("generated.toml", &written) {
                Ok(back) => assert_eq!(back, spec, "generated file:\n{written}"),
                Err(e) => {
                    panic!("the generator wrote a file the parser refuses:\n{e}\n---\n{written}")
                }
            }
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "refused without a problem");
            let lines = text.split('\n').count();
            for p in &e.problems {
                assert!(
                    p.line >= 1 && p.line <= lines && p.column >= 1,
                    "{p} is outside the text ({lines} lines)"
                );
            }
            let _ = e.to_string();
        }
    }
});
