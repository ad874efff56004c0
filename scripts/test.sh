#!/usr/bin/env bash
# npm test: typecheck (server and browser code), lint, then the whole suite on a local stack (scripts/test.ts).
# Arguments are test files to run instead of all of test/**/*.test.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci
npx tsc -p tsconfig.json --noEmit
npx tsc -p web/tsconfig.json --noEmit
npx eslint .
exec node --import tsx scripts/test.ts "$@"
