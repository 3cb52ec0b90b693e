#!/usr/bin/env bash
# Benchmarks uploading 1 GiB of task files with tnet, on the secure default
# (QUIC + mutual TLS, a fleet made for the run) and on --insecure, next to scp
# and rsync over Debian's OpenSSH on loopback (started here), and prints the
# "Upload" section of docs/benchmarks.md. Runs as root (sshd); installs openssh and
# rsync if they are missing. Needs about 4 GiB of free disk in $TMPDIR.
#
#   scripts/bench-upload.sh                   # 1 GiB in 32 files, 5 rounds
#   ROUNDS=3 MIB=256 scripts/bench-upload.sh  # quicker
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release -p tnet-host -p tnet-cli --bin tnet --bin tnet-host \
  --example transport_floor >&2

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v rsync >/dev/null || need+=(rsync)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2
fi

exec python3 scripts/bench-upload.py --bin-dir target/release \
  --rounds "${ROUNDS:-5}" --mib "${MIB:-1024}" --files "${FILES:-32}"
