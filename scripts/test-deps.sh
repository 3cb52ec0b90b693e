#!/usr/bin/env bash
# Installs what the test suite needs from outside cargo. Safe to run again.
set -euo pipefail

need_apt=()
command -v sh >/dev/null || need_apt+=(dash)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "test-deps: please install: ${need_apt[*]}" >&2
    exit 1
  fi
fi

# The Python test calls a service with the eclipse-zenoh package alone (no tnet
# code); its version matches the zenoh crate.
if ! python3 -m pip show eclipse-zenoh 2>/dev/null | grep -qx 'Version: 1.10.2'; then
  if ! command -v python3 >/dev/null; then
    echo "test-deps: please install python3 (and pip)" >&2
    exit 1
  fi
  python3 -m pip install --quiet eclipse-zenoh==1.10.2
fi
