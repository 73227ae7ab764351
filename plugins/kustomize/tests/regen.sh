#!/usr/bin/env bash
# Regenerate tests/cases/*/expected.yaml with `kubectl kustomize` (the
# oracle). A case with expected-error.txt must make kubectl fail with that
# substring in its message; no expected.yaml is written for it.
# Usage: tests/regen.sh [case-name...]
set -euo pipefail
cd "$(dirname "$0")/cases"
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(*/)
rc=0
for c in "${names[@]}"; do
  c=${c%/}
  entry=$(cat "$c/entry" 2>/dev/null || true)
  args=()
  if [ -f "$c/params" ]; then
    while IFS='=' read -r k v; do [ -n "$k" ] && args+=("--$k" "$v"); done < "$c/params"
  fi
  if [ -f "$c/expected-error.txt" ]; then
    want=$(cat "$c/expected-error.txt")
    if err=$(kubectl kustomize "$c/$entry" "${args[@]}" 2>&1 >/dev/null); then
      echo "$c: kubectl succeeded but expected-error.txt says it fails" >&2; rc=1
    elif [[ "$err" != *"$want"* ]]; then
      echo "$c: kubectl error does not contain '$want': $err" >&2; rc=1
    fi
    rm -f "$c/expected.yaml"
  else
    if ! kubectl kustomize "$c/$entry" "${args[@]}" > "$c/expected.yaml.tmp" 2> "$c/stderr.tmp"; then
      echo "$c: kubectl failed: $(cat "$c/stderr.tmp")" >&2; rc=1
      rm -f "$c/expected.yaml.tmp"
    else
      mv "$c/expected.yaml.tmp" "$c/expected.yaml"
    fi
    rm -f "$c/stderr.tmp"
  fi
done
exit $rc
