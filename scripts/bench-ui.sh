#!/usr/bin/env bash
# Benchmarks `tnet ui`'s own cost and prints the "tnet ui" section of
# docs/benchmarks.md: CPU and memory of the dashboard while 10 hosts × 100
# tasks publish events, with 1 and 10 pages following them, next to
# `tnet events` following the same events (the baseline).
#
#   scripts/bench-ui.sh                    # release build (the figures in docs/)
#   PROFILE=dev scripts/bench-ui.sh        # quicker to build, slower to run
#   SECONDS_PER_ROW=10 RATE=2000 scripts/bench-ui.sh
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")

cargo build --locked --profile "$profile" -p tnet-cli --bin tnet --example ui_bench >&2
"target/$dir/examples/ui_bench" --bin-dir "target/$dir" \
  --seconds "${SECONDS_PER_ROW:-20}" --rate "${RATE:-1000}"
