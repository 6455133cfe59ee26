package helm_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
	"github.com/s3ftp/s3ftp/test/tlstest"
)

// hostIP stands for the node's IP (fieldRef status.hostIP).
const hostIP = "192.0.2.10"

// operatorSecrets are the Secrets the CI values files name but the chart
// does not render: existingSecret with the keys the chart documents, and
// the FTPS certificate (cert-manager's, in a cluster) issued by ca.
func operatorSecrets(t *testing.T, ca *tlstest.CA) map[string]map[string][]byte {
	t.Helper()
	cert, key := ca.Issue(t, 2)
	return map[string]map[string][]byte{
		"s3ftp-credentials": {
			"S3FTP_API_TOKEN":     []byte("ci-admin-token"),
			"S3FTP_S3_ACCESS_KEY": []byte("AKIACIEXAMPLE"),
			"S3FTP_S3_SECRET_KEY": []byte("ci-secret-key"),
			"S3FTP_DB_URL":        []byte("postgres://s3ftp@db.example:5432/s3ftp"),
		},
		"ftp-example-com-tls": {"tls.crt": cert, "tls.key": key},
	}
}

// configKey is the configuration key of an S3FTP_ environment variable.
func configKey(env string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(env, "S3FTP_"), "_", "-"))
}

// TestRenderedConfig runs `s3ftp config check` on the configuration each
// values file renders, in the pod's view (mounted files, environment from
// the Secret and the Downward API), and checks the effective settings: the
// passive range, the advertised host, and that every environment variable
// the chart sets names a key of the gateway.
func TestRenderedConfig(t *testing.T) {
	ca := tlstest.NewCA(t)
	for _, want := range deployments {
		t.Run(want.file, func(t *testing.T) {
			m := render(t, "-f", filepath.Join("ci", want.file))
			p := newPod(t, m, operatorSecrets(t, ca), podFields(hostIP, 0))
			if len(p.args) == 0 || p.args[0] != "serve" {
				t.Fatalf("container args %v, want serve ...", p.args)
			}
			out := s3ftpbin.RunEnv(t, s3ftpBin, p.env, "", append([]string{"config", "check"}, p.args[1:]...)...)
			var eff map[string]any
			if err := yaml.Unmarshal([]byte(out), &eff); err != nil {
				t.Fatalf("config check printed no YAML: %v\n%s", err, out)
			}
			wantHost := want.publicHost
			if want.hostIP {
				wantHost = hostIP
			}
			for key, val := range map[string]string{
				"public-host":   wantHost,
				"passive-ports": fmt.Sprintf("%d-%d", want.passive[0], want.passive[1]),
				"storage":       "s3",
				"s3-bucket":     "ci-files",
			} {
				if got := fmt.Sprint(eff[key]); got != val {
					t.Errorf("effective %s %q, want %q", key, got, val)
				}
			}
			for _, kv := range p.env {
				name, _, _ := strings.Cut(kv, "=")
				if !strings.HasPrefix(name, "S3FTP_") {
					continue
				}
				if v, ok := eff[configKey(name)]; !ok || fmt.Sprint(v) == "" {
					t.Errorf("environment %s: the gateway has no key %s set from it (%v)", name, configKey(name), v)
				}
			}
		})
	}
}

