// Command registry is CNCF Distribution's registry, built from the
// published github.com/distribution/distribution/v3 module for sluice's
// tests (see tests/registry/build.sh). It is upstream's cmd/registry main
// with only the storage drivers and auth the tests use (filesystem,
// in-memory, htpasswd), so the cloud storage SDKs are not built.
package main

import (
	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

func main() {
	// As upstream: the registered commands exit non-zero on failure.
	// nolint:errcheck
	registry.RootCmd.Execute()
}
