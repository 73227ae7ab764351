#!/bin/sh
# Git source benchmarks: sluice vs git on loopback HTTP (servers started by
# sluice-testkit). Prints medians and peer/sluice ratios.
#   refresh with nothing changed      vs git fetch
#   first shallow fetch of 20k files  vs git clone --depth 1 --bare
#   reading 5,000 files via the tree  vs a DirTree over a checkout
set -eu
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
exec cargo bench -p sluice --bench git "$@"
