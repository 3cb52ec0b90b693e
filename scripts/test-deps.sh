#!/usr/bin/env bash
# Installs what the test suite needs from outside cargo. Safe to run again.
set -euo pipefail

need_apt=()
command -v sh >/dev/null || need_apt+=(dash)
# `tnet ssh` is tested against a real OpenSSH server on a loopback port.
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh >/dev/null || need_apt+=(openssh-client)
# Docker tests import a busybox root filesystem as their image (no registry),
# and drive the engine with its command line.
[ -x /bin/busybox ] || need_apt+=(busybox-static)
# Docker pulls are tested against a real registry on a loopback port
# (tests/it/docker/registry.rs): Debian's docker-registry, the reference implementation.
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
# The discovery test makes network namespaces with iproute2 (tests/harness/netns.rs).
command -v ip >/dev/null || need_apt+=(iproute2)
# The derived-image test builds a Debian image with debootstrap (once; kept).
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
# The systemd unit `tnet-host systemd install` writes is checked by systemd's
# own `systemd-analyze verify`, which needs no systemd running as PID 1.
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
# The package test (tests/it/packaging.rs) builds tnet's .deb with cargo-deb,
# which reads shared-library dependencies with dpkg-shlibdeps and strips with binutils.
command -v dpkg-shlibdeps >/dev/null || need_apt+=(dpkg-dev)
command -v strip >/dev/null || need_apt+=(binutils)
# `tnet ui`'s end-to-end tests (tests/it/ui.rs) drive Debian's headless Chromium
# over the DevTools protocol.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if ! command -v docker >/dev/null; then
  if apt-cache show docker-cli >/dev/null 2>&1; then need_apt+=(docker-cli); else need_apt+=(docker.io); fi
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "test-deps: please install: ${need_apt[*]}" >&2
    exit 1
  fi
fi

# The Python interoperability test (tests/python/) subscribes with the plain
# Zenoh package whose version matches the zenoh crate in Cargo.lock.
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("eclipse-zenoh") != "1.10.2")' 2>/dev/null; then
  pip_args=(--quiet --disable-pip-version-check)
  # Debian's python marks its packages as externally managed (PEP 668).
  pip_help=$(python3 -m pip install --help 2>/dev/null || true)
  if [[ $pip_help == *--break-system-packages* ]]; then
    pip_args+=(--break-system-packages)
  fi
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install "${pip_args[@]}" eclipse-zenoh==1.10.2
fi

# Notification tests send mail to a real SMTP server (tests/python/smtp_server.py).
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("aiosmtpd") != "1.4.6")' 2>/dev/null; then
  pip_args=(--quiet --disable-pip-version-check)
  if python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
    pip_args+=(--break-system-packages)
  fi
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install "${pip_args[@]}" aiosmtpd==1.4.6
fi

# Hosts and clients beyond one LAN meet through Zenoh's router (tests/it/fleet.rs,
# docs/fleet.md): zenohd of the same Zenoh version as the zenoh crate in Cargo.lock.
zenohd_bin=$(command -v zenohd || echo "${CARGO_HOME:-$HOME/.cargo}/bin/zenohd")
if ! "$zenohd_bin" --version 2>/dev/null | grep -q '1\.10\.2'; then
  cargo install zenohd --version 1.10.2 --locked
fi

# `scripts/fuzz.sh --brief` (.ci/run) runs the fuzz targets of fuzz/ with
# cargo-fuzz on the nightly toolchain.
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# `scripts/package-deb.sh` (and the package test) makes tnet's Debian package with cargo-deb.
if ! cargo deb --version 2>/dev/null | grep -q '3\.8\.0'; then
  cargo install cargo-deb --version 3.8.0 --locked
fi
