#!/usr/bin/env bash
# Benchmark: `sluice render` (the kustomize plugin in Wasm, whole process,
# warm compile cache) against `kubectl kustomize` on a generated overlay of
# about 2,000 base objects under three overlay layers. Checks that both
# print the same bytes, then prints both times, the ratio, and the peak RSS
# of both.
#
# Environment: SLUICE (default $HOME/.cache/sluice/target/release/sluice),
# RUNS (default 5), TREE: `targeted` (default: gen_targeted.py, 50-70 JSON
# patches per layer each targeted by kind and name) or `classic`
# (gen_tree.py, few targeted patches).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SLUICE=${SLUICE:-$HOME/.cache/sluice/target/release/sluice}
RUNS=${RUNS:-5}

if [ ! -x "$SLUICE" ]; then
  echo "sluice binary not found at $SLUICE (build it: cargo build --release, or set SLUICE)" >&2
  exit 2
fi
command -v kubectl >/dev/null || { echo "kubectl not on PATH" >&2; exit 2; }
if [ ! -x /usr/bin/time ] || ! command -v hyperfine >/dev/null; then
  (apt-get install -y -qq time hyperfine >/dev/null 2>&1 || true)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "${TREE:-targeted}" in
  targeted) python3 "$here/gen_targeted.py" "$tmp/repo" ;;
  classic) python3 "$here/gen_tree.py" "$tmp/repo" ;;
  *) echo "TREE must be targeted or classic" >&2; exit 2 ;;
esac
app=overlays/l3
sluice_cmd=("$SLUICE" render "$tmp/repo" --path "$app" --renderer kustomize -o yaml)
kubectl_cmd=(kubectl kustomize "$tmp/repo/$app")

# Warm the compile cache and check both succeed (and agree on the count).
"${sluice_cmd[@]}" > "$tmp/sluice.yaml"
"${kubectl_cmd[@]}" > "$tmp/kubectl.yaml"
echo "objects: sluice $(grep -c '^kind:' "$tmp/sluice.yaml"), kubectl $(grep -c '^kind:' "$tmp/kubectl.yaml")"
if cmp -s "$tmp/sluice.yaml" "$tmp/kubectl.yaml"; then
  echo "outputs: identical bytes ($(wc -c < "$tmp/sluice.yaml") bytes)"
else
  echo "outputs DIFFER; first difference:" >&2
  diff "$tmp/sluice.yaml" "$tmp/kubectl.yaml" | head -20 >&2
  exit 1
fi

mean_secs() { # command... -> mean wall seconds over RUNS
  local total=0 s e
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N)
    total=$((total + e - s))
  done
  python3 -c "print(f'{$total / $RUNS / 1e9:.3f}')"
}

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$tmp/h.json" \
    -n sluice "$(printf '%q ' "${sluice_cmd[@]}")" \
    -n kubectl "$(printf '%q ' "${kubectl_cmd[@]}")" >&2
  read -r ts tk < <(python3 -c "import json;r=json.load(open('$tmp/h.json'))['results'];print(r[0]['mean'],r[1]['mean'])")
else
  ts=$(mean_secs "${sluice_cmd[@]}")
  tk=$(mean_secs "${kubectl_cmd[@]}")
fi

peak_kb() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}'; }
if [ -x /usr/bin/time ]; then
  ms=$(peak_kb "${sluice_cmd[@]}"); mk=$(peak_kb "${kubectl_cmd[@]}")
else
  ms=n/a; mk=n/a
fi

python3 - "$ts" "$tk" "$ms" "$mk" <<'PY'
import sys
ts, tk, ms, mk = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"sluice render:     {ts:.3f} s  peak RSS {ms} KiB")
print(f"kubectl kustomize: {tk:.3f} s  peak RSS {mk} KiB")
print(f"speed-up: {tk / ts:.1f}x (kubectl time / sluice time)")
if ms != "n/a" and mk != "n/a":
    print(f"memory: sluice uses {int(ms) / int(mk):.2f}x kubectl's peak RSS")
PY
