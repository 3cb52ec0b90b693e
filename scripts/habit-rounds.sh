#!/usr/bin/env bash
# habit_bench in rounds, builds alternating, one line per run: how the
# "Habits" rows of docs/benchmarks.md compare one build with another.
#
#   scripts/habit-rounds.sh HABITS SECONDS ROUNDS [--secure] DIR...
#
# Each DIR holds a build's tnet-host and examples/habit_bench (copy them out
# of target/release). Each line: the floor's figure, then tnet's.
set -euo pipefail
habits=$1 seconds=$2 rounds=$3
shift 3
mode=
if [ "${1:-}" = --secure ]; then mode=--secure; shift; fi
# The column of a row of habit_bench's table: 3 the floor, 4 tnet.
col() { grep -F "| $1" | awk -F'|' -v c="$2" '{gsub(/^ +| +$/, "", $c); print $c}'; }
for round in $(seq "$rounds"); do
  for dir in "$@"; do
    out=$("$dir/examples/habit_bench" --habits "$habits" --seconds "$seconds" --warmup 5 $mode 2>&1)
    row() { echo "$(col "$1" 3 <<<"$out") | $(col "$1" 4 <<<"$out")"; }
    echo "$(date -u +%H:%M) round $round $dir ${mode:---insecure}:" \
      "slots $(row 'runs / slots')," \
      "CPU per run $(row 'CPU of the process per run') ms," \
      "command start p50/p99/max $(row 'command start lateness') ms," \
      "peak memory $(col 'peak memory' 4 <<<"$out")," \
      "giving the habits $(col 'giving it the habits' 4 <<<"$out") s"
  done
done
