#!/usr/bin/env python3
"""Times `tnet hosts` finding every host with no address configured, next to
what bare Zenoh takes for the parts of that work, run by
scripts/bench-hosts.sh inside the client's network namespace.

Each round runs every measurement once, one after the other, so load on the
machine falls on all alike:

- `tnet hosts --json`, a fresh process each time (what a user types), until
  it has printed every host;
- `tnet completions bash`, a fresh process that opens no session: what
  starting the command line costs;
- `zenoh.scout` in this process until every expected peer has said hello:
  the floor of finding who is there;
- a Zenoh session in this process, opened with scouting as tnet's is, until
  it holds every host's liveliness token: the floor of connecting to them
  and learning their names.

Prints one JSON object with every time.
"""

import argparse
import json
import subprocess
import sys
import threading
import time

import zenoh

LIMIT_S = 10.0


def time_tnet(tnet, hosts):
    """Seconds until `tnet hosts --json` ended, and whether it listed every host."""
    started = time.perf_counter()
    out = subprocess.run([tnet, "hosts", "--json"], capture_output=True, timeout=LIMIT_S * 3)
    took = time.perf_counter() - started
    try:
        listed = {h["host"] for h in json.loads(out.stdout)}
    except (ValueError, KeyError, TypeError):
        listed = set()
    return took, out.returncode == 0 and set(hosts) <= listed


def time_scout(count):
    """Seconds until `count` distinct peers answered a scout, or None."""
    seen = set()
    done = threading.Event()
    lock = threading.Lock()

    def hello(h):
        with lock:
            seen.add(str(h.zid))
            if len(seen) >= count:
                done.set()

    started = time.perf_counter()
    scout = zenoh.scout(handler=hello, what="peer|router", config=zenoh.Config())
    found = done.wait(LIMIT_S)
    took = time.perf_counter() - started
    scout.stop()
    return took if found else None


def time_start(tnet):
    """Seconds a `tnet` that opens no session takes to start and end."""
    started = time.perf_counter()
    subprocess.run([tnet, "completions", "bash"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def time_session(count):
    """Seconds until a fresh scouting session holds `count` hosts' tokens, or None."""
    seen = set()
    done = threading.Event()
    lock = threading.Lock()

    def token(sample):
        with lock:
            if sample.kind == zenoh.SampleKind.PUT:
                seen.add(str(sample.key_expr))
                if len(seen) >= count:
                    done.set()

    config = zenoh.Config()
    # Like tnet's client: it only dials out.
    config.insert_json5("listen/endpoints", "[]")
    started = time.perf_counter()
    session = zenoh.open(config)
    sub = session.liveliness().declare_subscriber("tnet/*/alive", token, history=True)
    found = done.wait(LIMIT_S)
    took = time.perf_counter() - started
    sub.undeclare()
    session.close()
    return took if found else None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tnet", required=True, help="the tnet binary")
    parser.add_argument("--hosts", required=True, help="comma-separated host names")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    hosts = args.hosts.split(",")
    result = {
        "tnet": [],
        "tnet_incomplete": 0,
        "start": [],
        "scout": [],
        "scout_incomplete": 0,
        "session": [],
        "session_incomplete": 0,
    }
    for _ in range(args.runs):
        took, complete = time_tnet(args.tnet, hosts)
        if complete:
            result["tnet"].append(took)
        else:
            result["tnet_incomplete"] += 1
        result["start"].append(time_start(args.tnet))
        for name, measure in (("scout", time_scout), ("session", time_session)):
            took = measure(len(hosts))
            if took is None:
                result[name + "_incomplete"] += 1
            else:
                result[name].append(took)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
