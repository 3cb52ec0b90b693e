#!/usr/bin/env python3
"""Where one process's CPU goes, flat: reads `perf script -F
comm,pid,tid,ip,sym` of a `perf record -g` recording and counts each sample
of process PID (not of its children) by its system call, for a kernel
sample, or by the crate of its innermost frame. Arguments: the sampling
rate, the runs in the recording, PID.

    perf script -i cpu.data -F comm,pid,tid,ip,sym | scripts/perf-syscalls.py 4999 800 PID
"""
import collections
import re
import sys


def part(frames):
    for frame in frames:
        call = re.match(r"__(?:x64|do)_sys_(\w+)", frame)
        if call:
            return "system call " + call.group(1)
    if any("page_fault" in f for f in frames):
        return "kernel: page faults"
    if any("sysvec" in f or "__schedule" in f for f in frames):
        return "kernel: interrupts and switches"
    top = re.sub(r"<.*?>", "", frames[0]) or "[unknown]"
    return top.split("::")[0] if "::" in top else top


def main():
    rate, runs, pid = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    parts = collections.Counter()
    ours, frames = False, []
    for line in list(sys.stdin) + [""]:
        if not line.strip():
            if ours and frames:
                parts[part(frames)] += 1
            ours, frames = False, []
        elif not line[0].isspace():
            fields = line.split()
            ours = len(fields) > 1 and fields[1].split("/")[0] == pid
        else:
            fields = line.split(None, 1)
            if len(fields) == 2:
                frames.append(fields[1].split(" (")[0].split("+0x")[0].strip())
    total = sum(parts.values())
    ms = lambda n: n / rate / runs * 1000
    print(f"samples: {total}, {ms(total):.3f} ms a run")
    for name, n in parts.most_common(25):
        print(f"{ms(n):8.4f} ms a run  {name}")


if __name__ == "__main__":
    main()
