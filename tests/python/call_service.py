"""Calls a tnet service with the eclipse-zenoh package only: no tnet code.

Usage: python3 -u call_service.py ENDPOINT SERVICE [ARGS...] < INPUT

Picks the first host that offers SERVICE (its liveliness token), sends
standard input as the call's payload and ARGS in the JSON attachment, writes
the result to standard output and the call's `end` metadata as one JSON line
to standard error. Exits 2 on an error reply, 3 when zenoh is not installed.
"""

import json
import sys

try:
    import zenoh
except ImportError:
    print("python3 has no `zenoh`: pip install eclipse-zenoh==1.10.2", file=sys.stderr)
    sys.exit(3)


from tnet_tls import tls_config  # noqa: E402 (beside this script)


def main():
    endpoint, service, *args = sys.argv[1:]
    payload = sys.stdin.buffer.read()
    config = zenoh.Config()
    config.insert_json5("connect/endpoints", json.dumps([endpoint]))
    tls_config(config, endpoint)
    config.insert_json5("listen/endpoints", "[]")
    config.insert_json5("scouting/multicast/enabled", "false")
    with zenoh.open(config) as session:
        # Every host offering the service holds a liveliness token on its key.
        keys = [
            str(reply.ok.key_expr)
            for reply in session.liveliness().get(f"tnet/*/service/{service}")
            if reply.ok is not None
        ]
        if not keys:
            print(f"no host offers {service}", file=sys.stderr)
            return 1
        result, end, seq = bytearray(), None, 0
        replies = session.get(
            keys[0],
            payload=payload,
            attachment=json.dumps({"args": args}).encode(),
            timeout=60,
        )
        for reply in replies:
            if reply.ok is None:
                print("error:", reply.err.payload.to_string(), file=sys.stderr)
                return 2
            meta = json.loads(reply.ok.attachment.to_bytes())
            if meta["seq"] != seq:
                print(f"reply {seq} is missing", file=sys.stderr)
                return 1
            seq += 1
            result += reply.ok.payload.to_bytes()
            end = meta.get("end", end)
        if end is None:
            print("the call ended without its final reply", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(result)
        print(json.dumps(end), file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(main())
