#!/usr/bin/env bash
# Offline checks of the deployment files: docker-compose.yml through the Compose CLI's
# own parser (`docker compose config -q`), monitoring/prometheus.yml and alerts.yml
# through promtool, the Grafana dashboards as JSON, and that every compiled entry point
# (`dist/....js`) docker-compose.yml and the Dockerfile run has its TypeScript source in
# the build (tsconfig.build.json). No Docker engine is needed.
#
# Tools are found or installed once (quiet when present):
# - Compose v2: `docker compose` if the plugin is installed; otherwise built from the Go
#   module github.com/docker/compose/v2 into .tools/ (a few minutes the first time) and
#   run as a `docker` CLI plugin through DOCKER_CONFIG=.tools/docker (or standalone
#   when there is no docker CLI).
# - Compose v1: a `docker-compose` on PATH is also run when present; installed from the
#   Debian package `docker-compose` only when no Compose CLI could be obtained.
# - promtool: on PATH, or extracted from the Debian package `prometheus` into .tools/
#   (`apt-get download`, so no Prometheus service gets installed or started).
#
# The secrets docker-compose.yml requires (no defaults) get placeholders for the checks,
# and each is checked to be required: without it, `compose config` must refuse to run.
#
# Usage: scripts/check-compose.sh          run the checks
#        scripts/check-compose.sh --json   print the resolved compose config as JSON
# Exit: 0 ok, 1 a check failed, 77 no Compose CLI could be obtained (callers skip).
# Env: COMPOSE_VERSION (default v2.29.7), CHECK_COMPOSE_NO_INSTALL=1 to install nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE_FILE="$ROOT/docker-compose.yml"
COMPOSE_VERSION="${COMPOSE_VERSION:-v2.29.7}"
TOOLS="$ROOT/.tools"
PLUGIN_DIR="$TOOLS/docker/cli-plugins"
PLUGIN="$PLUGIN_DIR/docker-compose"
PROMTOOL_DIR="$TOOLS/promtool"
LOG="$TOOLS/check-compose.log"
SKIP=77

log() { echo "check-compose: $*" >&2; }
# shellcheck source=lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
may_install() { [ "${CHECK_COMPOSE_NO_INSTALL:-}" != 1 ]; }

# --- Compose CLIs ----------------------------------------------------------------

install_compose_v2() {
  have go || return 1
  [ -e "$TOOLS/compose/go-install-failed" ] && return 1
  mkdir -p "$TOOLS/compose/bin" "$PLUGIN_DIR"
  log "building docker compose $COMPOSE_VERSION from the Go module (first time only, a few minutes)"
  if GOFLAGS=-buildvcs=false GOBIN="$TOOLS/compose/bin" go install \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION" >>"$LOG" 2>&1; then
    mv "$TOOLS/compose/bin/cmd" "$PLUGIN"
  else
    # Remembered so that an offline machine does not retry on every run; delete to retry.
    touch "$TOOLS/compose/go-install-failed"
    log "go install of docker compose failed (see $LOG)"
    return 1
  fi
}

install_compose_v1() {
  apt_ready docker-compose || return 1
  log "installing Debian package docker-compose"
  apt_install docker-compose
}

