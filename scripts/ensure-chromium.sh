#!/usr/bin/env bash
# Prints the path of a Chromium binary for the browser tests (test/stack/web.test.ts),
# installing Debian's `chromium` package when none is found (as root or with
# password-less sudo). Never starts anything. Exit 0 with the path on stdout, 1 when
# no binary could be had.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG="$ROOT/.tools/ensure-chromium.log"

log() { echo "ensure-chromium: $*" >&2; }
# shellcheck source=lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"

found() {
  if [ -x /usr/bin/chromium ]; then
    echo /usr/bin/chromium
  elif have chromium; then
    command -v chromium
  else
    return 1
  fi
}

found && exit 0
mkdir -p "$ROOT/.tools"
apt_ready chromium || { log "chromium not found and apt cannot install it"; exit 1; }
log "installing Debian package chromium"
apt_install chromium || true
found || { log "could not install chromium (see $LOG)"; exit 1; }
