package helm_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// TestServerDryRun installs the chart with each CI values file against a
// real kube-apiserver (and its etcd, no controllers) built by helm/kubeapi:
// `helm install --dry-run=server`, which renders with the server's version
// and lookups and maps every kind through discovery, then each object it
// rendered, hooks included, created with dryRun=All and strict field
// validation. The second step is the one that runs the API server's
// validation, defaulting and admission: helm's server dry run sends no
// object (for an API server with server-side field validation it validates
// nothing itself), so on its own it accepts, say, a port name the API
// server refuses. The API server must accept every object without a
// warning; the refusals at the end are ones only the API server makes.
func TestServerDryRun(t *testing.T) {
	api := startKubeAPI(t)
	for _, file := range valuesFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			objects := api.helmInstall(t, "-f", file)
			if err := api.dryRunCreate(t, objects); err != nil {
				t.Error(err)
			}
			t.Logf("%d objects, hooks included, through the API server's dry run", len(objects))
		})
	}

	// Values the chart and its schema accept but the API server refuses.
	base := []string{"--set", "s3.bucket=files"}
	refusals := []struct {
		name string
		args []string // after base
		want string   // in the API server's refusal
	}{
		{name: "pod label that is not a qualified name", args: []string{"--set-json", `podLabels={"site a":"x"}`},
			want: `Invalid value: "site a"`},
	}
	for _, tc := range refusals {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			args := append(slices.Clone(base), tc.args...)
			if out, err := helm(t, templateArgs(args...)...); err != nil {
				t.Fatalf("helm template refuses the values (move the case to TestRefusals): %v\n%s", err, out)
			}
			err := api.dryRunCreate(t, api.helmInstall(t, args...))
			if err == nil {
				t.Fatalf("the API server accepted %s", strings.Join(tc.args, " "))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the API server's refusal lacks %q:\n%v", tc.want, err)
			}
			t.Logf("refused:\n%v", err)
		})
	}
}

// kubeAPIInstall installs the API server and etcd the test runs.
const kubeAPIInstall = "cd helm/kubeapi && go install ./cmd/..."

// kubeAPI is a kube-apiserver, with its etcd, that one test started.
type kubeAPI struct {
	url        string // https://127.0.0.1:port
	token      string // system:masters
	kubeconfig string
	client     *http.Client
	resources  map[string][]metav1.APIResource // by group/version
}

