#!/usr/bin/env bash
# Prints the path of a Prometheus server binary, installing one when none is found, for
# tests that run their own Prometheus (test/stack/metrics.test.ts). Never starts a service.
#
# Order: `prometheus` on PATH; one extracted earlier into .tools/prometheus/; the Debian
# package `prometheus` through `apt-get install -y` (as root or with password-less
# sudo; a temporary policy-rc.d stops the package from starting its service);
# otherwise the package is only downloaded and extracted into .tools/prometheus/ (no
# root needed). Exit 0 with the path on stdout, 1 when no binary could be had.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.tools/prometheus"
LOG="$ROOT/.tools/ensure-prometheus.log"

log() { echo "ensure-prometheus: $*" >&2; }
# shellcheck source=lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"

found() {
  if have prometheus; then
    command -v prometheus
  elif [ -x "$LOCAL/prometheus" ]; then
    echo "$LOCAL/prometheus"
  else
    return 1
  fi
}

found && exit 0
mkdir -p "$ROOT/.tools"
apt_ready prometheus || { log "prometheus not found and apt cannot install it"; exit 1; }

install_package() {
  local policy=/usr/sbin/policy-rc.d added=""
  # Debian's "do not start services" hook, only while installing (and only ours).
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy" || return 1
    added=1
  fi
  log "installing Debian package prometheus (its service is not started)"
  local status=0
  apt_install prometheus || status=$?
  if [ -n "$added" ]; then as_root rm -f "$policy"; fi
  return "$status"
}

extract_package() {
  log "downloading Debian package prometheus into $LOCAL (no root)"
  extract_from_deb prometheus "$LOCAL" prometheus promtool
}

install_package || true
found && exit 0
extract_package || true
found || { log "could not install prometheus (see $LOG)"; exit 1; }
