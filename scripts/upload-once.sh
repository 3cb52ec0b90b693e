#!/usr/bin/env bash
# One `tnet run` of 1 GiB in 32 files against a fresh `--insecure` host on
# loopback, timed, with the host's and the client's CPU: how the "Upload"
# rows of docs/benchmarks.md were taken apart, one build against another.
#
#   scripts/upload-once.sh BIN_DIR [ROUNDS]   # BIN_DIR holds tnet and tnet-host
#   WRAP=eatmydata scripts/upload-once.sh BIN_DIR   # the host with no fsync (a bound)
#
# The disk is flushed before each upload, outside the clock. Files are made
# once in $WORK (default /tmp/tnet-upload-once) and kept for the next run.
set -euo pipefail
bin=$(cd "$1" && pwd)
rounds=${2:-3}
work=${WORK:-/tmp/tnet-upload-once}
src=$work/src
if [ ! -f "$src/big.toml" ]; then
  mkdir -p "$src/data"
  for i in $(seq -w 0 31); do head -c $((32 << 20)) /dev/urandom >"$src/data/part-$i.bin"; done
  printf '#!/bin/sh\nexec sleep 100000\n' >"$src/run.sh" && chmod +x "$src/run.sh"
  printf 'task_name = "big"\ntask_type = "daemon"\nnecessary_files = ["run.sh", "data"]\ncommands = ["./run.sh"]\nrun_in_docker = false\n' >"$src/big.toml"
fi
ticks=$(getconf CLK_TCK)
for _ in $(seq "$rounds"); do
  rm -rf "$work/home" "$work/cache" && mkdir -p "$work/home"
  port=$((20000 + RANDOM % 10000))
  ${WRAP:-} "$bin/tnet-host" --name bench --home "$work/home" --no-multicast-scouting \
    -l "tcp/127.0.0.1:$port" --insecure >"$work/host.log" 2>&1 &
  host=$!
  # The client's settings only: the next round's host must not dial this one.
  client=(env TNET_INSECURE=1 "TNET_CONNECT=tcp/127.0.0.1:$port" "XDG_CACHE_HOME=$work/cache")
  until "${client[@]}" "$bin/tnet" hosts >/dev/null 2>&1; do sleep 0.1; done
  # `eatmydata` runs the host as its child: its CPU is the child's.
  pid=$(pgrep -P "$host" tnet-host || echo "$host")
  cat "$src"/data/* >/dev/null
  sync
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  start=$(date +%s.%N)
  "${client[@]}" /usr/bin/time -f "%U %S" -o "$work/client.time" "$bin/tnet" run "$src/big.toml" >/dev/null 2>"$work/client.log"
  end=$(date +%s.%N)
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  read -r user sys <"$work/client.time"
  echo "wall $(echo "$end - $start" | bc | cut -c1-5) s, host CPU $(echo "($after - $before) / $ticks" | bc -l | cut -c1-4) s, client CPU $(echo "$user + $sys" | bc) s"
  kill "$host"; wait "$host" 2>/dev/null || true
done
