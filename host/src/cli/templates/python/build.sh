#!/usr/bin/env bash
# Builds __NAME__.wasm: a component of the sluice renderer world.
# Needs componentize-py (pip install componentize-py==0.25.1), or set
# COMPONENTIZE_PY to its path. Pure-Python dependencies: install them into
# a directory and add `-p THAT_DIR` below.
set -euo pipefail
cd "$(dirname "$0")"
"${COMPONENTIZE_PY:-componentize-py}" -d wit -w renderer componentize app -p . -o __NAME__.wasm
echo "built $(pwd)/__NAME__.wasm"
