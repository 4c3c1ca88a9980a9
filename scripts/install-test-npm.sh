#!/usr/bin/env bash
# Installs the npm packages the integration tests use as independent readers (apache-arrow,
# @duckdb/duckdb-wasm) into tests/integration/node/node_modules, from the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/integration/node"
if [ -d node_modules ] && [ package-lock.json -ot node_modules ]; then
  echo "install-test-npm: node_modules up to date"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
touch node_modules
