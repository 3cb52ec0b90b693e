#!/usr/bin/env bash
# Benchmarks a fleet of N hosts and writes the section "A fleet of hundreds"
# of docs/benchmarks.md: for N = 10, 50, 100, 200 hosts, each a network
# namespace on one bridge running `tnet-host` on default settings (the secure
# default: QUIC with mutual TLS, multicast scouting on, nothing configured),
# the time and completeness of `tnet hosts`, `tnet ls`, a `tnet call` of a
# service present on one host and `tnet sub --last 1` of a habit present on
# every host, each a fresh process on a client machine with no address; and
# an idle host's memory and CPU. Then the same through a Zenoh router, hosts
# and client connecting only to it (docs/fleet.md).
#
# The router is `zenohd` 1.10.2 when it is installed (scripts/test-deps.sh),
# otherwise the same zenoh crate in router mode (crates/tnet-host/examples/
# zenoh_router.rs), and the section says which.
#
# Needs root and iproute2. Builds in release mode unless PROFILE=debug.
#
#   scripts/bench-fleet.sh                     # SIZES="10 50 100 200" RUNS=5
#   SIZES="10 50" RUNS=3 scripts/bench-fleet.sh
#   ROUTER=0 scripts/bench-fleet.sh            # the LAN only
#   MODES=router scripts/bench-fleet.sh        # through the router only
#   WRITE=0 scripts/bench-fleet.sh             # print the section, leave docs/ alone
#   BUILD=0 scripts/bench-fleet.sh             # use the binaries already built
#   HOLD=1 SIZES=200 scripts/bench-fleet.sh    # keep each fleet up after its tasks, to try
#                                              # commands in it, until /tmp/bench-fleet.hold goes
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-10 50 100 200}
runs=${RUNS:-5}
router=${ROUTER:-1}
write=${WRITE:-1}
profile=${PROFILE:-release}
idle_s=${IDLE_S:-10}
build=${BUILD:-1}

[ "$(id -u)" = 0 ] || { echo "bench-fleet: makes network namespaces, run it as root" >&2; exit 1; }
command -v ip >/dev/null || { echo "bench-fleet: needs iproute2's ip" >&2; exit 1; }

cargo_build() {
  [ "$build" = 1 ] || return 0
  if [ "$profile" = release ]; then cargo build --locked --release "$@" >&2; else cargo build --locked "$@" >&2; fi
}
cargo_build -p tnet-host -p tnet-cli --bins
bin=$PWD/target/$profile
zenohd=$(command -v zenohd || true)
[ -n "$zenohd" ] || [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/zenohd" ] || zenohd=${CARGO_HOME:-$HOME/.cargo}/bin/zenohd
if [ "$router" = 1 ] && [ -z "$zenohd" ]; then
  cargo_build -p tnet-host --example zenoh_router
  router_bin=$bin/examples/zenoh_router
  router_kind="the zenoh 1.10 crate in router mode (crates/tnet-host/examples/zenoh_router.rs; zenohd was not installed)"
else
  router_bin=$zenohd
  router_kind="zenohd $($zenohd --version 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -1)"
fi

max=0
for n in $sizes; do [ "$n" -gt "$max" ] && max=$n; done

base=tnetfleet$$
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

# Machine 0 is the client, machine R (max + 1) the router, 1..N the hosts.
addr() { echo "10.47.$(( ($1 + 11) / 256 )).$(( ($1 + 11) % 256 ))"; }
ip netns add "$base-br"
ip -n "$base-br" link set lo up
ip -n "$base-br" link add br0 type bridge stp_state 0 forward_delay 0
ip -n "$base-br" link set br0 up
for i in $(seq 0 $((max + 1))); do
  ns=$base-m$i
  namespaces+=("$ns")
  ip netns add "$ns"
  ip -n "$base-br" link add "p$i" type veth peer name eth0 netns "$ns"
  ip -n "$base-br" link set "p$i" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$(addr "$i")/16" dev eth0
  ip -n "$ns" link set eth0 up
  # No default route in a namespace: multicast scouting needs one to send on.
  ip -n "$ns" route add 224.0.0.0/4 dev eth0
done
client=$base-m0
router_ns=$base-m$((max + 1))
router_ep="quic/$(addr $((max + 1))):7447"

# One fleet for everything: each host issues its identity from it on first
# start (as on one machine that holds the fleet), the client is its admin.
export TNET_FLEET=$work/fleet TNET_IDENTITY=$work/fleet/clients/admin
mkdir -p "$work/client"
"$bin/tnet" fleet init >/dev/null
in_client() {
  env -u TNET_CONNECT -u TNET_HOST -u TNET_INSECURE HOME="$work/client" \
    XDG_CACHE_HOME="$work/client/.cache" ip netns exec "$client" "$@"
}
# Hosts are h001... on the LAN and r001... through the router: a name the
# fleet already holds cannot be issued again for the router rounds.
name() { printf '%s%03d\n' "$prefix" "$1"; }
prefix=h

# start_hosts N [ENDPOINT]: hosts 1..N on default settings (or only through
# ENDPOINT), waits until each logged that it is ready.
start_hosts() {
  local n=$1 via=${2:-} i
  for i in $(seq 1 "$n"); do
    mkdir -p "$work/m$i"
    local flags=()
    [ -z "$via" ] || flags=(-e "$via" --no-multicast-scouting)
    : >"$work/m$i/host.log"
    HOME=$work/m$i RUST_LOG=info,zenoh=warn ip netns exec "$base-m$i" "$bin/tnet-host" \
      --name "$(name "$i")" --home "$work/m$i/tasks-$home_tag" "${flags[@]}" 2>>"$work/m$i/host.log" &
    disown
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 1200); do
      grep -q 'tnet-host ready' "$work/m$i/host.log" && continue 2
      sleep 0.1
    done
    echo "bench-fleet: $(name "$i") did not start:" >&2
    cat "$work/m$i/host.log" >&2
    exit 1
  done
}

