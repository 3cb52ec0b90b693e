#!/usr/bin/env bash
# Installs what the test suite needs from outside cargo. Safe to run again.
set -euo pipefail

need_apt=()
command -v sh >/dev/null || need_apt+=(dash)
# `tnet ssh` is tested against a real OpenSSH server on a loopback port.
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh >/dev/null || need_apt+=(openssh-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "test-deps: please install: ${need_apt[*]}" >&2
    exit 1
  fi
fi
