# Sourced by the whole-command benchmarks: builds the release binary (unless
# SLUICE_BIN is set) and starts the test API server through the harness
# (unless KUBECONFIG is set). Expects $here (the repository) and $work (a
# scratch directory); sets SLUICE_BIN, KUBECONFIG and hold_pid.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
hold_pid=""
if [[ -z "${SLUICE_BIN:-}" ]]; then
    (cd "$here" && cargo build --release -q -p sluice --bin sluice)
    SLUICE_BIN="$CARGO_TARGET_DIR/release/sluice"
fi
export SLUICE_BIN
if [[ -z "${KUBECONFIG:-}" ]]; then
    echo "starting the test cluster ..." >&2
    (cd "$here" && SLUICE_HOLD_CLUSTER="$work/kubeconfig.path" \
        cargo test -q -p sluice --test e2e kube::hold_cluster_for_bench -- --ignored --exact >/dev/null 2>&1) &
    hold_pid=$!
    for _ in $(seq 600); do [[ -s "$work/kubeconfig.path" ]] && break; sleep 0.5; done
    [[ -s "$work/kubeconfig.path" ]] || { echo "the test cluster did not start" >&2; exit 1; }
    KUBECONFIG="$(cat "$work/kubeconfig.path")"
fi
export KUBECONFIG