# Fills COMPOSES with one command line per available Compose implementation.
COMPOSES=()
find_composes() {
  COMPOSES=()
  if have docker && docker compose version >/dev/null 2>&1; then
    COMPOSES+=("docker compose")
  elif [ -x "$PLUGIN" ] || { may_install && install_compose_v2; }; then
    if have docker && DOCKER_CONFIG="$TOOLS/docker" docker compose version >/dev/null 2>&1; then
      COMPOSES+=("env DOCKER_CONFIG=$TOOLS/docker docker compose")
    else
      COMPOSES+=("$PLUGIN")
    fi
  fi
  if have docker-compose; then
    COMPOSES+=("docker-compose")
  elif [ ${#COMPOSES[@]} -eq 0 ] && may_install && install_compose_v1 && have docker-compose; then
    COMPOSES+=("docker-compose")
  fi
}

compose() { # compose "<command line>" args...
  local cmd=$1
  shift
  # shellcheck disable=SC2086 # the command line is split on purpose
  $cmd --project-directory "$ROOT" -f "$COMPOSE_FILE" "$@"
}

# --- promtool ----------------------------------------------------------------------

PROMTOOL=""
find_promtool() {
  if have promtool; then
    PROMTOOL=promtool
  elif [ -x "$PROMTOOL_DIR/promtool" ]; then
    PROMTOOL="$PROMTOOL_DIR/promtool"
  elif may_install && apt_ready prometheus; then
    log "extracting promtool from Debian package prometheus"
    extract_from_deb prometheus "$PROMTOOL_DIR" promtool && PROMTOOL="$PROMTOOL_DIR/promtool"
  fi
}

# --- required secrets -----------------------------------------------------------

REQUIRED_SECRETS=(JWT_SECRET POSTGRES_PASSWORD GRAFANA_ADMIN_PASSWORD TEMPORAL_PAYLOAD_KEYS)
for name in "${REQUIRED_SECRETS[@]}"; do
  # Placeholders, not defaults: a real deployment sets them in .env.
  export "$name=${!name:-check-compose-placeholder-$name}"
done

# Fails unless `compose config` refuses to run without each required secret.
check_required_secrets() { # check_required_secrets "<command line>"
  local c=$1 name out
  for name in "${REQUIRED_SECRETS[@]}"; do
    if out="$(env -u "$name" --chdir=/ $c --project-directory "$ROOT" -f "$COMPOSE_FILE" --env-file /dev/null config -q 2>&1)"; then
      log "$c config ran without $name: docker-compose.yml must require it (\${$name:?...})"
      status=1
    elif ! grep -q "$name" <<<"$out"; then
      log "$c config refused to run without $name, but did not name it: $out"
      status=1
    fi
  done
}

# --- main ------------------------------------------------------------------------

mkdir -p "$TOOLS"
find_composes
if [ ${#COMPOSES[@]} -eq 0 ]; then
  log "no Compose CLI available or installable (tried: docker compose plugin, go install github.com/docker/compose/v2/cmd@$COMPOSE_VERSION, Debian docker-compose)"
  exit "$SKIP"
fi

if [ "${1:-}" = "--json" ]; then
  for c in "${COMPOSES[@]}"; do
    # Compose v1 answers an unknown --format with its usage text and status 0.
    if out="$(compose "$c" config --format json 2>/dev/null)" && [ "${out:0:1}" = "{" ]; then
      printf '%s\n' "$out"
      exit 0
    fi
  done
  # Compose v1 prints YAML only; its own dependency PyYAML converts it.
  compose "${COMPOSES[0]}" config |
    python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout, indent=2)'
  exit 0
fi

status=0
for c in "${COMPOSES[@]}"; do
  if ! out="$(compose "$c" config -q 2>&1)"; then
    log "$c config rejected docker-compose.yml:"
    echo "$out" >&2
    status=1
  fi
  check_required_secrets "$c"
done

find_promtool
if [ -n "$PROMTOOL" ]; then
  if ! out="$("$PROMTOOL" check config "$ROOT/monitoring/prometheus.yml" 2>&1)"; then
    log "promtool check config failed:"
    echo "$out" >&2
    status=1
  fi
  if ! out="$("$PROMTOOL" check rules "$ROOT/monitoring/alerts.yml" 2>&1)"; then
    log "promtool check rules failed:"
    echo "$out" >&2
    status=1
  fi
else
  log "promtool not available: Prometheus files not checked"
fi

# dist/x/y.js is compiled from x/y.ts, which must exist and be under an include of
# tsconfig.build.json (a directory or the file itself).
for entry in $(grep -ohE 'dist/[A-Za-z0-9_/.-]+\.js' "$COMPOSE_FILE" "$ROOT/Dockerfile" | sort -u); do
  [ "$entry" = dist/workflow-bundle.js ] && continue # written by scripts/build-release.ts
  source="${entry#dist/}"
  source="${source%.js}.ts"
  if [ ! -f "$ROOT/$source" ]; then
    log "$entry is run but $source does not exist"
    status=1
  elif ! node -e '
    const [source, config] = process.argv.slice(1);
    const include = JSON.parse(require("fs").readFileSync(config, "utf8").replace(/^\s*\/\/.*$/gm, "")).include;
    process.exit(include.some((i) => source === i || source.startsWith(i + "/")) ? 0 : 1);
  ' "$source" "$ROOT/tsconfig.build.json"; then
    log "$entry is run but $source is not in tsconfig.build.json's include"
    status=1
  fi
done

for f in "$ROOT"/monitoring/grafana/dashboards/*.json; do
  if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$f" 2>/dev/null; then
    log "$f is not valid JSON"
    status=1
  fi
done

exit "$status"