// startKubeAPI starts etcd and kube-apiserver on 127.0.0.1, waits until the
// API server is ready, creates the test namespace and the ServiceMonitor
// CRD, and writes a kubeconfig for helm. Both stop when the test ends.
func startKubeAPI(t *testing.T) *kubeAPI {
	t.Helper()
	etcdBin, apiBin := toolBinary(t, "s3ftp-etcd", kubeAPIInstall), toolBinary(t, "s3ftp-kube-apiserver", kubeAPIInstall)
	helmBinary(t)
	dir := t.TempDir()
	started := time.Now()

	clientURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	etcd := startProcess(t, etcdBin,
		"--name=s3ftp-test",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=s3ftp-test="+peerURL,
		"--log-level=warn",
		"--unsafe-no-fsync", // a throwaway store
	)
	plain := &http.Client{Timeout: 2 * time.Second}
	etcd.waitFor(t, 30*time.Second, func() error {
		var health struct{ Health string }
		if err := getJSON(plain, clientURL+"/health", "", &health); err != nil {
			return err
		}
		if health.Health != "true" {
			return fmt.Errorf("health %q", health.Health)
		}
		return nil
	})

	// The service account token signer (ECDSA: quick to generate); the
	// same file gives the API server the key to verify with.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	writeFile(t, saKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	api := &kubeAPI{token: hex.EncodeToString(secret), resources: map[string][]metav1.APIResource{}}
	tokens := filepath.Join(dir, "tokens.csv")
	writeFile(t, tokens, []byte(api.token+`,admin,admin,"system:masters"`+"\n"))

	port := freePort(t)
	api.url = fmt.Sprintf("https://127.0.0.1:%d", port)
	certDir := filepath.Join(dir, "certs")
	apiserver := startProcess(t, apiBin,
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--cert-dir="+certDir, // a self-signed serving certificate
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file="+tokens, "--anonymous-auth=false",
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		// Lighter: no endpoint for the kubernetes Service (a loopback
		// address is not a valid one), no API priority and fairness.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	)
	// The serving certificate, followed by the CA that signed it, appears
	// before the API server listens.
	apiserver.waitFor(t, 60*time.Second, func() error {
		if api.client == nil {
			pemCerts, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
			if err != nil {
				return err
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pemCerts) {
				return errors.New("no certificate in apiserver.crt")
			}
			api.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots},
			}}
		}
		return api.get("/readyz", nil)
	})
	ready := time.Since(started)

	var version struct{ GitVersion string }
	if err := api.get("/version", &version); err != nil {
		t.Fatal(err)
	}
	figure := fmt.Sprintf("FIGURE helm server dry run: etcd and kube-apiserver %s ready in %.1f s", version.GitVersion, ready.Seconds())
	t.Log(figure)
	fmt.Println(figure)

	api.kubeconfig = filepath.Join(dir, "kubeconfig")
	writeFile(t, api.kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster:
      server: %s
      certificate-authority: %s
users:
  - name: admin
    user:
      token: %s
contexts:
  - name: test
    context:
      cluster: test
      user: admin
current-context: test
`, api.url, filepath.Join(certDir, "apiserver.crt"), api.token)))

	ns := fmt.Sprintf(`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": %q}}`, namespace)
	if _, err := api.post("/api/v1/namespaces", []byte(ns)); err != nil {
		t.Fatalf("create namespace %s: %v", namespace, err)
	}
	if _, err := api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", []byte(serviceMonitorCRD)); err != nil {
		t.Fatalf("create the ServiceMonitor CRD: %v", err)
	}
	// Established, then served: helm maps kinds through discovery.
	apiserver.waitFor(t, 30*time.Second, func() error {
		var crd struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		if err := api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/servicemonitors.monitoring.coreos.com", &crd); err != nil {
			return err
		}
		if !slices.ContainsFunc(crd.Status.Conditions, func(c struct{ Type, Status string }) bool {
			return c.Type == "Established" && c.Status == "True"
		}) {
			return fmt.Errorf("ServiceMonitor CRD not established: %+v", crd.Status.Conditions)
		}
		var list metav1.APIResourceList
		if err := api.get("/apis/monitoring.coreos.com/v1", &list); err != nil {
			return err
		}
		if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Kind == "ServiceMonitor" }) {
			return errors.New("ServiceMonitor not in discovery yet")
		}
		return nil
	})
	return api
}

// serviceMonitorCRD is prometheus-operator's ServiceMonitor CRD cut down
// to what the chart renders: a spec with endpoints and a selector, and
// intervals in Prometheus' duration format.
const serviceMonitorCRD = `{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
  "spec": {
    "group": "monitoring.coreos.com",
    "scope": "Namespaced",
    "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor",
      "listKind": "ServiceMonitorList", "shortNames": ["smon"]},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {
        "type": "object",
        "required": ["spec"],
        "properties": {
          "spec": {
            "type": "object",
            "required": ["endpoints", "selector"],
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {
              "selector": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
              "endpoints": {"type": "array", "items": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                  "port": {"type": "string"},
                  "path": {"type": "string"},
                  "interval": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
                  "scrapeTimeout": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
                }
              }}
            }
          }
        }
      }}
    }]
  }
}`

// helmInstall runs `helm install --dry-run=server` of the chart with args
// (values files, --set...) against the API server, fails the test if helm
// fails or warns, and returns the objects it rendered, hooks included, as
// JSON.
func (api *kubeAPI) helmInstall(t *testing.T, args ...string) [][]byte {
	t.Helper()
	cmd := append([]string{"install", release, chartDir, "--namespace", namespace,
		"--kubeconfig", api.kubeconfig, "--dry-run=server", "--output", "json"}, args...)
	out, err := helm(t, cmd...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	// The release as JSON on stdout, then whatever helm printed on stderr.
	var rel struct {
		Manifest string
		Hooks    []struct{ Manifest string }
		Info     struct{ Notes string }
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&rel); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	if rest := strings.TrimSpace(out[dec.InputOffset():]); rest != "" {
		t.Errorf("helm %s printed:\n%s", strings.Join(cmd, " "), rest)
	}
	// NOTES.txt renders only here (helm template skips it).
	if notes := rel.Info.Notes; !strings.Contains(notes, "How devices connect") || strings.Contains(notes, "%!") {
		t.Errorf("helm %s: NOTES.txt rendered badly:\n%s", strings.Join(cmd, " "), notes)
	}
	manifests := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		manifests = append(manifests, h.Manifest)
	}
	var objects [][]byte
	for _, m := range manifests {
		r := yaml.NewYAMLReader(bufio.NewReader(strings.NewReader(m)))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			obj, err := yaml.ToJSON(doc)
			if err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
			if string(obj) != "null" {
				objects = append(objects, obj)
			}
		}
	}
	if len(objects) == 0 {
		t.Fatalf("helm %s rendered no object:\n%s", strings.Join(cmd, " "), out)
	}
	return objects
}

