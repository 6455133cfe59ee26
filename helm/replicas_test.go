package helm_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/pgtest"
	"github.com/s3ftp/s3ftp/test/replicas"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
	"github.com/s3ftp/s3ftp/test/tlstest"
)

// TestServeRenderedReplicas serves the replica layout's rendered
// configuration for real: three replicas, each with its pod's view
// (configuration file, Secret, its pod-index label), on one PostgreSQL and
// versitygw. This machine stands in for the cluster: replica N listens on
// 127.0.0.(N+1) and its peers are those addresses instead of the headless
// Service's DNS names. A client logs in on replica 0, takes PASV (a port of
// replica 0's slice) and EPSV, and sends each data connection to another
// replica, as the Service may: the upload lands whole, and the receiving
// replica counts a relayed connection.
func TestServeRenderedReplicas(t *testing.T) {
	const file = "ci/postgres-replicas-values.yaml"
	const n = 3
	dbURL := pgtest.Start(t).NewDatabase(t)
	srv := s3test.Versity(t)
	bucket := srv.NewBucket(t)

	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	base := replicas.FreeBlock(t, hosts, 2+2*n) // control, API, two passive ports per replica
	ftpPort, apiPort, pasvStart, pasvEnd := base, base+1, base+2, base+1+2*n
	override := map[string]any{
		"s3": map[string]any{
			"endpoint": srv.Endpoint, "bucket": bucket, "accessKey": srv.AccessKey, "secretKey": srv.SecretKey,
			"pathStyle": true, "region": "us-east-1", // versitygw's region
		},
		"database": map[string]any{"url": dbURL},
		"ftp": map[string]any{
			"publicHost":   "127.0.0.1",
			"passivePorts": map[string]any{"start": pasvStart, "end": pasvEnd},
			// The replicas' addresses here; the client comes from 127.0.1.1.
			"peerNetworks": []string{"127.0.0.0/24"},
		},
		"containerPorts": map[string]any{"ftp": ftpPort, "api": apiPort},
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
	ca := tlstest.NewCA(t)
	var token string
	for i, host := range hosts {
		p := newPod(t, m, operatorSecrets(t, ca), podFields(host, i))
		env := append(p.env,
			"S3FTP_FTP_LISTEN="+net.JoinHostPort(host, strconv.Itoa(ftpPort)),
			"S3FTP_API_LISTEN="+net.JoinHostPort(host, strconv.Itoa(apiPort)),
			"S3FTP_PEERS="+strings.Join(hosts, ","))
		s3ftpbin.StartEnv(t, "replica "+strconv.Itoa(i), s3ftpBin, env, p.args...)
		for _, kv := range p.env {
			if v, ok := strings.CutPrefix(kv, "S3FTP_API_TOKEN="); ok {
				token = v
			}
		}
	}
	for _, h := range hosts {
		waitOK(t, fmt.Sprintf("http://%s:%d/readyz", h, apiPort))
	}
	const user, password = "cam01", "correct horse battery staple"
	s3ftpbin.RunEnv(t, s3ftpBin, []string{"S3FTP_API_URL=" + fmt.Sprintf("http://127.0.0.1:%d", apiPort), "S3FTP_API_TOKEN=" + token},
		password+"\n", "users", "add", user, "--bucket", bucket, "--permissions", "upload,list", "--password-stdin")

	client := &net.TCPAddr{IP: net.ParseIP("127.0.1.1")}
	ftp := dialFTPFrom(t, client, net.JoinHostPort(hosts[0], strconv.Itoa(ftpPort)))
	ftp.cmd(331, "USER %s", user)
	ftp.cmd(230, "PASS %s", password)
	ftp.cmd(200, "TYPE I")
	first, last := replicas.SliceOf(pasvStart, pasvEnd, n, 0)
	for i, mode := range []string{"PASV", "EPSV"} {
		var port int
		if mode == "PASV" {
			_, port = parsePASV(t, ftp.cmd(227, "PASV"))
		} else {
			port = parseEPSV(t, ftp.cmd(229, "EPSV"))
		}
		if port < first || port > last {
			t.Errorf("%s on replica 0 gave port %d, outside its slice %d-%d", mode, port, first, last)
		}
		relay := hosts[1+i] // not the owner: it must relay
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: client}
		data, err := d.Dial("tcp", net.JoinHostPort(relay, strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("data connection to replica %s port %d: %v", relay, port, err)
		}
		payload := make([]byte, 1<<20+i)
		_, _ = rand.Read(payload)
		name := fmt.Sprintf("via-%s.bin", relay)
		ftp.cmd(150, "STOR %s", name)
		if _, err := data.Write(payload); err != nil {
			t.Fatal(err)
		}
		data.Close()
		ftp.reply(226)
		got, err := os.ReadFile(filepath.Join(srv.Dir, bucket, user, name))
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s through %s: object %s/%s: %d bytes (%v), want the %d uploaded", mode, relay, user, name, len(got), err, len(payload))
		}
		// The relay counts a connection when both its sides have ended,
		// which may be just after the 226.
		counted := func() bool {
			return strings.Contains(metrics(t, fmt.Sprintf("http://%s:%d/metrics", relay, apiPort)), "s3ftp_relay_connections_total")
		}
		for deadline := time.Now().Add(10 * time.Second); !counted() && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if !counted() {
			t.Errorf("replica %s shows no s3ftp_relay_connections_total 10 s after relaying", relay)
		}
	}
	ftp.cmd(221, "QUIT")
}

// metrics returns the text of a /metrics page.
func metrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parseEPSV returns the port of a 229 reply "(|||PORT|)".
func parseEPSV(t *testing.T, msg string) int {
	t.Helper()
	_, rest, ok := strings.Cut(msg, "(|||")
	p, _, ok2 := strings.Cut(rest, "|)")
	port, err := strconv.Atoi(p)
	if !ok || !ok2 || err != nil {
		t.Fatalf("EPSV reply %q has no port", msg)
	}
	return port
}
