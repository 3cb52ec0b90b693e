//! Every verb of `tnet` has a help text with an example.
//!
//! (Also why `cargo test --workspace` builds the `tnet` binary that the
//! end-to-end tests in `tests/` drive.)

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tnet"))
        .args(args)
        .arg("--help")
        .output()
        .expect("tnet runs");
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8(out.stdout).expect("utf8")
}

#[test]
fn every_verb_has_help_with_an_example() {
    let top = help(&[]);
    assert!(top.contains("Example"), "{top}");
    for verb in [
        "run",
        "edit",
        "events",
        "inbox",
        "shell",
        "ssh",
        "ls",
        "status",
        "logs",
        "stop",
        "start",
        "restart",
        "rm",
        "sub",
        "hosts",
        "completions",
        "call",
        "services",
    ] {
        assert!(top.contains(verb), "`tnet --help` does not list {verb}");
        let text = help(&[verb]);
        assert!(
            text.contains("Example:") && text.contains(&format!("tnet {verb}")),
            "`tnet {verb} --help`:\n{text}"
        );
    }
}

#[test]
fn zenoh_common_arguments_are_spelled_as_in_zenoh() {
    let top = help(&[]);
    for flag in [
        "--config",
        "--connect",
        "--listen",
        "--mode",
        "--no-multicast-scouting",
    ] {
        assert!(top.contains(flag), "missing {flag}");
    }
}
