#!/usr/bin/env python3
"""Where a host's CPU goes, by part: reads `perf script -F comm,ip,sym` of a
recording with call chains and counts each sample in the first bucket below
(in this order) that any frame of its stack belongs to. The commands' own
samples (`date`, `sh`) are left out. With the host's CPU per run (from
habit_bench) as the argument, each bucket is given in ms per run too.

    perf record -F 1000 --call-graph dwarf,16384 -o perf.data -p HOST -- sleep 8
    perf script -i perf.data -F comm,ip,sym | scripts/perf-buckets.py 0.39
"""
import collections
import sys

BUCKETS = [
    ("ledger thread (SQLite, commits)", ["store::ledger", "sqlite3"]),
    ("spawning the command", ["Runner>::spawn", "Command>::spawn", "process::command"]),
    ("pump tasks", ["runner::process::pump"]),
    ("tee", ["capture_stdout"]),
    ("log writer", ["publish_output"]),
    ("event", ["emit_because"]),
    ("publication", ["habit_publisher"]),
    ("the run's end", ["finish_habit_run"]),
    ("the run's own code", ["habit_run", "habit_loop", "drive_habit"]),
    ("Zenoh's transmit and receive", ["zenoh_transport", "zenoh_link"]),
    ("Zenoh, other", ["zenoh"]),
    ("Tokio parking and waking", ["park_internal", "park_timeout", "Driver::park", "Parker"]),
    ("Tokio, other", ["tokio::"]),
]
COMMANDS = {"date", "sh"}


def bucket(frames):
    for name, patterns in BUCKETS:
        if any(p in f for f in frames for p in patterns):
            return name
    return "the rest"


def main():
    per_run = float(sys.argv[1]) if len(sys.argv) > 1 else None
    counts = collections.Counter()
    comm, frames = None, []

    def flush():
        if comm is not None and comm not in COMMANDS:
            counts[bucket(frames)] += 1

    for line in sys.stdin:
        if not line.strip():
            flush()
            comm, frames = None, []
        elif not line.startswith((" ", "\t")):
            flush()
            comm, frames = line.split()[0], []
        else:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                frames.append(parts[1])
    flush()
    total = sum(counts.values()) or 1
    for name, n in counts.most_common():
        ms = f"  {per_run * n / total:.3f} ms/run" if per_run else ""
        print(f"{name:34s} {n:6d} {100 * n / total:5.1f}%{ms}")


main()
