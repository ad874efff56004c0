#!/usr/bin/env bash
# Prints the path of a Prometheus server binary, installing one when none is found, for
# tests that run their own Prometheus (test/metrics.test.ts). Never starts a service.
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
  if have prometheus; then
    command -v prometheus
  elif [ -x "$LOCAL/prometheus" ]; then
    echo "$LOCAL/prometheus"
  else
    return 1
  fi
}

found && exit 0
have apt-get || { log "prometheus not found and no apt-get to install it"; exit 1; }
mkdir -p "$ROOT/.tools"

# Package lists may be empty on a fresh image: refresh once when the lookup fails.
apt-cache show prometheus >/dev/null 2>&1 || as_root apt-get update -qq >>"$LOG" 2>&1 || true

install_package() {
  local policy=/usr/sbin/policy-rc.d added=""
  # Debian's "do not start services" hook, only while installing (and only ours).
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy" || return 1
    added=1
  fi
  log "installing Debian package prometheus (its service is not started)"
  local status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus >>"$LOG" 2>&1 || status=$?
  if [ -n "$added" ]; then as_root rm -f "$policy"; fi
  return "$status"
}

extract_package() {
  log "downloading Debian package prometheus into $LOCAL (no root)"
  local tmp
  tmp="$(mktemp -d)"
  if (cd "$tmp" && apt-get download prometheus >>"$LOG" 2>&1 && dpkg-deb -x prometheus_*.deb x) &&
    [ -x "$tmp/x/usr/bin/prometheus" ]; then
    mkdir -p "$LOCAL"
    mv "$tmp/x/usr/bin/prometheus" "$LOCAL/prometheus"
    [ -x "$tmp/x/usr/bin/promtool" ] && mv "$tmp/x/usr/bin/promtool" "$LOCAL/promtool"
  fi
  rm -rf "$tmp"
}

install_package || true
found && exit 0
extract_package || true
found || { log "could not install prometheus (see $LOG)"; exit 1; }
