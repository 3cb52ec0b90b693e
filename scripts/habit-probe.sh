#!/usr/bin/env bash
# Who wakes a 100-habit host's threads and where its CPU goes, next to the
# floor's, in two habit_bench runs (docs/benchmarks.md, "Habits", "fifth
# stop"). Needs perf and root.
#
#   scripts/habit-probe.sh DIR [--secure]     (DIR as for habit-rounds.sh)
#
# Prints each side's wake-ups by what woke them (kernel frames under
# try_to_wake_up) and each side's CPU by system call or crate, per run.
set -euo pipefail
dir=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
runs_in() { echo $(( $1 * 100 )); } # 100 habits at 1 s: runs in N seconds

# Starts habit_bench; sets fpid (the floor's process) once it runs.
start_bench() {
  "$dir/examples/habit_bench" --habits 100 --seconds 20 --warmup 5 "$@" >"$out/bench.txt" 2>&1 &
  bench=$!
  fpid=
  for _ in $(seq 100); do fpid=$(pgrep -f "habit_bench.*--floor" | head -1 || true); [ -n "$fpid" ] && break; sleep 0.2; done
  [ -n "$fpid" ] || { echo "the floor did not start" >&2; exit 1; }
}
# Sets hpid (the host habit_bench started) once it runs.
find_host() {
  hpid=
  for _ in $(seq 300); do hpid=$(pgrep -x tnet-host -P "$bench" | head -1 || true); [ -n "$hpid" ] && break; sleep 0.2; done
  [ -n "$hpid" ] || { echo "the host did not start" >&2; exit 1; }
}

start_bench "$@"
sleep 10
ftids=$(ls "/proc/$fpid/task")
perf record -q -e sched:sched_wakeup -a -g -o "$out/floor-wake.data" -- sleep 6 2>/dev/null
find_host
sleep 12
ltids=$(for t in /proc/$hpid/task/*; do case $(cat "$t/comm") in tnet-habits*) echo "${t##*/}";; esac; done)
htids=$(ls "/proc/$hpid/task")
perf record -q -e sched:sched_wakeup -a -g -o "$out/host-wake.data" -- sleep 6 2>/dev/null
wait "$bench"
echo "== wake-ups: the floor's threads"
perf script -i "$out/floor-wake.data" 2>/dev/null | "$here/perf-wakers.py" "$(runs_in 6)" $ftids
echo "== wake-ups: the host's habit lanes"
perf script -i "$out/host-wake.data" 2>/dev/null | "$here/perf-wakers.py" "$(runs_in 6)" $ltids
echo "== wake-ups: all the host's threads"
perf script -i "$out/host-wake.data" 2>/dev/null | "$here/perf-wakers.py" "$(runs_in 6)" $htids
grep -E "runs / slots|per run" "$out/bench.txt"

start_bench "$@"
sleep 10
perf record -q -F 4999 -g -p "$fpid" -o "$out/floor-cpu.data" -- sleep 8 2>/dev/null
find_host
sleep 12
perf record -q -F 4999 -g -p "$hpid" -o "$out/host-cpu.data" -- sleep 8 2>/dev/null
wait "$bench"
echo "== CPU: the floor's process"
perf script -i "$out/floor-cpu.data" -F comm,pid,tid,ip,sym 2>/dev/null | "$here/perf-syscalls.py" 4999 "$(runs_in 8)" "$fpid"
echo "== CPU: the host's process"
perf script -i "$out/host-cpu.data" -F comm,pid,tid,ip,sym 2>/dev/null | "$here/perf-syscalls.py" 4999 "$(runs_in 8)" "$hpid"
grep -E "runs / slots|per run" "$out/bench.txt"
