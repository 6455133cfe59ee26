// Command s3ftp-kube-apiserver is kube-apiserver v1.34.3
// (k8s.io/kubernetes/cmd/kube-apiserver/app), as upstream's main runs it,
// built from Go modules for the chart's server-side test (see package
// kubeapi).
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	_ "time/tzdata" // for timeZone support in CronJob
	_ "unsafe"      // for go:linkname

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/component-base/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// gitVersion is the version the API server reports (/version, and so
// helm's .Capabilities.KubeVersion and the chart's kubeVersion check).
// Upstream's build sets it with -ldflags -X; a plain `go build` leaves
// "v0.0.0-master+$Format:%H$", which no chart's kubeVersion accepts, so
// main sets it to the version of k8s.io/kubernetes this was built from.
//
//go:linkname gitVersion k8s.io/component-base/version.gitVersion
var gitVersion string

func main() {
	if err := setVersion(); err != nil {
		fmt.Fprintln(os.Stderr, "s3ftp-kube-apiserver:", err)
		os.Exit(1)
	}
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}

// setVersion makes the API server report the version of k8s.io/kubernetes
// in the build, as upstream's -ldflags would.
func setVersion() error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("no build information to take the Kubernetes version from")
	}
	for _, m := range info.Deps {
		if m.Path == "k8s.io/kubernetes" {
			gitVersion = m.Version
			return version.SetDynamicVersion(m.Version)
		}
	}
	return fmt.Errorf("k8s.io/kubernetes is not in the build information")
}