// dryRunCreate creates each object with dryRun=All and strict field
// validation in the test namespace: the API server validates, defaults and
// admits it, and stores nothing. It returns the refusals and warnings.
func (api *kubeAPI) dryRunCreate(t *testing.T, objects [][]byte) error {
	t.Helper()
	var errs []error
	for _, obj := range objects {
		var head struct {
			APIVersion, Kind string
			Metadata         struct{ Name string }
		}
		if err := json.Unmarshal(obj, &head); err != nil {
			t.Fatal(err)
		}
		path, err := api.collectionPath(head.APIVersion, head.Kind)
		if err != nil {
			t.Fatal(err)
		}
		what := head.Kind + " " + head.Metadata.Name
		warnings, err := api.post(path+"?dryRun=All&fieldValidation=Strict", obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
		for _, w := range warnings {
			errs = append(errs, fmt.Errorf("%s: warning: %s", what, w))
		}
	}
	return errors.Join(errs...)
}

// collectionPath is the URL path of the kind's objects in the test
// namespace (or of the cluster, for a cluster-scoped kind).
func (api *kubeAPI) collectionPath(apiVersion, kind string) (string, error) {
	prefix := "/apis/" + apiVersion
	if apiVersion == "v1" {
		prefix = "/api/v1"
	}
	resources, ok := api.resources[apiVersion]
	if !ok {
		var list metav1.APIResourceList
		if err := api.get(prefix, &list); err != nil {
			return "", err
		}
		resources = list.APIResources
		api.resources[apiVersion] = resources
	}
	for _, r := range resources {
		if r.Kind == kind && !strings.Contains(r.Name, "/") {
			if r.Namespaced {
				return prefix + "/namespaces/" + namespace + "/" + r.Name, nil
			}
			return prefix + "/" + r.Name, nil
		}
	}
	return "", fmt.Errorf("the API server does not serve %s %s", apiVersion, kind)
}

// get GETs path from the API server and decodes the JSON answer into v
// (unless nil).
func (api *kubeAPI) get(path string, v any) error {
	return getJSON(api.client, api.url+path, api.token, v)
}

// getJSON GETs url (with a bearer token, unless empty) and decodes the JSON
// answer into v (unless nil).
func getJSON(client *http.Client, url, token string, v any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	body, _, err := do(client, req, token)
	if err != nil || v == nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// post POSTs the JSON object to path and returns the API server's warnings.
func (api *kubeAPI) post(path string, obj []byte) ([]string, error) {
	req, err := http.NewRequest(http.MethodPost, api.url+path, bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	_, header, err := do(api.client, req, api.token)
	var warnings []string
	for _, w := range header.Values("Warning") {
		// 299 - "text"
		if _, text, ok := strings.Cut(w, " - "); ok {
			if s, err := strconv.Unquote(text); err == nil {
				w = s
			}
		}
		warnings = append(warnings, w)
	}
	return warnings, err
}

// do sends req and returns the body of a 2xx answer; any other is an error
// with the message of the API server's Status.
func do(client *http.Client, req *http.Request, token string) ([]byte, http.Header, error) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, http.Header{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.Header, err
	}
	if resp.StatusCode/100 != 2 {
		var status metav1.Status
		if json.Unmarshal(body, &status) == nil && status.Message != "" {
			return nil, resp.Header, fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, status.Message)
		}
		return nil, resp.Header, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(body))
	}
	return body, resp.Header, nil
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// process is a program a test started; it stops when the test ends, and
// its output is shown if the test failed.
type process struct {
	name string
	cmd  *exec.Cmd
	out  syncbuf.Buffer
	done chan struct{} // closed when it exited
	err  error         // set before done is closed
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: filepath.Base(bin), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s %s\n%s", p.name, strings.Join(args, " "), lastLines(p.out.String(), 150))
		}
	})
	return p
}

// stop sends SIGTERM and, after 15 s, SIGKILL.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitFor calls ready until it returns nil; it fails the test if the
// process exits first or ready still fails after timeout.
func (p *process) waitFor(t *testing.T, timeout time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v)", p.name, p.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", p.name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
