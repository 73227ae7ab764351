#!/usr/bin/env bash
# Builds __NAME__.wasm: a component of the sluice renderer world.
# Run `npm install` first (componentize-js; preview2-shim stays at 0.17,
# whose default `/` preopen componentize-js 0.23 needs), or set
# COMPONENTIZE_JS to a componentize-js installed elsewhere. To use npm
# packages, bundle renderer.js into one ES module first (e.g. with esbuild).
set -euo pipefail
cd "$(dirname "$0")"
"${COMPONENTIZE_JS:-./node_modules/.bin/componentize-js}" renderer.js --wit wit \
  --world-name renderer --disable http fetch-event --out __NAME__.wasm
echo "built $(pwd)/__NAME__.wasm"
