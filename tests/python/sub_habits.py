"""Follows every tnet habit with the plain `eclipse-zenoh` package: no tnet code.

    python3 -u sub_habits.py ENDPOINT COUNT

Subscribes to `tnet/*/habit/**`, prints one JSON line per run with its key,
its output (the payload) and its metadata (the attachment, itself JSON), and
after COUNT live runs asks the hosts for their last two runs (a late
subscriber's view) and prints those too. The first line, `{"via": "ready"}`,
says the subscription is declared. This is how a program in any language
reads a habit; `docs/habits.md` shows the same.
"""

import json
import sys

import zenoh

from tnet_tls import tls_config


def show(via, sample):
    attachment = sample.attachment
    print(
        json.dumps(
            {
                "via": via,
                "key": str(sample.key_expr),
                "payload": sample.payload.to_bytes().decode("utf-8", "replace"),
                "attachment": json.loads(attachment.to_bytes()) if attachment else None,
            }
        ),
        flush=True,
    )


def main():
    endpoint, count = sys.argv[1], int(sys.argv[2])
    config = zenoh.Config.from_json5(
        json.dumps(
            {
                "mode": "peer",
                "connect": {"endpoints": [endpoint]},
                "scouting": {"multicast": {"enabled": False}},
            }
        )
    )
    tls_config(config, endpoint)
    with zenoh.open(config) as session:
        subscriber = session.declare_subscriber("tnet/*/habit/**")
        print(json.dumps({"via": "ready"}), flush=True)
        for seen, sample in enumerate(subscriber, start=1):
            show("live", sample)
            if seen >= count:
                break
        # Each kept run is its own reply on the same key: no consolidation.
        replies = session.get(
            "tnet/*/habit/**?last=2",
            consolidation=zenoh.ConsolidationMode.NONE,
            timeout=10.0,
        )
        for reply in replies:
            if reply.ok is not None:
                show("history", reply.ok)
            else:
                print(json.dumps({"via": "error", "payload": reply.err.payload.to_string()}), flush=True)
        print(json.dumps({"via": "done"}), flush=True)


if __name__ == "__main__":
    main()
