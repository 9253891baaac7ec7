#!/usr/bin/env bash
# Builds the ferry-agent Debian package (a release build: several minutes), lints it when lintian is installed,
# and verifies its systemd unit from the package's own files. Prints the .deb's path last.
#   packaging/build-deb.sh            (CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

if ! command -v cargo-deb >/dev/null; then
  log "installing cargo-deb"
  cargo install cargo-deb --locked
fi

log "building the package (release)"
# --dbgsym: a stripped binary in the package, its debug symbols in ferry-agent-dbgsym_*.ddeb beside it.
deb=$(cargo deb --locked --dbgsym -p ferry-agent | grep '\.deb$' | tail -n 1)
[ -f "$deb" ] || { echo "error: cargo deb printed no package path (got: $deb)" >&2; exit 1; }
dpkg-deb --info "$deb" >&2
dpkg-deb --contents "$deb" >&2

if command -v lintian >/dev/null; then
  log "lintian"
  # Findings are reported, not fatal: the package is built with cargo-deb, not debhelper.
  lintian --info --display-info "$deb" >&2 || true
else
  log "lintian is not installed (apt-get install lintian): skipped"
fi

if command -v systemd-analyze >/dev/null; then
  log "systemd-analyze verify and security, on the unpacked package"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  dpkg-deb -x "$deb" "$root"
  mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system"
  cp -rn /lib/systemd/system "$root/usr/lib/systemd/"
  unit=$(cd "$root" && find . -path '*/systemd/system/ferry-agent.service' | sed 's|^\.||' | head -n 1)
  [ -n "$unit" ] || { echo "error: the package holds no ferry-agent.service" >&2; exit 1; }
  systemd-analyze verify --root="$root" "$unit"
  systemd-analyze security --offline=true --root="$root" "$unit" | tail -n 1 >&2
else
  log "systemd-analyze is not installed: unit not verified"
fi

echo "$deb"
