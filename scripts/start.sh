#!/usr/bin/env bash
# npm start: install dependencies if needed, then run the whole stack in the foreground.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci
exec node --import tsx scripts/start.ts "$@"
