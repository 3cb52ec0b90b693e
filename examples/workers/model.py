#!/usr/bin/env python3
"""A stand-in for an image recogniser: it "loads a model" for 2 seconds,
then labels what it is sent. One program, two ways to run it:

  python3 workers/model.py [ARGS...] < INPUT   # cold: load, answer one call, exit
  python3 workers/model.py --warm              # warm: load once, answer calls on
                                               # stdin/stdout (docs/services.md)

The warm loop is the whole tnet worker protocol: say {"ready": true} once
loaded; then for each call line {"id", "args", "input", ...} on standard
input, write a header line {"id": N, "len": L} and exactly L bytes of result.
"""

import hashlib
import json
import sys
import time

LABELS = ["cat", "dog", "bicycle", "teapot", "lighthouse", "cactus"]


def load_model():
    time.sleep(2)  # what a real model costs to load, every time it is loaded
    return {"labels": LABELS, "loaded_at": time.time()}


def answer(model, data, args):
    top = int(args[0]) if args else 1
    digest = hashlib.sha256(data).digest()
    labels = [model["labels"][b % len(model["labels"])] for b in digest[:top]]
    return ("%s (%d bytes)\n" % (", ".join(labels), len(data))).encode()


def cold():
    model = load_model()
    sys.stdout.buffer.write(answer(model, sys.stdin.buffer.read(), sys.argv[1:]))


def warm():
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() goes to the task's log, not into a result
    model = load_model()
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in iter(sys.stdin.readline, ""):
        call = json.loads(line)
        try:
            with open(call["input"], "rb") as f:
                result = answer(model, f.read(), call["args"])
            header = {"id": call["id"], "len": len(result)}
        except Exception as err:  # the call fails, the worker stays
            result = b""
            header = {"id": call["id"], "len": 0, "exit_code": 1, "stderr": repr(err)}
        out.write(json.dumps(header).encode() + b"\n" + result)
        out.flush()


if __name__ == "__main__":
    warm() if sys.argv[1:] == ["--warm"] else cold()
