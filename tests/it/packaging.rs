//! Installing tnet from its Debian package (docs/install.md).
//!
//! `scripts/package-deb.sh` packages the debug binaries this test run has
//! already built (`PROFILE=dev NO_BUILD=1`: a release build would cost many
//! minutes on two cores; the package's layout is the same), and `dpkg -i`
//! installs it in a clean Debian 12 container: the image the Docker tests
//! make with debootstrap, no registry, no network.

use std::path::Path;
use std::process::Command;

use tnet_tests::{require, run_bounded, Output};

use crate::docker::{debian_image, require_engine, DEBIAN};

/// Packaging strips and compresses two debug binaries: more than a command's usual limit.
const PACKAGING_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// The files the package puts in place besides the binaries.
const INSTALLED: [&str; 8] = [
    "/usr/share/man/man1/tnet.1.gz",
    "/usr/share/man/man1/tnet-run.1.gz",
    "/usr/share/man/man1/tnet-host.1.gz",
    "/usr/share/man/man1/tnet-host-systemd-install.1.gz",
    "/usr/share/bash-completion/completions/tnet",
    "/usr/share/zsh/vendor-completions/_tnet",
    "/usr/share/fish/vendor_completions.d/tnet.fish",
    "/lib/systemd/system/tnet-host.service",
];

fn cargo_deb_present() -> bool {
    Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `script` in a fresh container of the Debian image with `dir` at /pkg.
fn in_debian(dir: &Path, script: &str) -> Output {
    let mut cmd = Command::new("docker");
    cmd.args(["run", "--rm", "--network", "none", "-v"])
        .arg(format!("{}:/pkg:ro", dir.display()))
        .args([DEBIAN, "sh", "-c", script]);
    run_bounded(cmd, b"", PACKAGING_LIMIT)
}

#[test]
fn the_debian_package_installs_both_binaries_man_pages_completions_and_the_unit() {
    require_engine();
    require(
        cargo_deb_present(),
        "cargo-deb (`cargo install cargo-deb --version 3.8.0 --locked`)",
    );
    debian_image();
    let out_dir = tempfile::tempdir().expect("a folder for the package");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/package-deb.sh");
    let mut cmd = Command::new(&script);
    cmd.env("PROFILE", "dev")
        .env("NO_BUILD", "1")
        .env("OUT", out_dir.path());
    let built = run_bounded(cmd, b"", PACKAGING_LIMIT);
    assert!(built.success, "scripts/package-deb.sh failed: {built:?}");
    let deb = Path::new(built.stdout.trim());
    assert!(
        deb.starts_with(out_dir.path()) && deb.exists(),
        "the script prints the package's path: {built:?}"
    );
    let name = deb.file_name().expect("a file").to_string_lossy();
    assert!(name.starts_with("tnet_"), "{name}");

    // Nothing of tnet is in the image before; after dpkg -i both binaries run.
    let checks: String = INSTALLED
        .iter()
        .map(|f| format!("test -s {f} || {{ echo missing {f}; exit 1; }}; "))
        .collect();
    let out = in_debian(
        out_dir.path(),
        &format!(
            "set -e; if command -v tnet; then echo tnet is in the image already; exit 1; fi; dpkg -i /pkg/{name} >/dev/null; \
             tnet --version; tnet-host --version; command -v tnet; command -v tnet-host; {checks} \
             dpkg -s tnet | grep '^Status:'; \
             zcat /usr/share/man/man1/tnet.1.gz | grep -m1 '^.TH'; \
             grep -m1 '^ExecStart=' /lib/systemd/system/tnet-host.service; \
             grep -c _tnet /usr/share/bash-completion/completions/tnet"
        ),
    );
    assert!(out.success, "install in a clean Debian container: {out:?}");
    let version = env!("CARGO_PKG_VERSION");
    for line in [
        format!("tnet {version}"),
        format!("tnet-host {version}"),
        "/usr/bin/tnet".to_owned(),
        "/usr/bin/tnet-host".to_owned(),
        "Status: install ok installed".to_owned(),
        "ExecStart=/usr/bin/tnet-host".to_owned(),
    ] {
        assert!(
            out.stdout.lines().any(|l| l.trim() == line),
            "expected the line `{line}`: {out:?}"
        );
    }
    assert!(out.stdout.contains(".TH tnet 1"), "{out:?}");
}
