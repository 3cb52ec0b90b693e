"""Tries to use a tnet host as any Zenoh client could, with no tnet code.

Usage: try_session.py ENDPOINT

With TNET_IDENTITY set, shows that bundle's certificate (mutual TLS over
QUIC); without it, none. Prints one JSON line: whether a session opened,
and how many hosts and tasks it could see. Exits 0 either way; 3 when the
zenoh package is missing.
"""

import json
import os
import sys

try:
    import zenoh
except ImportError:
    print("python3 cannot import zenoh: pip install eclipse-zenoh==1.10.2", file=sys.stderr)
    sys.exit(3)


def main():
    endpoint = sys.argv[1]
    config = zenoh.Config()
    config.insert_json5("connect/endpoints", json.dumps([endpoint]))
    config.insert_json5("connect/timeout_ms", "3000")
    config.insert_json5("connect/exit_on_failure", "true")
    config.insert_json5("listen/endpoints", "[]")
    config.insert_json5("scouting/multicast/enabled", "false")
    identity = os.environ.get("TNET_IDENTITY")
    tls = "transport/link/tls/"
    if identity:
        config.insert_json5(tls + "connect_certificate", json.dumps(os.path.join(identity, "cert.pem")))
        config.insert_json5(tls + "connect_private_key", json.dumps(os.path.join(identity, "key.pem")))
        config.insert_json5(tls + "root_ca_certificate", json.dumps(os.path.join(identity, "ca.pem")))
    config.insert_json5(tls + "verify_name_on_connect", "false")
    try:
        session = zenoh.open(config)
    except Exception as error:  # noqa: BLE001 - any failure is "no session"
        print(json.dumps({"opened": False, "error": str(error)}))
        return 0
    with session:
        hosts = [r for r in session.liveliness().get("tnet/*/alive", timeout=3) if r.ok is not None]
        request = json.dumps({"version": 1, "request": {"kind": "list"}}).encode()
        answers = [r for r in session.get("tnet/*/ctl", payload=request, timeout=3) if r.ok is not None]
    print(json.dumps({"opened": True, "hosts": len(hosts), "answers": len(answers)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
