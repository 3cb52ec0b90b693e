#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, and end-to-end tests that start
# real tnet-host processes on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --locked "$@"
