#!/usr/bin/env bash
# Builds the Handlebars renderer: bundle renderer.js with its npm
# dependencies (esbuild), then make a component of the sluice renderer world
# with componentize-js. The tools come from scripts/plugin-toolchains.sh.
#   build.sh [OUT.wasm]   (default: $HOME/.cache/sluice/examples/handlebars.wasm)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
eval "$(bash "$root/scripts/plugin-toolchains.sh" | tail -n3)"
out="${1:-$HOME/.cache/sluice/examples/handlebars.wasm}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"
NODE_PATH="$JS_TOOLS/node_modules" "$JS_TOOLS/node_modules/.bin/esbuild" "$here/renderer.js" \
  --bundle --format=esm --platform=neutral --main-fields=browser,module,main \
  --log-level=warning --outfile="$work/bundle.js"
# The host links WASI CLI interfaces (stdio, clocks, random) but not wasi:http.
cp -r "$root/wit" "$work/wit"
(cd "$work" && nice -n 10 "$COMPONENTIZE_JS" bundle.js --wit wit --world-name renderer \
  --disable http fetch-event --out plugin.wasm >&2)
mv "$work/plugin.wasm" "$out"
echo "$out"
