#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, and end-to-end tests that start
# real tnet-host processes on loopback ports. Installs first what the tests
# need from outside cargo (scripts/test-deps.sh: as root it installs; otherwise
# it lists what to install), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-deps.sh
exec cargo test --workspace --locked "$@"
