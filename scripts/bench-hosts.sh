#!/usr/bin/env bash
# Benchmarks listing hosts with no configuration and writes the section
# "Listing hosts with no configuration" of docs/benchmarks.md: the wall time
# of `tnet hosts` until it prints all 3 hosts, next to bare Zenoh (Python's
# eclipse-zenoh) finding the same 3 peers by scouting, and opening a session
# that holds the 3 hosts' liveliness tokens, measured in the same run.
#
# The layout is the one of tests/it/fleet.rs: three machines, each a network
# namespace running `tnet-host` on default settings (port 7449, multicast
# scouting on), and a fourth running the client with no address, all plugged
# into a bridge that lives in a namespace of its own. Needs root and iproute2;
# installs eclipse-zenoh 1.10.2 for python3 if it is missing.
#
#   scripts/bench-hosts.sh               # RUNS=20 by default
#   RUNS=50 scripts/bench-hosts.sh
#   WRITE=0 scripts/bench-hosts.sh       # print the section, leave docs/ alone
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
write=${WRITE:-1}

[ "$(id -u)" = 0 ] || { echo "bench-hosts: makes network namespaces, run it as root" >&2; exit 1; }
command -v ip >/dev/null || { echo "bench-hosts: needs iproute2's ip" >&2; exit 1; }
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("eclipse-zenoh") != "1.10.2")' 2>/dev/null; then
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check eclipse-zenoh==1.10.2 >&2
fi

cargo build --locked --release -p tnet-host -p tnet-cli --bin tnet --bin tnet-host >&2
bin=$PWD/target/release

base=tnetbench$$
work=$(mktemp -d)
namespaces=("$base-br")
cleanup() {
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  for ns in "${namespaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$base-br"
ip -n "$base-br" link set lo up
ip -n "$base-br" link add br0 type bridge stp_state 0 forward_delay 0
ip -n "$base-br" link set br0 up
for i in 0 1 2 3; do
  ns=$base-m$i
  namespaces+=("$ns")
  ip netns add "$ns"
  ip -n "$base-br" link add "p$i" type veth peer name eth0 netns "$ns"
  ip -n "$base-br" link set "p$i" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "10.47.0.$((11 + i))/24" dev eth0
  ip -n "$ns" link set eth0 up
  # No default route in a namespace: multicast scouting needs one to send on.
  ip -n "$ns" route add 224.0.0.0/4 dev eth0
done
client=$base-m3
mkdir -p "$work/client"

hosts=(lab1 lab2 lab3)
for i in 0 1 2; do
  mkdir -p "$work/m$i"
  HOME=$work/m$i ip netns exec "$base-m$i" "$bin/tnet-host" --name "${hosts[$i]}" \
    --home "$work/m$i/tasks" 2>"$work/m$i/host.log" &
  # Ended by the cleanup with everything else in its namespace, quietly.
  disown
done
# Ready when each answers at its address (not by scouting: that is what is measured).
for i in 0 1 2; do
  for _ in $(seq 200); do
    if HOME=$work/client ip netns exec "$client" "$bin/tnet" --connect "tcp/10.47.0.$((11 + i)):7449" \
      hosts --json 2>/dev/null | grep -q "\"${hosts[$i]}\""; then
      continue 2
    fi
    sleep 0.1
  done
  echo "bench-hosts: ${hosts[$i]} did not start:" >&2
  cat "$work/m$i/host.log" >&2
  exit 1
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
result=$(env -u TNET_CONNECT -u TNET_HOST HOME="$work/client" XDG_CACHE_HOME="$work/client/.cache" \
  ip netns exec "$client" python3 scripts/bench-hosts.py --tnet "$bin/tnet" \
  --hosts "$(IFS=,; echo "${hosts[*]}")" --runs "$runs")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(RESULT=$result RUNS=$runs NPROC=$(nproc) ARCH=$(uname -m) \
  LOAD_BEFORE=$load_before LOAD_AFTER=$load_after python3 - <<'PY'
import json, os, statistics, datetime

r = json.loads(os.environ["RESULT"])
runs = int(os.environ["RUNS"])

def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] * 1000

def row(what, xs, complete=True):
    done = f"{len(xs)} of {runs}" if complete else "-"
    if not xs:
        return f"| {what} | - | - | {done} |"
    return f"| {what} | {q(xs, 0.5):.1f} | {q(xs, 0.9):.1f} | {done} |"

def ratio(a, b):
    return f"{q(a, 0.5) / q(b, 0.5):.1f}×" if a and b else "-"

tnet, start, scout, session = r["tnet"], r["start"], r["scout"], r["session"]
print(f"""## Listing hosts with no configuration

**Question:** on a LAN, how long does `tnet hosts` take to list every host
when the user has configured no address at all, next to bare Zenoh finding
the same peers (scouting alone, and a session that holds their tokens)?

Reproduce (as root, from the repository root; builds in release mode, makes
five network namespaces and removes them at the end):

```sh
scripts/bench-hosts.sh               # RUNS=20 by default
```

Measured {datetime.date.today().isoformat()}, release build, on the shared {os.environ["NPROC"]}-core {os.environ["ARCH"]} machine
(load average {os.environ["LOAD_BEFORE"]} before the runs, {os.environ["LOAD_AFTER"]} after).
Three machines, each a network namespace on one bridge running `tnet-host`
on default settings (port 7449, multicast scouting on); a fourth runs the
client with no `TNET_CONNECT` and an empty host cache. Each round times, one
after the other: a fresh `tnet hosts --json` process until it has printed all
3 hosts; a fresh `tnet completions bash` (starts and ends, opens no session);
and in a Python process already running (eclipse-zenoh 1.10.2, the same
Zenoh as tnet's), `zenoh.scout` until 3 distinct peers said hello, then a
fresh session with scouting on until it holds the 3 hosts' liveliness tokens.

| what | median ms | p90 ms | runs with all 3 hosts |
|---|---:|---:|---:|
{row("`tnet hosts` (fresh process, no address, empty cache)", tnet)}
{row("`tnet` start-up alone (`tnet completions bash`)", start, False)}
{row("bare Zenoh: scouting hears 3 peers (floor of finding them)", scout)}
{row("bare Zenoh: scouting session holds the 3 hosts' tokens", session)}

| ratio (medians) | |
|---|---:|
| `tnet hosts` / bare session with the 3 tokens | {ratio(tnet, session)} |
| `tnet hosts` / scouting alone | {ratio(tnet, scout)} |

<!-- end of scripts/bench-hosts.sh output; what follows is kept when it runs again -->
""")
PY
)
echo "$section"

if [ "$write" = 1 ]; then
  # Only this section is replaced (or appended): others edit the rest of the file.
  SECTION=$section python3 - <<'PY'
import os, re
path = "docs/benchmarks.md"
text = open(path).read()
section = os.environ["SECTION"].rstrip() + "\n"
title = "## Listing hosts with no configuration"
marker = "<!-- end of scripts/bench-hosts.sh output"
start = text.find(title)
if start < 0:
    text = text.rstrip() + "\n\n" + section
else:
    body = text[start + len(title):]
    m = re.search(r"^## ", body, re.M)
    end = start + len(title) + (m.start() if m else len(body))
    old = text[start:end]
    # Commentary written below the marker survives a new measurement.
    kept = old[old.find(marker):].split("\n", 1)[1] if marker in old else ""
    text = text[:start] + section + kept + text[end:]
open(path, "w").write(text)
PY
  echo "bench-hosts: wrote the section to docs/benchmarks.md" >&2
fi