// TestServeRendered serves one rendered values file for real: the gateway
// runs with the rendered arguments, configuration, Secret and TLS mount
// against versitygw; the initial users' Jobs run their rendered commands
// against its admin API; the probes answer; and an FTPS client logs in,
// takes PASV (which must advertise the public host and a port the Service
// exposes) and uploads a file that lands under the user's prefix.
func TestServeRendered(t *testing.T) {
	const file = "ci/loadbalancer-values.yaml"
	srv := s3test.Versity(t)
	bucket := srv.NewBucket(t)
	ca := tlstest.NewCA(t)

	// The values file as operators write it, plus what differs on this
	// machine: the S3 service, the address clients reach, free local ports,
	// and one more initial user whose password the test knows.
	const user, password, prefix = "ftpuser", "correct horse battery staple", "devices/ftpuser"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	users, _ := values["initialUsers"].([]any)
	users = append(users, map[string]any{
		"name": user, "passwordHash": string(hash), "prefix": prefix, "requireTLS": true,
		"permissions": []string{"list", "upload", "download", "mkdir"}, "allowedNetworks": []string{"127.0.0.0/8"},
	})
	override := map[string]any{
		"s3": map[string]any{
			"endpoint": srv.Endpoint, "bucket": bucket, "accessKey": srv.AccessKey, "secretKey": srv.SecretKey,
		},
		"ftp":            map[string]any{"publicHost": "127.0.0.1"},
		"containerPorts": map[string]any{"ftp": freePort(t), "api": freePort(t), "ftpsImplicit": freePort(t)},
		"initialUsers":   users,
	}
	overrideFile := filepath.Join(t.TempDir(), "local-values.yaml")
	b, err := yaml.Marshal(override)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(overrideFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m := render(t, "-f", file, "-f", overrideFile)

	p := newPod(t, m, operatorSecrets(t, ca), podFields("127.0.0.1", 0))
	s3ftpbin.StartEnv(t, "chart", s3ftpBin, p.env, p.args...)
	_, c := m.gateway(t)
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", containerPort(c, "http"))
	for _, probe := range []string{c.StartupProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path} {
		waitOK(t, apiURL+probe)
	}

	// The Jobs, as the cluster runs them after `helm install`, with the API
	// Service's name resolved to the pod.
	api := m.service("api")
	serviceURL := fmt.Sprintf("http://%s.%s.svc:%d", api.Name, namespace, api.Spec.Ports[0].Port)
	secretData := m.secretData(t, nil)
	var names, adminEnv []string
	for _, j := range all[*batchv1.Job](m) {
		jc := &j.Spec.Template.Spec.Containers[0]
		env := containerEnv(t, jc, secretData, nil)
		for i, kv := range env {
			env[i] = strings.Replace(kv, "S3FTP_API_URL="+serviceURL, "S3FTP_API_URL="+apiURL, 1)
		}
		s3ftpbin.RunEnv(t, s3ftpBin, env, "", jc.Args...)
		names, adminEnv = append(names, jc.Args[2]), env
	}
	if len(names) != len(users) {
		t.Fatalf("%d Jobs for %d initial users", len(names), len(users))
	}
	listed := s3ftpbin.RunEnv(t, s3ftpBin, adminEnv, "", "users", "list")
	for _, n := range names {
		if !strings.Contains(listed, n) {
			t.Errorf("users list lacks %s:\n%s", n, listed)
		}
	}

	// A device: explicit FTPS on the control port, PASV, upload.
	tlsConf := &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	ftp := dialFTP(t, fmt.Sprintf("127.0.0.1:%d", containerPort(c, "ftp")))
	ftp.cmd(234, "AUTH TLS")
	ftp.startTLS(tlsConf)
	ftp.cmd(331, "USER %s", user)
	ftp.cmd(230, "PASS %s", password)
	ftp.cmd(200, "PBSZ 0")
	ftp.cmd(200, "PROT P")
	ftp.cmd(200, "TYPE I")
	host, port := parsePASV(t, ftp.cmd(227, "PASV"))
	if host != "127.0.0.1" {
		t.Errorf("PASV advertises %s, want ftp.publicHost 127.0.0.1", host)
	}
	svc := m.service("ftp")
	if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
		return sp.Port == int32(port) && sp.TargetPort.String() == fmt.Sprintf("pasv-%d", port)
	}) {
		t.Errorf("PASV port %d is not a port of Service %s", port, svc.Name)
	}
	payload := make([]byte, 3<<20)
	_, _ = rand.Read(payload)
	dataConn, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatalf("data connection to %s:%d: %v", host, port, err)
	}
	_ = dataConn.SetDeadline(time.Now().Add(time.Minute))
	// The server accepts the data connection, and so shakes hands, once
	// the transfer command has come.
	ftp.cmd(150, "STOR scan-0001.pdf")
	data := tls.Client(dataConn, tlsConf)
	if _, err := data.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := data.Close(); err != nil {
		t.Fatal(err)
	}
	ftp.reply(226)
	ftp.cmd(221, "QUIT")
	got, err := os.ReadFile(filepath.Join(srv.Dir, bucket, prefix, "scan-0001.pdf"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Errorf("object %s/%s/scan-0001.pdf: %d bytes (%v), want the %d uploaded", bucket, prefix, len(got), err, len(payload))
	}

	// Implicit FTPS on its own port.
	implicit, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", containerPort(c, "ftps-implicit")), tlsConf)
	if err != nil {
		t.Fatalf("implicit FTPS: %v", err)
	}
	defer implicit.Close()
	if _, _, err := textproto.NewConn(implicit).ReadResponse(220); err != nil {
		t.Errorf("implicit FTPS greeting: %v", err)
	}
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitOK polls url until it answers 200, for up to 20 s.
func waitOK(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ftpClient speaks just enough FTP for the test to see the server's
// replies itself (PASV's address in particular).
type ftpClient struct {
	t    *testing.T
	conn net.Conn
	tp   *textproto.Conn
}

// dialFTP connects to an FTP server and reads its greeting.
func dialFTP(t *testing.T, addr string) *ftpClient {
	t.Helper()
	return dialFTPFrom(t, nil, addr)
}

// dialFTPFrom is dialFTP from the local address from (nil: any).
func dialFTPFrom(t *testing.T, from *net.TCPAddr, addr string) *ftpClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != nil {
		d.LocalAddr = from
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	f := &ftpClient{t: t, conn: conn, tp: textproto.NewConn(conn)}
	f.reply(220)
	return f
}

// cmd sends a command and returns the text of its reply, which must have
// code (a one-digit code accepts its class).
func (f *ftpClient) cmd(code int, format string, args ...any) string {
	f.t.Helper()
	if err := f.tp.PrintfLine(format, args...); err != nil {
		f.t.Fatalf("%s: %v", strings.Fields(format)[0], err)
	}
	return f.reply(code)
}

// reply reads a reply that must have code.
func (f *ftpClient) reply(code int) string {
	f.t.Helper()
	_, msg, err := f.tp.ReadResponse(code)
	if err != nil {
		f.t.Fatalf("want reply %d: %v", code, err)
	}
	return msg
}

// startTLS turns the control connection into TLS after AUTH TLS.
func (f *ftpClient) startTLS(conf *tls.Config) {
	f.t.Helper()
	tc := tls.Client(f.conn, conf)
	if err := tc.Handshake(); err != nil {
		f.t.Fatalf("TLS handshake: %v", err)
	}
	f.conn, f.tp = tc, textproto.NewConn(tc)
}

// pasvReply is the h1,h2,h3,h4,p1,p2 of a 227 reply.
var pasvReply = regexp.MustCompile(`(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)`)

// parsePASV returns the address of a 227 reply.
func parsePASV(t *testing.T, msg string) (host string, port int) {
	t.Helper()
	m := pasvReply.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("PASV reply %q has no address", msg)
	}
	n := make([]int, 6)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], n[2], n[3]), n[4]<<8 | n[5]
}
