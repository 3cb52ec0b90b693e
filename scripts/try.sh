#!/usr/bin/env bash
# Runs tnet on defaults: builds it, starts a host (name = hostname, tasks in
# ~/.tasks, port 7449, LAN discovery) and hands it the example daemon. The
# host keeps running (log: tnet-host.log, pid: tnet-host.pid); stop it with
# `kill $(cat tnet-host.pid)`.
#
# Works with any target folder: it asks cargo where it builds
# (CARGO_TARGET_DIR, build.target-dir of a cargo config, or ./target).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -p tnet-host -p tnet-cli
target=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target/debug"
if ! "$bin/tnet" hosts >/dev/null 2>&1; then
  nohup "$bin/tnet-host" >tnet-host.log 2>&1 &
  echo $! >tnet-host.pid
  echo "started tnet-host (pid $!, log in tnet-host.log; stop it with: kill \$(cat tnet-host.pid))"
  for _ in $(seq 50); do "$bin/tnet" hosts >/dev/null 2>&1 && break; sleep 0.2; done
fi
"$bin/tnet" hosts
"$bin/tnet" run examples/hello-daemon.toml || true
sleep 2
"$bin/tnet" ls
"$bin/tnet" logs hello
echo
echo "follow it with: $bin/tnet logs -f hello    remove it with: $bin/tnet rm hello"
echo "put tnet and tnet-host on your PATH: scripts/install.sh (docs/install.md)"