stop_hosts() {
  local n=$1 i pid
  for i in $(seq 1 "$n"); do
    for pid in $(ip netns pids "$base-m$i"); do kill "$pid" 2>/dev/null || true; done
  done
  for i in $(seq 1 "$n"); do
    while [ -n "$(ip netns pids "$base-m$i")" ]; do sleep 0.05; done
  done
}

# idle N: "median RSS MiB, max RSS MiB, mean CPU %, max CPU %" of the N
# host processes over IDLE_S seconds with nothing to do.
idle() {
  local n=$1 i pids=()
  for i in $(seq 1 "$n"); do pids+=("$(ip netns pids "$base-m$i" | head -1)"); done
  PIDS="${pids[*]}" IDLE_S=$idle_s python3 - <<'PY'
import os, statistics, time
pids = [int(p) for p in os.environ["PIDS"].split()]
tick = os.sysconf("SC_CLK_TCK")
def cpu(p):
    f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
def rss(p):
    for line in open(f"/proc/{p}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = {p: cpu(p) for p in pids}
t0 = time.monotonic()
time.sleep(float(os.environ["IDLE_S"]))
dt = time.monotonic() - t0
pct = [100 * (cpu(p) - before[p]) / tick / dt for p in pids]
mem = [rss(p) for p in pids]
print(f"{statistics.median(mem):.1f} {max(mem):.1f} {statistics.mean(pct):.2f} {max(pct):.2f}")
PY
}

# tasks N [ENDPOINT]: the habit `tick` on hosts 1..N, the service `upper` on host 1.
tasks() {
  local n=$1 via=${2:-} i
  cat >"$work/tick.toml" <<'T'
task_name = "tick"
task_type = "habit"
commands = ['echo "tick on $TNET_HOST"']

[habit_details]
time_between_runs = "1h"
T
  cat >"$work/upper.toml" <<'T'
task_name = "upper"
task_type = "service"
commands = ["tr a-z A-Z"]
T
  for i in $(seq 1 "$n"); do
    echo "${via:-quic/$(addr "$i"):7449} $(name "$i")"
  # A submission is set-up, not a measurement: right after a mass start on
  # two shared cores a handshake can outlast the 3 s connect limit, so each
  # is tried a few times.
  done | in_client xargs -P 4 -n 2 sh -c \
    "for try in 1 2 3 4 5; do \"$bin/tnet\" --connect \"\$0\" run \"$work/tick.toml\" --host \"\$1\" >/dev/null && exit 0; sleep 1; done; exit 1"
  in_client "$bin/tnet" --connect "${via:-quic/$(addr 1):7449}" run "$work/upper.toml" --host "$(name 1)" >/dev/null
  # Ready when the service answers and every habit has run once (a new
  # habit runs at once), as `tnet ls` on the client sees them.
  for _ in $(seq 600); do
    if [ "$(echo x | in_client "$bin/tnet" --connect "${via:-quic/$(addr 1):7449}" call upper --input - 2>/dev/null)" = X ]; then
      break
    fi
    sleep 0.1
  done
  for _ in $(seq 120); do
    if client_tnet "$via" ls --json 2>/dev/null | N=$n python3 -c '
import json, os, sys
ran = [t for t in json.load(sys.stdin) if t["name"] == "tick" and t.get("last_run")]
sys.exit(len(ran) != int(os.environ["N"]))'; then
      return 0
    fi
    sleep 0.5
  done
  echo "bench-fleet: tick did not run on every host" >&2
  exit 1
}

# client_tnet VIA ARGS...: `tnet` on the client, through VIA when it is set.
client_tnet() {
  local via=$1
  shift
  if [ -n "$via" ]; then
    TNET_CONNECT=$via HOME="$work/client" XDG_CACHE_HOME="$work/client/.cache" \
      ip netns exec "$client" "$bin/tnet" "$@"
  else
    in_client "$bin/tnet" "$@"
  fi
}

results=()
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for mode in ${MODES:-lan router}; do
  [ "$mode" = lan ] || [ "$router" = 1 ] || continue
  for n in $sizes; do
    echo "bench-fleet: $n hosts, $mode" >&2
    via=
    prefix=h
    if [ "$mode" = router ]; then
      prefix=r
      via=$router_ep
      # The router reads the roster (every host's name) when it starts, and
      # refuses a host the fleet issued later (docs/fleet.md): each host's
      # identity is issued first, as docs/security.md does for a machine of
      # its own, and put where the host looks (<home>/.tnet/tls).
      for i in $(seq 1 "$n"); do
        [ -d "$TNET_FLEET/hosts/$(name "$i")" ] || name "$i"
      done | in_client xargs -r -P 8 -I{} "$bin/tnet" fleet add-host {} >/dev/null
      for i in $(seq 1 "$n"); do
        mkdir -p "$work/m$i/tasks-$mode-$n/.tnet"
        cp -r "$TNET_FLEET/hosts/$(name "$i")" "$work/m$i/tasks-$mode-$n/.tnet/tls"
      done
      gw=gw$n
      in_client "$bin/tnet" fleet add-router "$gw" --listen "quic/0.0.0.0:7447" >/dev/null
      if [ "$router_bin" = "$zenohd" ]; then
        ip netns exec "$router_ns" "$router_bin" -c "$TNET_FLEET/routers/$gw/zenohd.json5" \
          >"$work/router.log" 2>&1 &
      else
        ip netns exec "$router_ns" "$router_bin" "$TNET_FLEET/routers/$gw/zenohd.json5" \
          >"$work/router.log" 2>&1 &
      fi
      disown
      for _ in $(seq 200); do grep -q 'can be reached at' "$work/router.log" && break; sleep 0.1; done
    fi
    home_tag=$mode-$n
    start_hosts "$n" "$via"
    sleep 2
    read -r rss_med rss_max cpu_mean cpu_max < <(idle "$n")
    if [ "${HOLD:-0}" = start ]; then
      echo "work=$work client=$client bin=$bin" >/tmp/bench-fleet.hold
      while [ -e /tmp/bench-fleet.hold ]; do sleep 1; done
    fi
    tasks "$n" "$via"
    rm -rf "$work/client/.cache"
    if [ "${HOLD:-0}" = 1 ]; then
      hold=/tmp/bench-fleet.hold
      cat >"$hold" <<H
# $n hosts ($mode) are up; run commands as the client with:
export TNET_FLEET=$TNET_FLEET TNET_IDENTITY=$TNET_IDENTITY
HOME=$work/client XDG_CACHE_HOME=$work/client/.cache ${via:+TNET_CONNECT=$via }ip netns exec $client $bin/tnet hosts
# rm $hold to go on
H
      cat "$hold" >&2
      while [ -e "$hold" ]; do sleep 1; done
    fi
    if [ -n "$via" ]; then
      json=$(TNET_CONNECT=$via HOME="$work/client" XDG_CACHE_HOME="$work/client/.cache" \
        ip netns exec "$client" python3 scripts/bench-fleet.py --tnet "$bin/tnet" --hosts "$n" --runs "$runs")
    else
      json=$(in_client python3 scripts/bench-fleet.py --tnet "$bin/tnet" --hosts "$n" --runs "$runs")
    fi
    rm -rf "$work/client/.cache"
    results+=("{\"mode\":\"$mode\",\"n\":$n,\"rss_med\":$rss_med,\"rss_max\":$rss_max,\"cpu_mean\":$cpu_mean,\"cpu_max\":$cpu_max,\"verbs\":$json}")
    echo "bench-fleet: ${results[-1]}" >&2
    # Each round starts from empty hosts, in homes of their own (a host
    # issues itself a certificate again for its name).
    stop_hosts "$n"
    if [ "$mode" = router ]; then
      for pid in $(ip netns pids "$router_ns"); do kill "$pid" 2>/dev/null || true; done
      while [ -n "$(ip netns pids "$router_ns")" ]; do sleep 0.05; done
    fi
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(RESULTS="$(IFS=,; echo "[${results[*]}]")" RUNS=$runs NPROC=$(nproc) ARCH=$(uname -m) \
  PROFILE=$profile ROUTER_KIND=$router_kind IDLE_S=$idle_s SIZES="$sizes" \
  LOAD_BEFORE=$load_before LOAD_AFTER=$load_after python3 - <<'PY'
import json, os, statistics, datetime

results = json.loads(os.environ["RESULTS"])
runs = int(os.environ["RUNS"])

def med(xs):
    return statistics.median(xs) * 1000 if xs else float("nan")

def cell(pairs):
    times = [t for t, _ in pairs]
    done = sum(1 for _, ok in pairs if ok)
    return f"{med(times):.0f} ms ({done}/{len(pairs)})"

rows = []
for r in results:
    v = r["verbs"]
    where = "LAN" if r["mode"] == "lan" else "router"
    rows.append(
        f"| {r['n']} | {where} | {cell(v['hosts'])} | {cell(v['ls'])} | {cell(v['call'])} | {cell(v['sub'])} "
        f"| {r['rss_med']:.1f} / {r['rss_max']:.1f} | {r['cpu_mean']:.2f} / {r['cpu_max']:.2f} |"
    )
table = "\n".join(rows)
ratios = []
by = {(r["mode"], r["n"]): r for r in results}
ns = sorted({r["n"] for r in results})
for mode in ("lan", "router"):
    if (mode, ns[0]) in by and (mode, ns[-1]) in by and ns[0] != ns[-1]:
        a, b = by[(mode, ns[0])], by[(mode, ns[-1])]
        for verb in ("hosts", "ls", "sub"):
            ta = med([t for t, _ in a["verbs"][verb]])
            tb = med([t for t, _ in b["verbs"][verb]])
            ratios.append(f"| {mode}: `{verb}` at {ns[-1]} hosts / at {ns[0]} | {tb / ta:.1f}× |")
        ratios.append(f"| {mode}: idle host RSS (median) at {ns[-1]} / at {ns[0]} | {b['rss_med'] / a['rss_med']:.2f}× |")
ratio_table = "\n".join(ratios)
sizes = " ".join(os.environ["SIZES"].split())
print(f"""## A fleet of hundreds

**Question:** as the fleet grows to hundreds of hosts on default settings,
do the verbs that ask every host stay fast and complete, and does an idle
host cost more?

Reproduce (as root, from the repository root; builds in release mode, makes
a namespace per machine and removes them at the end):

```sh
scripts/bench-fleet.sh               # SIZES="10 50 100 200" RUNS=5
```

Measured {datetime.date.today().isoformat()}, {os.environ["PROFILE"]} build, on the shared {os.environ["NPROC"]}-core {os.environ["ARCH"]} machine
(load average {os.environ["LOAD_BEFORE"]} before the runs, {os.environ["LOAD_AFTER"]} after; other work ran on it).
N hosts ({sizes}), each a network namespace on one bridge running `tnet-host` on
default settings (the secure default: QUIC with mutual TLS; multicast
scouting on; nothing configured); a client machine with no address and no
host cache at the start of each size. Every host has the habit `tick`; one
has the service `upper`. Each cell is the median of {runs} fresh `tnet`
processes, and in brackets how many were complete: `hosts` and `ls` listing
all N hosts, `call upper` answering right, `sub --json --last 1 tick`
printing a run of every one of the N hosts (timed until it has). "router":
the same hosts started with `-e ROUTER --no-multicast-scouting`, the client
with `TNET_CONNECT=ROUTER`; the router is {os.environ["ROUTER_KIND"]}.
Idle host: its resident memory and CPU over {os.environ["IDLE_S"]} s after it started, before
any task (median / max over the N hosts).

| hosts | via | `tnet hosts` | `tnet ls` | `tnet call` (one host) | `tnet sub --last 1` (all hosts) | idle RSS MiB | idle CPU % |
|---:|---|---:|---:|---:|---:|---:|---:|
{table}

| ratio (medians) | |
|---|---:|
{ratio_table}

<!-- end of scripts/bench-fleet.sh output; what follows is kept when it runs again -->
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
title = "## A fleet of hundreds"
marker = "<!-- end of scripts/bench-fleet.sh output"
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
  echo "bench-fleet: wrote the section to docs/benchmarks.md" >&2
fi
