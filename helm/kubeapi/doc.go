// Package kubeapi is the module that builds the two programs the chart's
// server-side test (helm/apiserver_test.go, TestServerDryRun) runs: a real
// kube-apiserver and the etcd it stores into, so that `helm install
// --dry-run=server` of every values file in helm/ci goes through the API
// server's own validation, defaulting and admission, which the offline tests
// (strict decoding into the API types) cannot replace: field formats (port
// names, label values, quantities), ranges (nodePort), immutable or
// conflicting fields, and CRD schemas.
//
// The programs are thin wrappers over upstream's mains:
//
//   - cmd/s3ftp-kube-apiserver: k8s.io/kubernetes/cmd/kube-apiserver/app at
//     v1.34.3, with no controllers, scheduler or kubelet;
//   - cmd/s3ftp-etcd: go.etcd.io/etcd/server/v3/etcdmain at v3.6.16.
//
// Install them with `go install ./cmd/...` from this directory (test/run
// does when they are missing; the first build takes several minutes). It is
// a module of its own because k8s.io/kubernetes brings hundreds of modules,
// and pins each staging module (k8s.io/api, k8s.io/apiserver...) with a
// replace directive, neither of which the chart tests' module or the
// gateway's should carry.
package kubeapi
