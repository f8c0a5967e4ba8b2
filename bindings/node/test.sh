#!/usr/bin/env bash
# Builds and tests the Node addon (@extism-rs/extism). Works on a fresh machine
# with node, npm and cargo: installs the devDependencies from the registry,
# builds the addon in release into the workspace's shared target dir, builds
# the PDK fixtures if needed, type-checks the .d.ts files and runs node --test.
# Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export EXTISM_FIXTURES="${EXTISM_FIXTURES:-$repo/target/fixtures}"

cd "$here"

echo "node test.sh: npm install" >&2
# The install script is run explicitly below, so that its output is not hidden.
EXTISM_NODE_SKIP_BUILD=1 npm install --no-audit --no-fund --loglevel=error

echo "node test.sh: cargo build --release -p extism-node (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
node scripts/install.js

echo "node test.sh: fixtures" >&2
"$repo/tests/fixtures/pdk/build.sh" "$EXTISM_FIXTURES"

echo "node test.sh: tsc --noEmit" >&2
node_modules/.bin/tsc --noEmit -p tsconfig.json

echo "node test.sh: node --test" >&2
# A deadlock fails its test instead of hanging the run.
node --test --test-timeout=120000 test/*.test.mjs
