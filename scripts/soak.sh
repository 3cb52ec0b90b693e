#!/usr/bin/env bash
# The soak (issue 16, docs/reliability.md): one host under uploads, edits, a
# habit every second, service calls, a plain and a docker daemon, killed with
# SIGKILL at random instants N times (default 100) and started again; every
# promise checked after each restart. Prints the figures; exits non-zero on
# any violation.
#   scripts/soak.sh [CYCLES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-100}"
report="${TNET_SOAK_REPORT:-target/soak-report.txt}"
export TNET_SOAK_CYCLES="$cycles" TNET_SOAK_REPORT="$PWD/$report" CI="${CI:-true}"
if [ -n "${2:-}" ]; then export TNET_SOAK_SEED="$2"; fi
cargo build --workspace --bins --locked
cargo test --workspace --locked --test it -- --exact soak::a_host_killed_at_random_instants_keeps_every_promise --nocapture
cat "$report"
