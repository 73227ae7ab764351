#!/usr/bin/env bash
# Runs sluice's whole test suite: formatting, lints, the plugins' native unit
# tests, the host's unit and end-to-end tests (against real Git servers and a
# real kube-apiserver started on 127.0.0.1 by the test harness), and builds
# the examples. Build outputs go to $HOME/.cache/sluice, outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
PLUGINS_TARGET="${SLUICE_PLUGINS_NATIVE_TARGET:-$HOME/.cache/sluice/plugins-native}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check
cargo fmt --manifest-path plugins/Cargo.toml --all -- --check

step "clippy (host, harness)"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy (plugins, wasm32-wasip2 and native tests)"
CARGO_TARGET_DIR="$PLUGINS_TARGET" cargo clippy --manifest-path plugins/Cargo.toml --workspace --target wasm32-wasip2 -- -D warnings
CARGO_TARGET_DIR="$PLUGINS_TARGET" cargo clippy --manifest-path plugins/Cargo.toml --workspace --all-targets -- -D warnings

step "plugins: native unit and conformance tests"
CARGO_TARGET_DIR="$PLUGINS_TARGET" cargo test --manifest-path plugins/Cargo.toml --workspace

step "host: unit and end-to-end tests"
cargo test --workspace

step "examples run"
CARGO_TARGET_DIR="$PLUGINS_TARGET" cargo build --release --target wasm32-wasip2 --manifest-path examples/hello-plugin/Cargo.toml
sluice="$CARGO_TARGET_DIR/debug/sluice"
hello="$PLUGINS_TARGET/wasm32-wasip2/release/hello_plugin.wasm"
out=$("$sluice" render examples/guestbook --renderer "$hello" -p prefix=f- -o json)
count=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$count" = 4 ] || { echo "hello-plugin example: expected 4 ConfigMaps, got $count"; exit 1; }
"$sluice" render examples/guestbook >/dev/null
echo "examples: ok"
