#!/usr/bin/env bash
# Renderer plugins in three languages, the same input rendered by each:
#   the Rust hello plugin (examples/hello-plugin), the Python Jinja2 renderer
#   (examples/jinja-plugin) and the JavaScript Handlebars renderer
#   (examples/handlebars-plugin), over examples/template-cases/basic.
# Prints per plugin: component size, first load (compile + instantiate +
# describe, empty compile cache), cached load (from the compile cache +
# instantiate + describe), and the median of 5 renders (fresh instance each,
# as every sluice render). Timings come from `sluice plugin test --timings`,
# with the default limits. Needs the toolchains (scripts/plugin-toolchains.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
plugins_target="${SLUICE_PLUGINS_NATIVE_TARGET:-$HOME/.cache/sluice/plugins-native}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# PROFILE=debug measures the debug build (wasmtime is much slower there).
profile="${PROFILE:-release}"
cargo build -q --profile "$([ "$profile" = debug ] && echo dev || echo release)" -p sluice
sluice="$CARGO_TARGET_DIR/$profile/sluice"
CARGO_TARGET_DIR="$plugins_target" cargo build -q --release --target wasm32-wasip2 \
  --manifest-path examples/hello-plugin/Cargo.toml
cp "$plugins_target/wasm32-wasip2/release/hello_plugin.wasm" "$work/hello.wasm"
bash examples/jinja-plugin/build.sh "$work/jinja.wasm" >/dev/null
bash examples/handlebars-plugin/build.sh "$work/handlebars.wasm" >/dev/null

# Five copies of one case, no expectation: only the timings matter here.
for i in 1 2 3 4 5; do
  mkdir -p "$work/cases/run$i"
  cp -r examples/template-cases/basic/input "$work/cases/run$i/input"
  printf 'path: web\nappName: shop\n' >"$work/cases/run$i/context.yaml"
done

echo "sluice $profile build; median of 5 renders"
printf '%-12s %10s %14s %14s %12s\n' PLUGIN SIZE_MB FIRST_LOAD_MS CACHED_LOAD_MS RENDER_MS
for p in hello jinja handlebars; do
  cache="$work/cache-$p"
  size=$(stat -c %s "$work/$p.wasm")
  # (exit 1 is expected: the cases have no expectations)
  first=$(SLUICE_CACHE_DIR="$cache" "$sluice" plugin test "$work/$p.wasm" "$work/cases/run1" --timings 2>&1 >/dev/null || true)
  first=$(printf '%s\n' "$first" | awk '/^load:/ {print $2}')
  out=$(SLUICE_CACHE_DIR="$cache" "$sluice" plugin test "$work/$p.wasm" "$work/cases" --timings 2>&1 >/dev/null || true)
  cached=$(printf '%s\n' "$out" | awk '/^load:/ {print $2}')
  render=$(printf '%s\n' "$out" | awk '/^render / {print $3}' | sort -n | sed -n 3p)
  printf '%-12s %10.1f %14s %14s %12s\n' "$p" "$(awk "BEGIN {print $size / 1048576}")" "$first" "$cached" "$render"
done
