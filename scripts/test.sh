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

step "example plugin builds"
CARGO_TARGET_DIR="$PLUGINS_TARGET" cargo build --release --target wasm32-wasip2 --manifest-path examples/hello-plugin/Cargo.toml

step "host: unit and end-to-end tests"
cargo test --workspace
