#!/usr/bin/env bash
# Benchmarks a host's store holding a year of a 1 s habit's records and
# prints the "A year of records" section of docs/benchmarks.md: `tnet status`
# and `tnet ls` against a real host on a fresh store, on a store with
# 31.5 million runs of the habit (kept: `keep_runs` above that), while the
# host prunes them down to its default limit, and after; in process, what the
# status handler reads of the store, and what a habit run's records cost
# with pruning on. The store is filled through the store's own API
# (examples/store_bench.rs), a year in minutes.
#
#   scripts/bench-store.sh                  # release build, 31,536,000 runs (~4 GB of disk)
#   PROFILE=dev scripts/bench-store.sh      # quicker to build, slower to run
#   RUNS=1000000 ROUNDS=20 scripts/bench-store.sh
#   BENCH_DIR=/var/tmp scripts/bench-store.sh   # where the store goes
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
rounds=${ROUNDS:-30}
runs=${RUNS:-31536000}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")

cargo build --locked --profile "$profile" -p tnet-host -p tnet-cli \
  --bin tnet --bin tnet-host --example store_bench >&2
bin="$PWD/target/$dir"

work=$(mktemp -d "${BENCH_DIR:-/tmp}/tnet-bench-store.XXXXXX")
host_pid=
cleanup() {
  if [ -n "$host_pid" ]; then kill "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export TNET_FLEET="$work/fleet"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
home="$work/home"
db="$home/.tnet/host.sqlite3"
mkdir -p "$home/.tnet"
tnet() { TNET_IDENTITY="$TNET_FLEET/clients/admin" "$bin/tnet" -e "quic/127.0.0.1:$port" "$@"; }

start_host() {
  "$bin/tnet-host" --name bench --home "$home" -l "quic/127.0.0.1:$port" \
    --no-multicast-scouting 2>>"$work/host.log" &
  host_pid=$!
  for _ in $(seq 600); do
    tnet hosts --json 2>/dev/null | grep -q '"bench"' && return 0
    sleep 0.1
  done
  echo "the host did not answer; its log:" >&2; tail -20 "$work/host.log" >&2; exit 1
}
stop_host() { kill -TERM "$host_pid"; wait "$host_pid" || true; host_pid=; }

# Median and 90th percentile wall time of a tnet command, over $rounds runs.
time_cmd() {
  python3 - "$rounds" "$@" <<'PY'
import subprocess, sys, time
rounds, cmd = int(sys.argv[1]), sys.argv[2:]
samples = []
for _ in range(rounds):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    samples.append((time.perf_counter() - t) * 1000)
samples.sort()
print(f"{samples[len(samples)//2]:.0f} ms (p90 {samples[int(len(samples)*0.9)]:.0f} ms)")
PY
}

row() { # label, store note
  local status ls
  status=$(time_cmd env TNET_IDENTITY="$TNET_FLEET/clients/admin" "$bin/tnet" -e "quic/127.0.0.1:$port" status tick)
  ls=$(time_cmd env TNET_IDENTITY="$TNET_FLEET/clients/admin" "$bin/tnet" -e "quic/127.0.0.1:$port" ls)
  local kept
  kept=$(tnet status tick --json | python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print("{:,} runs, {:,} kept".format(t["runs"], t["kept"]))')
  echo "| $1 | $kept | $status | $ls |"
}

cat > "$work/tick.toml" <<'TOML'
task_name = "tick"
task_type = "habit"
commands = ["true"]

[habit_details]
time_between_runs = "1s"
TOML

echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m)), profile $profile, load average$(uptime | sed 's/.*load average://'); $rounds rounds each, secure default."
echo
echo "| store | runs of \`tick\` | \`tnet status tick\` median | \`tnet ls\` median |"
echo "|---|---|---|---|"

# 1. Fresh: the habit just submitted.
start_host
tnet run "$work/tick.toml" >/dev/null
sleep 3
row "fresh"
stop_host

# 2. A year of runs, all kept (the limit set above them).
printf '[retention]\nkeep_runs = 40000000\n' > "$home/.tnet/host.toml"
fill=$("$bin/examples/store_bench" fill "$db" tick "$runs")
q_full=$("$bin/examples/store_bench" query "$db" tick 1000)
start_host
row "a year, all kept ($(du -sh "$db" | cut -f1))"
stop_host

# 3. The same store under the default limit (5,000): the host prunes the
#    backlog in batches while it answers.
rm "$home/.tnet/host.toml"
: > "$work/host.log"
start_host
row "a year, while the host prunes it"
for _ in $(seq 36000); do grep -q "pruned .* old run record" "$work/host.log" && break; sleep 0.1; done
drained=$(grep -o "pruned [0-9]* old run record(s) in [0-9.]* s" "$work/host.log" | head -1)
row "a year, pruned to the default limit"
stop_host
q_pruned=$("$bin/examples/store_bench" query "$db" tick 1000)
steady=$("$bin/examples/store_bench" steady "$db" tick 2000)

echo
echo "- Fill: $fill."
echo "- Drain at the host's first sweep: $drained (the host answering all along, rows above)."
echo "- In process, what \`tnet status\` reads of the store (20 newest runs + counters): full store $q_full; pruned $q_pruned."
echo "- A habit run's records (start + finish through the ledger, each insert pruning past the limit): $steady; a 1 s habit needs one a second."
