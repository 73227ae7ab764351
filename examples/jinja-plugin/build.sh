#!/usr/bin/env bash
# Builds the Jinja2 renderer with componentize-py: app.py plus jinja2,
# markupsafe and PyYAML (their pure-Python code; the native speedups are
# x86 code and are not used) and CPython itself, in one component of the
# sluice renderer world. The tools come from scripts/plugin-toolchains.sh.
#   build.sh [OUT.wasm]   (default: $HOME/.cache/sluice/examples/jinja.wasm)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
eval "$(bash "$root/scripts/plugin-toolchains.sh" | tail -n3)"
out="${1:-$HOME/.cache/sluice/examples/jinja.wasm}"
mkdir -p "$(dirname "$out")"
venv="$(dirname "$(dirname "$COMPONENTIZE_PY")")"
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cd "$here"
nice -n 10 "$COMPONENTIZE_PY" -q -d "$root/wit" -w renderer componentize app -p . -p "$site" -o "$out" >&2
echo "$out"
