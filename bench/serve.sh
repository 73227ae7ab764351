#!/usr/bin/env bash
# Benchmark of `sluice serve` against the local test API server (see
# bench/serve_bench.py for what is measured). Prints each figure beside its
# peer's from the same run.
#
# Usage: bench/serve.sh [--apps 1000] [--objects 10] [--sync-runs 100] ...
#        KUBECONFIG=... bench/serve.sh   (uses that cluster instead)
# SLUICE_BIN picks the sluice binary (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
cleanup() {
    rm -f "$work/kubeconfig.path"
    if [[ -n "${hold_pid:-}" ]]; then wait "$hold_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=bench/cluster.sh
source "$here/bench/cluster.sh"
python3 "$here/bench/serve_bench.py" --work "$work/bench" "$@"
