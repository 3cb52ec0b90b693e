#!/usr/bin/env python3
"""Times the verbs that ask every host, on a fleet of N hosts, run by
scripts/bench-fleet.sh inside the client's network namespace.

Each round runs every measurement once, one after the other, so load on the
machine falls on all alike; each is a fresh `tnet` process, as a user types it:

- `tnet hosts --json`: complete when it lists all N hosts;
- `tnet ls --json`: complete when it lists a task of each of the N hosts;
- `tnet call upper --input -`: a service present on one host; complete when
  the answer comes back right;
- `tnet sub --json --last 1 tick`: a habit present on every host; the time
  until the last run of each of the N hosts is printed (complete when all N
  are), then the process is ended.

Prints one JSON object: for each verb, a list of [seconds, complete].
"""

import argparse
import json
import os
import select
import signal
import subprocess
import time

LIMIT_S = 60.0


def timed(cmd, check, stdin=b""):
    started = time.perf_counter()
    try:
        out = subprocess.run(cmd, input=stdin, capture_output=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        return [time.perf_counter() - started, False]
    took = time.perf_counter() - started
    try:
        ok = out.returncode == 0 and check(out.stdout)
    except (ValueError, KeyError, TypeError):
        ok = False
    return [took, ok]


def hosts_of(stdout):
    return {h["host"] for h in json.loads(stdout)}


def time_sub(tnet, n):
    """Seconds until `tnet sub --last 1` printed a run of each of `n` hosts."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [tnet, "sub", "--json", "--last", "1", "tick"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    seen = set()
    buf = b""
    took = None
    try:
        while time.perf_counter() - started < LIMIT_S:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    seen.add(json.loads(line)["host"])
                except (ValueError, KeyError):
                    pass
            if len(seen) >= n:
                took = time.perf_counter() - started
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if took is None:
        return [time.perf_counter() - started, False]
    return [took, True]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tnet", required=True)
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n, tnet = args.hosts, args.tnet
    result = {"hosts": [], "ls": [], "call": [], "sub": []}
    for _ in range(args.runs):
        result["hosts"].append(
            timed([tnet, "hosts", "--json"], lambda out: len(hosts_of(out)) == n)
        )
        result["ls"].append(
            timed([tnet, "ls", "--json"], lambda out: len(hosts_of(out)) == n)
        )
        result["call"].append(
            timed(
                [tnet, "call", "upper", "--input", "-"],
                lambda out: out == b"FLEET",
                stdin=b"fleet",
            )
        )
        result["sub"].append(time_sub(tnet, n))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
