#!/usr/bin/env bash
# Docker benchmark (docs/benchmarks.md, "Docker"): a service call in a
# container vs the same service as a plain process, and what a habit run
# would pay for a fresh container vs an exec in the task's running container.
# Needs a Docker engine and busybox-static; builds the debug binaries unless
# PROFILE=release. ROUNDS=30 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-30}
PROFILE=${PROFILE:-dev}
IMAGE=tnet-test/busybox:1
if [ "$PROFILE" = release ]; then cargo build -q --locked --release -p tnet-host -p tnet-cli --bin tnet --bin tnet-host; BIN=target/release
else cargo build -q --locked -p tnet-host -p tnet-cli --bin tnet --bin tnet-host; BIN=target/debug; fi

work=$(mktemp -d)
host_pid=
cleanup() {
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  docker ps -aq --filter label=tnet.host=benchdk | xargs -r docker rm -f >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  # The test suite's image: busybox with one link per applet and a marker file.
  r=$work/rootfs; mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root}
  cp /bin/busybox "$r/bin/"
  for a in $(/bin/busybox --list-full); do [ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$r/etc/passwd"
  echo made-by-the-tnet-test-suite > "$r/tnet-image-marker"; chmod 1777 "$r/tmp"
  tar -C "$r" -c . | docker import - "$IMAGE" >/dev/null
fi

# Plain TCP (`--insecure`) in a fleet of the run's own, as these rows were
# first measured: the figures are about Docker, not the link's security.
export TNET_INSECURE=1 TNET_FLEET="$work/fleet"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ep=tcp/127.0.0.1:$port
"$BIN/tnet-host" --name benchdk --home "$work/home" -l "$ep" --no-multicast-scouting 2>"$work/host.log" &
host_pid=$!
export TNET_CONNECT=$ep
for _ in $(seq 100); do "$BIN/tnet" hosts >/dev/null 2>&1 && break; sleep 0.2; done
printf 'task_name = "plain"\ntask_type = "service"\ncommands = ["cat"]\n' > "$work/plain.toml"
printf 'task_name = "boxed"\ntask_type = "service"\ncommands = ["cat"]\nrun_in_docker = true\n[docker_settings]\ndocker_img_id = "%s"\n' "$IMAGE" > "$work/boxed.toml"
"$BIN/tnet" run "$work/plain.toml" >/dev/null
"$BIN/tnet" run "$work/boxed.toml" >/dev/null
for _ in $(seq 100); do [ "$("$BIN/tnet" call boxed --input - <<<x)" = x ] && break; sleep 0.2; done
container=$(docker ps -q --filter label=tnet.host=benchdk --filter label=tnet.task=boxed)

python3 - "$ROUNDS" "$BIN/tnet" "$IMAGE" "$container" <<'PY'
import statistics, subprocess, sys, time
rounds, tnet, image, container = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def timed(argv, stdin=None):
    out = []
    for i in range(rounds + 3):
        t = time.perf_counter()
        subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, check=True)
        if i >= 3: out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.9) - 1]
rows = [
    ("`tnet call` of `cat`, 64 B, plain process", timed([tnet, "call", "plain", "--input", "-"], b"x" * 64)),
    ("`tnet call` of `cat`, 64 B, in a container (exec)", timed([tnet, "call", "boxed", "--input", "-"], b"x" * 64)),
    ("`docker exec` of `true` in the running container", timed(["docker", "exec", container, "true"])),
    ("`docker run --rm` of `true` (a fresh container)", timed(["docker", "run", "--rm", "--network", "none", image, "true"])),
]
print("| what | median ms | p90 ms | runs |\n|---|---:|---:|---:|")
for name, (med, p90) in rows:
    print(f"| {name} | {med:.1f} | {p90:.1f} | {rounds} |")
(pc, _), (dc, _), (ex, _), (run, _) = [r[1] for r in rows]
print(f"\n| ratio (medians) | |\n|---|---:|\n| call in a container / plain call | {dc/pc:.2f}× |\n| fresh container / exec | {run/ex:.1f}× |")
PY
