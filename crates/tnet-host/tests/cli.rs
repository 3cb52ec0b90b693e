//! `tnet-host`'s own command line.
//!
//! (Also why `cargo test --workspace` builds the `tnet-host` binary that the
//! end-to-end tests in `tests/` drive.)

use std::process::Command;

#[test]
fn help_names_the_defaults_and_zenoh_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_tnet-host"))
        .arg("--help")
        .output()
        .expect("tnet-host runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    for needle in [
        "--name",
        "--home",
        "TNET_HOME",
        "7449",
        "--connect",
        "--listen",
        "--no-multicast-scouting",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[test]
fn a_bad_zenoh_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("zenoh.json5");
    std::fs::write(&cfg, "{ not json").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tnet-host"))
        .args(["--home"])
        .arg(dir.path().join("tasks"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("tnet-host runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zenoh.json5"), "{err}");
}
