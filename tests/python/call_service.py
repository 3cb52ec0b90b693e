"""Calls a tnet service with the eclipse-zenoh package only: no tnet code.

Usage: python3 -u call_service.py ENDPOINT SERVICE [ARGS...] < INPUT

Picks the first host that offers SERVICE (its liveliness token), sends
standard input as the call's payload and ARGS in the JSON attachment, writes
the result to standard output and the call's `end` metadata as one JSON line
to standard error. Exits 2 on an error reply, 3 when zenoh is not installed.
"""

import json
import os
import sys

try:
    import zenoh
except ImportError:
    print("python3 has no `zenoh`: pip install eclipse-zenoh==1.10.2", file=sys.stderr)
    sys.exit(3)


def tls_config(config, endpoint):
    """With a quic/ endpoint (the secure default), shows the identity bundle
    in $TNET_IDENTITY (ca.pem, cert.pem, key.pem), as every peer of a tnet
    fleet must: mutual TLS, the fleet's authority as the only root."""
    if not endpoint.startswith("quic/"):
        return
    identity = os.environ.get("TNET_IDENTITY")
    if not identity:
        print("a quic/ endpoint needs TNET_IDENTITY (a bundle from `tnet fleet add-client`)", file=sys.stderr)
        sys.exit(4)
    tls = "transport/link/tls/"
    config.insert_json5(tls + "root_ca_certificate", json.dumps(os.path.join(identity, "ca.pem")))
    config.insert_json5(tls + "connect_certificate", json.dumps(os.path.join(identity, "cert.pem")))
    config.insert_json5(tls + "connect_private_key", json.dumps(os.path.join(identity, "key.pem")))
    config.insert_json5(tls + "enable_mtls", "true")
    config.insert_json5(tls + "verify_name_on_connect", "false")


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
