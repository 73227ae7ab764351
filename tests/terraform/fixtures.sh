#!/usr/bin/env bash
# Regenerates the committed plan fixtures, tests/terraform/fixtures/, with
# real OpenTofu and the real kubernetes provider (tests/terraform/build.sh)
# against the real test API server (started through the test harness, as
# bench/kube.sh does, by tests/terraform/hold; unless KUBECONFIG names a
# cluster to use).
#
#   typed.tfplan.json        every typed resource sluice converts, _v1 names; sensitive values
#   typed-plain.tfplan.json  the same by their plain names (v1beta1 Ingress and CronJob schemas)
#   manifest.tfplan.json     kubernetes_manifest resources; a sensitive value
#   lifecycle-before.tfplan.json  lifecycle-1, all to create
#   lifecycle.tfplan.json    no-op, update, replace, delete, forget, drift (planned against
#                            the state lifecycle-1 left, after a kubectl edit)
#   lifecycle-after.tfplan.json   the same after it was applied: all unchanged
#   target.tfplan.json       a -target plan against that state (partial)
#   unknown.tfplan.json      a value known only after apply
#   errored.tfplan.json      a failed precondition (errored: true)
#   other.tfplan.json        terraform_data resources next to a ConfigMap, and a data source
#   unsupported.tfplan.json  a kubernetes_limit_range_v1 (a type sluice does not convert)
#   refused.tfplan.json      a sensitive label value the API server refuses (and quotes)
#   bench.tfplan.json        1,000 typed resources, for the renderer's benchmark
#   oracle-a/-b.tfplan.json  typed + manifest in two namespaces, for the oracle test
#   lifecycle-state.json     `tofu show -json` of a state, and
#   lifecycle.tfstate        the raw state: both must be refused
#
# Every namespace in the plans is fixed (tf-<name>), so the files only
# change when OpenTofu, the provider or a configuration changes.
#
# Usage: tests/terraform/fixtures.sh        (needs Go, the module proxy,
#        and the provider binary where build.sh says, when the proxy lacks it)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$here/fixtures"
tf_dir="$(bash "$here/build.sh" | tail -n1)"
tofu="$tf_dir/tofu"
export TF_CLI_CONFIG_FILE="$tf_dir/tofurc"
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

work="$(mktemp -d)"
hold_pid=""
cleanup() {
    rm -f "$work/kubeconfig.path"
    if [[ -n "$hold_pid" ]]; then wait "$hold_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "${KUBECONFIG:-}" ]]; then
    echo "starting the test cluster ..." >&2
    hold_target="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}/hold-cluster"
    cargo build -q --manifest-path "$here/hold/Cargo.toml" --target-dir "$hold_target"
    "$hold_target/debug/sluice-test-hold-cluster" "$work/kubeconfig.path" >"$work/hold.log" 2>&1 &
    hold_pid=$!
    for _ in $(seq 1200); do [[ -s "$work/kubeconfig.path" ]] && break; sleep 0.5; done
    [[ -s "$work/kubeconfig.path" ]] || { echo "the test cluster did not start" >&2; exit 1; }
    KUBECONFIG="$(cat "$work/kubeconfig.path")"
fi
export KUBECONFIG KUBE_CONFIG_PATH="$KUBECONFIG"

# $1: work dir name, $2: configuration dir. Lays out a working directory
# and runs `tofu init` (offline: the provider comes from the mirror).
setup() {
    local dir="$work/$1"
    mkdir -p "$dir"
    cp "$here/configs/provider.tf.in" "$dir/provider.tf"
    cp "$here/configs/$2/main.tf" "$dir/main.tf"
    (cd "$dir" && "$tofu" init -input=false -no-color >/dev/null)
}

# $1: work dir name, $2: fixture name, $3: namespace, rest: plan flags.
# Writes fixtures/<name>.tfplan.json, pretty-printed with sorted keys.
plan() {
    local dir="$work/$1" name="$2" ns="$3"
    shift 3
    local rc=0
    (cd "$dir" && "$tofu" plan -input=false -no-color -lock=false -out=plan.bin -var "namespace=$ns" "$@" \
        >"$work/$name.log" 2>&1) || rc=$?
    if [[ $rc -ne 0 && "$name" != errored ]]; then
        cat "$work/$name.log" >&2
        exit 1
    fi
    (cd "$dir" && "$tofu" show -json -no-color plan.bin) | jq -S . >"$out/$name.tfplan.json"
    echo "wrote $out/$name.tfplan.json" >&2
}

mkdir -p "$out"

for cfg in typed typed-plain manifest unknown other unsupported refused bench; do
    setup "$cfg" "$cfg"
    plan "$cfg" "$cfg" "tf-$cfg"
done
# As `terraform show -json` writes it: one line (2.6 MB instead of 6).
jq -cS . "$out/bench.tfplan.json" >"$work/bench.json" && mv "$work/bench.json" "$out/bench.tfplan.json"

# The oracle pair: the same configurations, two namespaces (one for
# `tofu apply`, one for `sluice sync`), in one plan each.
setup oracle typed
cat "$here/configs/manifest/main.tf" >>"$work/oracle/main.tf"
plan oracle oracle-a tf-oracle-a
plan oracle oracle-b tf-oracle-b

setup errored errored
plan errored errored tf-errored

# Lifecycle: apply lifecycle-1, drift one object, plan lifecycle-2.
kubectl create namespace tf-lifecycle --dry-run=client -o yaml | kubectl apply -f - >/dev/null
setup lifecycle lifecycle-1
plan lifecycle lifecycle-before tf-lifecycle
(cd "$work/lifecycle" && "$tofu" apply -input=false -no-color -auto-approve plan.bin >/dev/null)
kubectl -n tf-lifecycle patch configmap drifted --type merge -p '{"data":{"v":"changed-by-hand"}}' >/dev/null
cp "$here/configs/lifecycle-2/main.tf" "$work/lifecycle/main.tf"
plan lifecycle lifecycle tf-lifecycle
(cd "$work/lifecycle" && "$tofu" show -json -no-color) | jq -S . >"$out/lifecycle-state.json"
jq -S . "$work/lifecycle/terraform.tfstate" >"$out/lifecycle.tfstate"
plan lifecycle target tf-lifecycle -target=kubernetes_config_map_v1.change
# Apply it and plan again: nothing to do, and `forgotten` is no longer in
# the plan at all.
plan lifecycle lifecycle tf-lifecycle
(cd "$work/lifecycle" && "$tofu" apply -input=false -no-color -auto-approve plan.bin >/dev/null)
plan lifecycle lifecycle-after tf-lifecycle
kubectl delete namespace tf-lifecycle --wait=false >/dev/null

echo "made with $(basename "$tf_dir")" >&2
