// Command s3ftp-etcd is etcd v3.6 (go.etcd.io/etcd/server/v3/etcdmain), as
// upstream's etcd binary runs it, built from Go modules for the API server
// of the chart's server-side test (see package kubeapi).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
