#!/usr/bin/env bash
# npm run bench: the benchmarks on a local stack (scripts/bench.ts); writes BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci
exec node --import tsx scripts/bench.ts "$@"
