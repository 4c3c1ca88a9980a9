#!/usr/bin/env bash
# Installs the npm packages the integration tests use, from their lock files:
# tests/integration/node (independent Arrow readers: apache-arrow, @duckdb/duckdb-wasm) and
# tests/integration/browser (puppeteer-core, driving Debian's chromium for the report test).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for dir in tests/integration/node tests/integration/browser; do
  [ -f "$root/$dir/package-lock.json" ] || continue
  cd "$root/$dir"
  if [ -d node_modules ] && [ package-lock.json -ot node_modules ]; then
    echo "install-test-npm: $dir/node_modules up to date"
    continue
  fi
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
done
