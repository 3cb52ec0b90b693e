#!/usr/bin/env bash
# Puts `tnet` and `tnet-host` on the PATH: one release build of both, copied
# into PREFIX/bin (default /usr/local as root, ~/.local otherwise), with
# their man pages in PREFIX/share/man/man1. docs/install.md has the other
# ways (cargo install, the Debian package).
#
#   scripts/install.sh
#   PREFIX=/opt/tnet scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PREFIX:-}" ]; then
  if [ "$(id -u)" = 0 ]; then PREFIX=/usr/local; else PREFIX=$HOME/.local; fi
fi
cargo build --release --locked -p tnet-cli -p tnet-host
target=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
install -d "$PREFIX/bin" "$PREFIX/share/man/man1"
install -m 755 "$target/release/tnet" "$target/release/tnet-host" "$PREFIX/bin/"
"$PREFIX/bin/tnet" manpages "$PREFIX/share/man/man1"
"$PREFIX/bin/tnet-host" manpages "$PREFIX/share/man/man1"
echo "installed tnet and tnet-host in $PREFIX/bin, man pages in $PREFIX/share/man/man1"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "$PREFIX/bin is not on your PATH: add it, e.g. export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
echo "shell completions: tnet completions bash|zsh|fish (see tnet completions --help)"
