#!/usr/bin/env bash
# Takes the screenshots of `tnet ui` shown in the README and docs/ui.md
# (docs/ui/*.png): two hosts on loopback with a fleet of their own, the
# examples' daemon, service and a price habit, a habit that fails into the
# inbox; then headless Chromium (Debian's `chromium`) photographs each page,
# wide and on a phone's width.
#
#   scripts/ui-screenshots.sh            # debug build
#   PROFILE=release scripts/ui-screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-dev}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
cargo build --locked --profile "$profile" -p tnet-cli -p tnet-host --bin tnet --bin tnet-host >&2
bin=$PWD/target/$dir
out=$PWD/docs/ui
mkdir -p "$out"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# A fleet of its own: the first host creates it, with an admin identity for tnet.
export TNET_FLEET=$work/fleet
unset TNET_IDENTITY TNET_CONNECT TNET_INSECURE
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
p1=$(free_port); p2=$(free_port)
"$bin/tnet-host" --name lab1 --home "$work/lab1" -l "quic/127.0.0.1:$p1" --no-multicast-scouting 2>"$work/lab1.log" &
pids+=($!)
for _ in $(seq 100); do [ -e "$TNET_FLEET/clients/admin/cert.pem" ] && break; sleep 0.1; done
"$bin/tnet-host" --name lab2 --home "$work/lab2" -l "quic/127.0.0.1:$p2" --no-multicast-scouting 2>"$work/lab2.log" &
pids+=($!)
tnet() { "$bin/tnet" --no-multicast-scouting -e "quic/127.0.0.1:$p1,quic/127.0.0.1:$p2" "$@"; }
for _ in $(seq 100); do [ "$(tnet hosts --json 2>/dev/null | grep -c '"host"')" = 2 ] && break; sleep 0.2; done

sed 's/"10s"/"2s"/' examples/price-habit.toml > "$work/price.toml"
cat > "$work/backup.toml" <<'TOML'
task_name = "backup"
task_type = "habit"
commands = ['echo "disk full" >&2; exit 3']
[task_details]
on_fail = "qmail"
[habit_details]
time_between_runs = "1h"
TOML
tnet run --host lab1 examples/hello-daemon.toml >/dev/null
tnet run --host lab1 "$work/price.toml" >/dev/null
tnet run --host lab2 examples/upper-service.toml >/dev/null
tnet run --host lab2 "$work/backup.toml" >/dev/null
# Enough runs of the price habit for a plot.
sleep 12

# The binary itself, not the function: its pid is what the cleanup kills.
"$bin/tnet" --no-multicast-scouting -e "quic/127.0.0.1:$p1,quic/127.0.0.1:$p2" \
  ui --listen 127.0.0.1:0 >"$work/ui.out" 2>"$work/ui.err" &
pids+=($!)
for _ in $(seq 100); do grep -q token= "$work/ui.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^tnet ui: //p' "$work/ui.out")
token=${url##*token=}
base=${url%/?token=*}

shoot() { # NAME PATH WIDTH HEIGHT
  timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/chromium" \
    --window-size="$3,$4" \
    --screenshot="$out/$1.png" "$base$2?token=$token" 2>/dev/null
  echo "docs/ui/$1.png" >&2
}
shoot hosts / 1100 420
shoot tasks /tasks 1280 480
shoot task /task/lab1/hello 1100 900
shoot habits /habits 1100 1000
shoot services /services 1100 700
shoot inbox /inbox 1100 420
shoot phone-tasks /tasks 390 844
