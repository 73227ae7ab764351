#!/usr/bin/env bash
# Installs the toolchains that build the Python and JavaScript example
# renderers, from the package registries only, into $HOME/.cache/sluice:
#   - py-venv/: a Python venv with componentize-py and jinja2 (PyPI)
#   - js-tools/: @bytecodealliance/componentize-js (with jco, which it
#     depends on), esbuild, and the example's handlebars and yaml (npm).
#     preview2-shim is pinned to 0.17: componentize-js 0.23 runs its WIT
#     splicer on it and needs the 0.17 default of a `/` preopen (0.26 has no
#     preopens by default, and both `jco componentize` 1.35 and
#     `componentize-js` then fail with "No such file or directory").
# Idempotent and quick when already installed (a stamp file per toolchain
# records the pinned versions). Prints the tool paths as
#   COMPONENTIZE_PY=...
#   COMPONENTIZE_JS=...
#   JS_TOOLS=...        (its node_modules holds esbuild and the JS deps)
# on its last three lines, for `eval`.
set -euo pipefail

CACHE="${SLUICE_TOOLCHAINS:-$HOME/.cache/sluice}"
PY_VERSIONS="componentize-py==0.25.1 jinja2==3.1.6 pyyaml==6.0.3"
JS_VERSIONS="@bytecodealliance/jco@1.35.0 @bytecodealliance/componentize-js@0.23.0 @bytecodealliance/preview2-shim@0.17.9 esbuild@0.28.2 handlebars@4.7.8 yaml@2.9.1"

venv="$CACHE/py-venv"
if [ "$(cat "$venv/.sluice-stamp" 2>/dev/null)" != "$PY_VERSIONS" ]; then
  echo "installing $PY_VERSIONS into $venv" >&2
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  nice -n 10 "$venv/bin/pip" install --quiet --disable-pip-version-check $PY_VERSIONS >&2
  echo "$PY_VERSIONS" >"$venv/.sluice-stamp"
fi

js="$CACHE/js-tools"
if [ "$(cat "$js/.sluice-stamp" 2>/dev/null)" != "$JS_VERSIONS" ]; then
  echo "installing $JS_VERSIONS into $js" >&2
  mkdir -p "$js"
  [ -f "$js/package.json" ] || echo '{"name":"sluice-js-tools","private":true}' >"$js/package.json"
  # shellcheck disable=SC2086
  (cd "$js" && nice -n 10 npm install --silent --no-audit --no-fund $JS_VERSIONS >&2)
  echo "$JS_VERSIONS" >"$js/.sluice-stamp"
fi

echo "COMPONENTIZE_PY=$venv/bin/componentize-py"
echo "COMPONENTIZE_JS=$js/node_modules/.bin/componentize-js"
echo "JS_TOOLS=$js"
