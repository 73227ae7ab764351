#!/usr/bin/env bash
# Whole-command benchmark against the local test API server:
# 1,000 objects (ConfigMaps, Services, Deployments) over 10 namespaces.
#   1. first sync:  sluice sync  vs  kubectl apply --server-side -f
#   2. no change:   sluice diff  vs  kubectl diff (warm, 5 runs each, median;
#      both must report no difference: exit 0 and nothing printed by kubectl)
#   3. peak RSS of sluice sync (/usr/bin/time -v)
# Prints the figures and the ratios (kubectl / sluice) from the same run.
#
# Usage: bench/kube.sh            (starts the test cluster through the harness)
#        KUBECONFIG=... bench/kube.sh   (uses that cluster instead)
# SLUICE_BIN picks the sluice binary (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
hold_pid=""
cleanup() {
    rm -f "$work/kubeconfig.path"
    if [[ -n "$hold_pid" ]]; then wait "$hold_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/cluster.sh
source "$here/bench/cluster.sh"

# Two identical apps: one for sluice, one for kubectl (own namespaces).
gen() { # $1 prefix, $2 dir
    mkdir -p "$2"
    for n in $(seq 0 9); do
        ns="$1-$n"
        printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n' "$ns"
        for i in $(seq 0 32); do
            cat <<Y
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-$i, namespace: $ns}
data: {key: value-$i, other: "$n-$i"}
---
apiVersion: v1
kind: Service
metadata: {name: svc-$i, namespace: $ns}
spec:
  selector: {app: app-$i}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-$i, namespace: $ns}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-$i}}
  template:
    metadata: {labels: {app: app-$i}}
    spec: {containers: [{name: c, image: "nginx:1.27"}]}
---
Y
        done
    done > "$2/objects.yaml"
}
run_id=$$
# The generated repositories live outside the working directory.
export SLUICE_ALLOW_LOCAL_REPO="$work"
gen "bs$run_id" "$work/sluice"
gen "bk$run_id" "$work/kubectl"
echo "objects per tool: $(grep -c '^kind:' "$work/sluice/objects.yaml")" >&2

# t OK_CODES CMD...: wall seconds of CMD; fails unless its exit code is in OK_CODES.
t() {
    local ok="$1" s e rc=0; shift
    s=$(date +%s.%N); "$@" >"$work/out" 2>"$work/err" || rc=$?; e=$(date +%s.%N)
    [[ " $ok " == *" $rc "* ]] || { echo "$* exited $rc:" >&2; cat "$work/err" "$work/out" >&2; exit 1; }
    echo "$e - $s" | bc
}

s_sync=$(t 0 /usr/bin/time -v -o "$work/time.txt" "$SLUICE_BIN" sync --repo "$work/sluice" --renderer yaml --name bench --dest-namespace "bs$run_id-0")
rss_kib=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
k_sync=$(t 0 kubectl apply --server-side --field-manager=kubectl-bench -f "$work/kubectl/objects.yaml")
# median RUNS OK_CODES CMD...: the median wall time of RUNS runs of CMD.
median() {
    local runs="$1" ok="$2"; shift 2
    for _ in $(seq "$runs"); do t "$ok" "$@"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
s_diff=$(median 5 0 "$SLUICE_BIN" diff --repo "$work/sluice" --renderer yaml --name bench --dest-namespace "bs$run_id-0")
[[ ! -s "$work/out" ]] || { echo "sluice diff printed a difference:" >&2; head -20 "$work/out" >&2; exit 1; }
k_diff=$(median 5 0 kubectl diff --server-side --field-manager=kubectl-bench -f "$work/kubectl/objects.yaml")
[[ ! -s "$work/out" ]] || { echo "kubectl diff printed a difference:" >&2; head -20 "$work/out" >&2; exit 1; }

printf '\n%-34s %10s %10s %8s\n' "1,000 objects, 10 namespaces" sluice kubectl ratio
printf '%-34s %9.2fs %9.2fs %7.1fx\n' "first sync (apply --server-side)" "$s_sync" "$k_sync" "$(echo "$k_sync / $s_sync" | bc -l)"
printf '%-34s %9.2fs %9.2fs %7.1fx\n' "no change, diff (median of 5)" "$s_diff" "$k_diff" "$(echo "$k_diff / $s_diff" | bc -l)"
printf '%-34s %8.1fMiB\n' "peak RSS of sluice sync" "$(echo "$rss_kib / 1024" | bc -l)"

kubectl delete ns $(for n in $(seq 0 9); do echo "bs$run_id-$n" "bk$run_id-$n"; done) --wait=false >/dev/null 2>&1 || true
