#!/usr/bin/env bash
# Builds CNCF Distribution's registry (and a tiny bcrypt htpasswd writer)
# for sluice's tests from their published Go modules (tests/registry/go.mod),
# once, into
#
#   ${SLUICE_REGISTRY_CACHE:-$HOME/.cache/sluice/registry}/<distribution-version>/{registry,htpasswd}
#
# and prints that directory on its last line. Does nothing when both
# binaries are there. Each binary is built under a temporary name and
# renamed into place, so an interrupted build never leaves a half-written
# binary; a lock file keeps two concurrent runs from building twice.
#
# Needs: Go (the version in go.mod or newer) and the Go module proxy.
# Tests find the directory through SLUICE_REGISTRY_BIN, or run this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${SLUICE_REGISTRY_CACHE:-$HOME/.cache/sluice/registry}"

export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
export CGO_ENABLED=0

version="$(cd "$here" && go list -m -f '{{.Version}}' github.com/distribution/distribution/v3)"
# The wrapper mains are part of what is built: a change to them is a new
# directory, not a stale binary.
stamp="$(cat "$here/go.sum" "$here"/cmd/*/main.go | sha256sum | cut -c1-12)"
dir="$cache/$version-$stamp"

if [[ -x "$dir/registry" && -x "$dir/htpasswd" ]]; then
    echo "$dir"
    exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

# $1: output name, $2: package. The version is stamped as upstream's
# Makefile does, so `registry --version` reports it.
build() {
    local out="$dir/$1"
    if [[ -x "$out" ]]; then
        return
    fi
    local tmp="$dir/.$1.tmp.$$"
    echo "building $1 ($version) into $dir ..." >&2
    local start=$SECONDS
    (cd "$here" && nice -n 10 go build -trimpath \
        -ldflags="-s -w -X github.com/distribution/distribution/v3/version.version=$version" \
        -o "$tmp" "$2")
    mv -f "$tmp" "$out"
    echo "built $1 in $((SECONDS - start))s" >&2
}

trap 'rm -f "$dir"/.*.tmp.$$' EXIT
build htpasswd ./cmd/htpasswd
build registry ./cmd/registry

echo "$dir"
