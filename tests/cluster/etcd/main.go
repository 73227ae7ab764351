// Command etcd is etcd's server, built from the published
// go.etcd.io/etcd/server/v3 module for sluice's tests (see
// tests/cluster/build.sh). It is the same main as etcd's own.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
