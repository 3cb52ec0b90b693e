#!/usr/bin/env bash
# Benchmarks service calls and prints the "Services" section of
# docs/benchmarks.md: a call through tnet's library next to a bare Zenoh query
# and a local spawn, the `tnet call` command next to `ssh localhost cat`
# (Debian's OpenSSH server, started here on a loopback port), and 100 MiB in
# and out; on the secure default and on --insecure, each next to its own
# floor. Runs as root (sshd); installs openssh-server if it is missing.
#
#   scripts/bench-services.sh                 # release build (the figures in docs/)
#   PROFILE=dev scripts/bench-services.sh     # quicker to build, slower to run
#   ROUNDS=50 scripts/bench-services.sh
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
rounds=${ROUNDS:-200}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")

cargo build --locked --profile "$profile" -p tnet-host -p tnet-cli \
  --bin tnet --bin tnet-host --example bench_services >&2

if ! command -v /usr/sbin/sshd >/dev/null; then
  apt-get update -qq >&2 && apt-get install -y -qq openssh-server >&2
fi

work=$(mktemp -d)
sshd_pid=
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p /run/sshd
cat > "$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
UsePAM no
StrictModes no
PasswordAuthentication no
PermitRootLogin prohibit-password
CONF
/usr/sbin/sshd -t -f "$work/sshd_config"
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 100); do
  ssh -p "$port" -i "$work/client_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$(id -un)@127.0.0.1" true 2>/dev/null && break
  sleep 0.1
done

echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m)), profile $profile, load average$(uptime | sed 's/.*load average://'):"
echo
# The secure default (a fresh fleet, created by the host's first start), then
# --insecure, each next to its own floor and to ssh.
fleet="$work/fleet"
for mode in secure insecure; do
  echo "### $([ "$mode" = secure ] && echo 'Secure default' || echo '`--insecure`')"
  echo
  if [ "$mode" = secure ]; then
    set -- env -u TNET_INSECURE TNET_FLEET="$fleet" TNET_IDENTITY="$fleet/clients/admin"
  else
    set -- env TNET_INSECURE=1 TNET_FLEET="$fleet"
  fi
  "$@" "target/$dir/examples/bench_services" --bin-dir "target/$dir" --rounds "$rounds" \
    --ssh-port "$port" --ssh-key "$work/client_key" --ssh-user "$(id -un)"
  echo
done
