#!/usr/bin/env bash
# Installs Playwright for Python (PyPI) into $HOME/.cache/sluice/playwright-venv
# for the dashboard's browser test, which drives Debian's chromium
# (/usr/bin/chromium; Playwright's own browsers are not downloaded).
# Idempotent and quick when already installed (a stamp records the version).
# Prints PLAYWRIGHT_PYTHON=... on its last line.
set -euo pipefail

CACHE="${SLUICE_TOOLCHAINS:-$HOME/.cache/sluice}"
VERSIONS="playwright==1.65.2"
venv="$CACHE/playwright-venv"
if [ "$(cat "$venv/.sluice-stamp" 2>/dev/null)" != "$VERSIONS" ]; then
  echo "installing $VERSIONS into $venv" >&2
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  nice -n 10 "$venv/bin/pip" install --quiet --disable-pip-version-check $VERSIONS >&2
  echo "$VERSIONS" >"$venv/.sluice-stamp"
fi
echo "PLAYWRIGHT_PYTHON=$venv/bin/python"
