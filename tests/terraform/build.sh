#!/usr/bin/env bash
# Builds OpenTofu and the hashicorp/kubernetes provider for sluice's
# Terraform-plan tests, once, into
#
#   ${SLUICE_TERRAFORM_CACHE:-$HOME/.cache/sluice/terraform}/tofu-<v>-kubernetes-<v>/
#       tofu                                  the CLI (built from tests/terraform/go.mod)
#       mirror/registry.opentofu.org/hashicorp/kubernetes/<v>/<os>_<arch>/terraform-provider-kubernetes_v<v>
#       tofurc                                a CLI config that installs the provider
#                                             from that filesystem mirror, offline
#
# and prints that directory on its last line. Does nothing when everything is
# there. Binaries are built under temporary names and renamed into place, so
# an interrupted build never leaves a half-written binary; a lock file keeps
# two concurrent runs from building twice.
#
# Why OpenTofu: it is the MPL-licensed Terraform, published as a Go module,
# and since 1.7 it has `removed` blocks, so a plan can `forget` a resource
# (Terraform 1.5.7, the last MPL Terraform, cannot).
#
# The provider: terraform-provider-kubernetes's go.mod has no /v3 suffix, so
# the Go module proxy serves none of its 2.x/3.x releases by version. The
# script asks the proxy for the pinned commit and builds it when served;
# when the proxy refuses (as it does today), the script stops and says where
# a provider binary must be put. That is why the oracle test that needs it is
# opt-in (SLUICE_TERRAFORM_BIN, see tests/e2e/terraform.rs), and why CI does
# not run this script.
#
# Needs: Go (1.26 or newer) and the Go module proxy. Run with nice: the Go
# builds take several CPU-minutes each.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${SLUICE_TERRAFORM_CACHE:-$HOME/.cache/sluice/terraform}"

export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
export CGO_ENABLED=0

# The provider release and its commit (tag v3.2.1).
provider_version="3.2.1"
provider_commit="28fb611cb6be20c5059efadd6cbf16b9ad64cd6c"

tofu_version="$(cd "$here" && go list -m -f '{{.Version}}' github.com/opentofu/opentofu)"
dir="$cache/tofu-$tofu_version-kubernetes-v$provider_version"
platform="$(go env GOOS)_$(go env GOARCH)"
provider_dir="$dir/mirror/registry.opentofu.org/hashicorp/kubernetes/$provider_version/$platform"
provider_bin="$provider_dir/terraform-provider-kubernetes_v$provider_version"

write_rc() {
    cat >"$dir/tofurc.tmp" <<EOF
# Written by tests/terraform/build.sh: the kubernetes provider comes from the
# local filesystem mirror, everything else would be refused (no network).
provider_installation {
  filesystem_mirror {
    path    = "$dir/mirror"
    include = ["registry.opentofu.org/hashicorp/kubernetes"]
  }
}
disable_checkpoint = true
EOF
    mv -f "$dir/tofurc.tmp" "$dir/tofurc"
}

if [[ -x "$dir/tofu" && -x "$provider_bin" && -f "$dir/tofurc" ]]; then
    echo "$dir"
    exit 0
fi

mkdir -p "$dir" "$provider_dir"
exec 9>"$dir/.lock"
flock 9
trap 'rm -rf "$dir"/.*.tmp.$$' EXIT

if [[ ! -x "$dir/tofu" ]]; then
    echo "building tofu $tofu_version into $dir ..." >&2
    start=$SECONDS
    (cd "$here" && nice -n 15 go build -trimpath \
        -ldflags="-s -w -X github.com/opentofu/opentofu/version.dev=no" \
        -o "$dir/.tofu.tmp.$$" github.com/opentofu/opentofu/cmd/tofu)
    mv -f "$dir/.tofu.tmp.$$" "$dir/tofu"
    echo "built tofu in $((SECONDS - start))s" >&2
fi

if [[ ! -x "$provider_bin" ]]; then
    src="$dir/.provider-src.tmp.$$"
    mkdir -p "$src"
    module=github.com/hashicorp/terraform-provider-kubernetes
    if from_proxy="$(cd / && GOFLAGS= go mod download -json "$module@$provider_commit" 2>/dev/null)" &&
        proxy_dir="$(printf '%s' "$from_proxy" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" && [[ -n "$proxy_dir" ]]; then
        cp -r "$proxy_dir/." "$src"
        chmod -R u+w "$src"
    else
        echo "tests/terraform/build.sh: the Go module proxy does not serve $module@$provider_commit;" >&2
        echo "put a terraform-provider-kubernetes v$provider_version binary at $provider_bin (built from the provider's own release) and run this again" >&2
        exit 1
    fi
    echo "building terraform-provider-kubernetes v$provider_version into $provider_dir ..." >&2
    start=$SECONDS
    (cd "$src" && nice -n 15 go build -trimpath \
        -ldflags="-s -w -X main.version=$provider_version" \
        -o "$provider_dir/.provider.tmp.$$" .)
    mv -f "$provider_dir/.provider.tmp.$$" "$provider_bin"
    rm -rf "$src"
    echo "built the provider in $((SECONDS - start))s" >&2
fi

write_rc
echo "$dir"
