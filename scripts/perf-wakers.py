#!/usr/bin/env python3
"""Who wakes the given threads: reads `perf script` of a `perf record -e
sched:sched_wakeup -a -g` recording and counts each wake-up of a target
thread by the waker's name and the first kernel frames above the wake-up
itself. Arguments: the runs in the recording (to give counts per run),
then the target thread ids.

    perf script -i wake.data | scripts/perf-wakers.py 600 TID...
"""
import collections
import re
import sys

WAKE_FRAMES = ("try_to_wake_up", "wake_up", "__wake", "ttwu", "autoremove",
               "pollwake", "ep_poll_callback", "default_wake_function")
HEADER = re.compile(r"^\s*(\S.*?)\s+\d+(?:/\d+)?\s+\[\d+\]\s+[\d.]+:\s+sched:sched_wakeup:\s+(.*)$")


def main():
    runs = float(sys.argv[1])
    targets = set(sys.argv[2:])
    by_waker, by_stack = collections.Counter(), collections.Counter()
    current, frames = None, []

    def flush():
        if current is None or current[1] not in targets:
            return
        waker = current[0]
        kept = [f for f in frames if not any(w in f for w in WAKE_FRAMES)]
        by_waker[waker] += 1
        by_stack[(waker, " < ".join(kept[:4]))] += 1

    for line in sys.stdin:
        header = HEADER.match(line)
        if header:
            flush()
            frames = []
            wakee = re.search(r"pid=(\d+)", header.group(2))
            # Thread names end in their index (tnet-habits-0, rx-12): one name for all.
            current = (re.sub(r"\d+$", "#", header.group(1).strip()), wakee and wakee.group(1))
        elif line.strip():
            parts = line.split(None, 1)
            if len(parts) == 2:
                frames.append(parts[1].split("+")[0].split(" (")[0].strip())
    flush()
    total = sum(by_waker.values())
    print(f"wake-ups: {total} ({total / runs:.2f} a run)")
    for waker, n in by_waker.most_common(12):
        print(f"{n / runs:6.2f} a run  {waker}")
    for (waker, stack), n in by_stack.most_common(12):
        print(f"{n / runs:6.2f} a run  {waker}: {stack}")


if __name__ == "__main__":
    main()
