"""The Zenoh settings a plain Python client needs to reach a tnet host on the
secure default: mutual TLS over QUIC with the identity bundle in
$TNET_IDENTITY (ca.pem, cert.pem, key.pem, from `tnet fleet add-client`).
Shared by the scripts beside it; docs/security.md shows the same."""

import json
import os
import sys


def tls_config(config, endpoint):
    """Adds the bundle's certificates to `config` for a quic/ endpoint."""
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
