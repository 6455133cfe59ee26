// Package helm_test checks the s3ftp Helm chart (helm/s3ftp): helm lint and
// helm template over the values files in ci/, every rendered manifest
// strict-decoded into the Kubernetes API types and checked for the wiring
// the API server cannot see (selectors, named ports, passive ports, probes,
// security context), the refusals of values.schema.json and of the chart's
// own checks, the rendered configuration run by the real s3ftp binary, and
// (apiserver_test.go) every values file installed with a server-side dry
// run against a real kube-apiserver built by helm/kubeapi. It is a module of
// its own so that the gateway's go.mod does not carry k8s.io/api.
package helm_test

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// How the tests render the chart.
const (
	chartDir    = "s3ftp"
	kubeVersion = "1.34.0" // helm template assumes v1.20 otherwise
	release     = "gw"
	namespace   = "ftp"
)

// s3ftpBin is the gateway binary built for the tests.
var s3ftpBin string

func TestMain(m *testing.M) {
	os.Exit(s3ftpbin.Main(m, &s3ftpBin))
}

// helmBinary returns the helm executable (see toolBinary).
func helmBinary(t testing.TB) string {
	t.Helper()
	return toolBinary(t, "helm", "go install helm.sh/helm/v3/cmd/helm@v3.22.0")
}

// toolBinary returns the path of the executable name (PATH, then
// $GOPATH/bin). Without it the test is skipped, or fails when
// S3FTP_TEST_STRICT=1; install says how to get it.
func toolBinary(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join(build.Default.GOPATH, "bin", name); fileExists(p) {
		return p
	}
	if s3test.Strict() {
		t.Fatalf("%s not installed (%s)", name, install)
	}
	t.Skipf("%s not installed (%s)", name, install)
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// helm runs helm with args in a private Helm home and returns what it
// printed (stdout, then stderr) and its error.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBinary(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String() + stderr.String(), err
}

// templateArgs is `helm template` of the chart with args (values files,
// --set...) appended.
func templateArgs(args ...string) []string {
	return append([]string{"template", release, chartDir, "--namespace", namespace, "--kube-version", kubeVersion}, args...)
}

// render renders the chart with args and decodes the manifests; it fails
// the test if helm or the decoding fails.
func render(t testing.TB, args ...string) *manifests {
	t.Helper()
	out, err := helm(t, templateArgs(args...)...)
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m, err := decode(out)
	if err != nil {
		t.Fatalf("helm template %s: %v", strings.Join(args, " "), err)
	}
	return m
}

// valuesFiles are the chart's CI values files, each a way operators deploy.
func valuesFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("ci/*-values.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in ci/ (%v)", err)
	}
	return files
}

// manifests are the objects of one rendering, in order.
type manifests struct {
	objects []runtime.Object
}

// scheme knows every kind the chart may render.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strict decodes YAML manifests into the API types, rejecting unknown and
// duplicate fields as well as values of the wrong type.
var strict = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// sourceLine is the "# Source: s3ftp/templates/X.yaml" line helm writes
// above each document.
var sourceLine = regexp.MustCompile(`(?m)^# Source: (\S+)`)

// decode splits helm's output into documents and strict-decodes each one.
func decode(out string) (*manifests, error) {
	m := &manifests{}
	for doc := range strings.SplitSeq("\n"+out, "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		source := "?"
		if s := sourceLine.FindStringSubmatch(doc); s != nil {
			source = s[1]
		}
		obj, _, err := strict.Decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", source, err, doc)
		}
		m.objects = append(m.objects, obj)
	}
	if len(m.objects) == 0 {
		return nil, fmt.Errorf("no manifests in helm's output:\n%s", out)
	}
	return m, nil
}

// stripComments drops the comment lines of a YAML document.
func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// all returns the objects of type T.
func all[T runtime.Object](m *manifests) []T {
	var out []T
	for _, o := range m.objects {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the only object of type T, failing the test otherwise.
func one[T runtime.Object](t testing.TB, m *manifests) T {
	t.Helper()
	v := all[T](m)
	if len(v) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, rendered %d", zero, len(v))
	}
	return v[0]
}

// workload is the object running the gateway pods: a Deployment (one
// replica, or hostNetwork) or, in the replica layout, a StatefulSet.
type workload struct {
	Kind, Name string
	Replicas   *int32
	Selector   *metav1.LabelSelector
	Template   *corev1.PodTemplateSpec
}

// gateway returns the only gateway workload and its s3ftp container.
func (m *manifests) gateway(t testing.TB) (*workload, *corev1.Container) {
	t.Helper()
	var ws []*workload
	for _, d := range all[*appsv1.Deployment](m) {
		ws = append(ws, &workload{"Deployment", d.Name, d.Spec.Replicas, d.Spec.Selector, &d.Spec.Template})
	}
	for _, s := range all[*appsv1.StatefulSet](m) {
		ws = append(ws, &workload{"StatefulSet", s.Name, s.Spec.Replicas, s.Spec.Selector, &s.Spec.Template})
	}
	if len(ws) != 1 {
		t.Fatalf("want exactly one Deployment or StatefulSet, rendered %d", len(ws))
	}
	w := ws[0]
	for i := range w.Template.Spec.Containers {
		if c := &w.Template.Spec.Containers[i]; c.Name == "s3ftp" {
			return w, c
		}
	}
	t.Fatalf("%s %s has no container s3ftp", w.Kind, w.Name)
	return nil, nil
}

// service returns the Service labelled with component, or nil.
func (m *manifests) service(component string) *corev1.Service {
	for _, s := range all[*corev1.Service](m) {
		if s.Labels["app.kubernetes.io/component"] == component {
			return s
		}
	}
	return nil
}

// configMap returns the ConfigMap named name, or nil.
func (m *manifests) configMap(name string) *corev1.ConfigMap {
	for _, c := range all[*corev1.ConfigMap](m) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// secret returns the Secret named name, or nil.
func (m *manifests) secret(name string) *corev1.Secret {
	for _, s := range all[*corev1.Secret](m) {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// containerPort returns the number of c's port named name, or 0.
func containerPort(c *corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// listenPort returns the port of a HOST:PORT configuration value.
func listenPort(t testing.TB, addr string) int32 {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	p, err := strconv.ParseInt(addr[i+1:], 10, 32)
	if i < 0 || err != nil {
		t.Fatalf("address %q has no port", addr)
	}
	return int32(p)
}

// passiveRange parses a passive-ports value "START-END".
func passiveRange(t testing.TB, v string) (start, end int32) {
	t.Helper()
	a, b, ok := strings.Cut(v, "-")
	s, err1 := strconv.ParseInt(a, 10, 32)
	e, err2 := strconv.ParseInt(b, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("passive-ports %q is not START-END", v)
	}
	return int32(s), int32(e)
}

func TestLint(t *testing.T) {
	for _, file := range valuesFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			out, err := helm(t, "lint", "--strict", "--kube-version", kubeVersion, chartDir, "-f", file)
			if err != nil {
				t.Fatalf("helm lint --strict -f %s: %v\n%s", file, err, out)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint printed no verdict:\n%s", out)
			}
		})
	}
}

// keysOf returns the sorted keys of a map.
func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
