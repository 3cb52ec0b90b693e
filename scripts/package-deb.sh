#!/usr/bin/env bash
# Builds tnet's Debian package with cargo-deb: `tnet` and `tnet-host` in
# /usr/bin, their man pages (made by clap_mangen from the same flags as
# --help), bash, zsh and fish completions, and the systemd unit
# (/usr/bin/tnet-host, not enabled: `systemctl enable --now tnet-host`).
#
#   scripts/package-deb.sh                      # a release build: the package to ship
#   PROFILE=dev NO_BUILD=1 scripts/package-deb.sh
#       # the debug binaries already built (what the suite's install test
#       # packages: a release build takes many minutes on two cores)
#   OUT=DIR scripts/package-deb.sh              # where the .deb goes (default <target>/debian)
#
# Prints the path of the package. Needs cargo-deb (scripts/test-deps.sh
# installs the pinned version), dpkg-dev and binutils (strip).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
target=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --locked --profile "$profile" -p tnet-cli -p tnet-host >&2
fi
bin="$target/$dir"

# Generated next to the binaries: cargo-deb reads assets under
# `target/release/` from the real target folder and profile.
gen="$bin/package"
rm -rf "$gen"
mkdir -p "$gen/man" "$gen/completions"
"$bin/tnet" manpages "$gen/man"
"$bin/tnet-host" manpages "$gen/man"
gzip -9n "$gen"/man/*.1
"$bin/tnet" completions bash >"$gen/completions/tnet"
"$bin/tnet" completions zsh >"$gen/completions/_tnet"
"$bin/tnet" completions fish >"$gen/completions/tnet.fish"
# The committed unit runs /usr/local/bin/tnet-host (where `cargo install`
# and scripts/install.sh put it); the package's binary is in /usr/bin.
"$bin/tnet-host" systemd print --binary /usr/bin/tnet-host >"$gen/tnet-host.service"

out=${OUT:-$target/debian}
mkdir -p "$out"
# --fast: lighter xz; the package is for installing, not for a mirror.
cargo deb -p tnet-cli --no-build --profile "$profile" --fast --output "$out" >&2
ls -t "$out"/tnet_*.deb | head -1
