#!/usr/bin/env bash
# Builds __NAME__.wasm: a component of the sluice renderer world.
# Needs the Rust target: rustup target add wasm32-wasip2
set -euo pipefail
cd "$(dirname "$0")"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --target wasm32-wasip2
cp "$target/wasm32-wasip2/release/__CRATE__.wasm" __NAME__.wasm
echo "built $(pwd)/__NAME__.wasm"
