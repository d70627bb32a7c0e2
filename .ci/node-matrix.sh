#!/usr/bin/env bash
# Runs the suite on the other Node LTS lines than the machine's own (set NODE_VERSIONS to change). Each Node
# comes from the npm registry's `node` package (its binary and headers); the repository is
# copied, better-sqlite3's native addon rebuilt there for that Node's ABI, and the tests run with that Node,
# which also runs every CLI and daemon subprocess the tests start (they use process.execPath).
# The fault and benchmark suites stay on the main run: they test beamsync's logic, not the runtime.
# On Node 22 and later beamsync uses better-sqlite3 13 (Node-API, prebuilt; src/sqlite.ts): 12 aborts on
# Node 24.19 and later ("Assertion failed: (env) != nullptr" in RemoveEnvironmentCleanupHook when it collects a
# statement). 12 is still rebuilt here for the tests' own fixtures that run on Node 20 only.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
cache="${BEAMSYNC_CI_CACHE:-${TMPDIR:-/tmp}/beamsync-ci-cache}"
subset=(test/unit test/sources test/mapping test/destinations test/fakes test/integration test/cli test/state)

for version in ${NODE_VERSIONS:-22 24}; do
  started=$SECONDS
  runtime="$cache/node-$version"
  if [ ! -x "$runtime/node_modules/node/bin/node" ]; then
    rm -rf "$runtime" && mkdir -p "$runtime"
    (cd "$runtime" && npm install --no-save --no-audit --no-fund --loglevel=error "node@$version" >/dev/null)
  fi
  node_bin="$runtime/node_modules/node/bin"
  headers="$runtime/node_modules/node/node_modules/node-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')"

  copy="$(mktemp -d)"
  trap 'rm -rf "$copy"' EXIT
  cp -a "$repo/." "$copy/"
  (
    cd "$copy"
    export PATH="$node_bin:$PATH" npm_config_nodedir="$headers" npm_config_build_from_source=true
    echo "== Node $(node --version): rebuilding better-sqlite3"
    npm rebuild better-sqlite3 --loglevel=error >/dev/null
    node -e 'import("./dist/src/sqlite.js").then((m) => { new m.Database(":memory:").close(); console.log("driver:", m.sqliteDriver); })'
    node_modules/.bin/vitest run "${subset[@]}"
  )
  rm -rf "$copy"
  trap - EXIT
  echo "== Node $version: passed in $((SECONDS - started)) s"
done
