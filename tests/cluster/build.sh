#!/usr/bin/env bash
# Builds kube-apiserver and etcd for sluice's tests from their published Go
# modules (tests/cluster/go.mod and tests/cluster/etcd/go.mod), once, into
#
#   ${SLUICE_CLUSTER_CACHE:-$HOME/.cache/sluice/cluster}/<k8s-version>-<etcd-version>/{kube-apiserver,etcd}
#
# and prints that directory on its last line. Does nothing when both binaries
# are there. Each binary is built under a temporary name and renamed into
# place, so an interrupted build never leaves a half-written binary; a lock
# file keeps two concurrent runs from building twice.
#
# Needs: Go (the version in the go.mod files or newer) and the Go module proxy.
# Tests find the directory through SLUICE_CLUSTER_BIN, or run this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${SLUICE_CLUSTER_CACHE:-$HOME/.cache/sluice/cluster}"

export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
export CGO_ENABLED=0

k8s_version="$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
etcd_version="$(cd "$here/etcd" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
dir="$cache/$k8s_version-$etcd_version"

if [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" ]]; then
    echo "$dir"
    exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

# $1: output name, $2: module directory, $3: package, $4: extra -ldflags.
build() {
    local out="$dir/$1"
    if [[ -x "$out" ]]; then
        return
    fi
    local tmp="$dir/.$1.tmp.$$"
    echo "building $1 ($k8s_version / $etcd_version) into $dir ..." >&2
    local start=$SECONDS
    (cd "$2" && nice -n 10 go build -trimpath -ldflags="-s -w $4" -o "$tmp" "$3")
    mv -f "$tmp" "$out"
    echo "built $1 in $((SECONDS - start))s" >&2
}

# Version stamps, as Kubernetes' own build sets them, so /version reports
# the real version rather than v0.0.0-master.
minor="${k8s_version#v1.}"
minor="${minor%%.*}"
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

trap 'rm -f "$dir"/.*.tmp.$$' EXIT
build etcd "$here/etcd" . ""
build kube-apiserver "$here" ./cmd/kube-apiserver "$k8s_ldflags"

echo "$dir"
