#!/usr/bin/env bash
# Prints the path of a Chromium binary for the browser tests (test/web.e2e.test.ts),
# installing Debian's `chromium` package when none is found (as root or with
# password-less sudo). Never starts anything. Exit 0 with the path on stdout, 1 when
# no binary could be had.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG="$ROOT/.tools/ensure-chromium.log"

log() { echo "ensure-chromium: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif have sudo && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

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
have apt-get || { log "chromium not found and no apt-get to install it"; exit 1; }
mkdir -p "$ROOT/.tools"
# Package lists may be empty on a fresh image: refresh once when the lookup fails.
apt-cache show chromium >/dev/null 2>&1 || as_root apt-get update -qq >>"$LOG" 2>&1 || true
log "installing Debian package chromium"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  chromium >>"$LOG" 2>&1 || true
found || { log "could not install chromium (see $LOG)"; exit 1; }
