package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/gatewaytest"
	"github.com/s3ftp/s3ftp/test/syncbuf"
	"github.com/s3ftp/s3ftp/test/tlstest"
)

// TestTLSConfig: the TLS keys are checked at start, with errors naming the
// key; keys that need a certificate are refused without one.
func TestTLSConfig(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	files := ca.WriteFiles(t, dir, 1)
	_, otherKey := ca.Issue(t, 2)
	mismatched := filepath.Join(dir, "other-key.pem")
	if err := os.WriteFile(mismatched, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	cert := []string{"--tls-cert", files.Cert, "--tls-key", files.Key}
	withCert := func(args ...string) []string { return append(append([]string{}, cert...), args...) }
	for _, c := range []struct {
		name    string
		args    []string
		wantKey string // "" for a valid configuration
	}{
		{"no TLS", nil, ""},
		{"certificate", cert, ""},
		{"cert without key", []string{"--tls-cert", files.Cert}, "tls-cert"},
		{"key without cert", []string{"--tls-key", files.Key}, "tls-cert"},
		{"required without cert", []string{"--tls-required"}, "tls-required"},
		{"implicit without cert", []string{"--ftps-implicit-listen", "127.0.0.1:990"}, "ftps-implicit-listen"},
		{"min version without cert", []string{"--tls-min-version", "1.0"}, "tls-min-version"},
		{"suites without cert", []string{"--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}, "tls-cipher-suites"},
		{"missing cert file", []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", files.Key}, "tls-cert"},
		{"missing key file", []string{"--tls-cert", files.Cert, "--tls-key", filepath.Join(dir, "nope.pem")}, "tls-key"},
		{"mismatched pair", []string{"--tls-cert", files.Cert, "--tls-key", mismatched}, "tls-cert, tls-key"},
		{"bad min version", withCert("--tls-min-version", "1.4"), "tls-min-version"},
		{"old devices", withCert("--tls-min-version", "1.0"), ""},
		{"suites", withCert("--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), ""},
		{"unknown suite", withCert("--tls-cipher-suites", "ECDHE-ECDSA-AES128-GCM-SHA256"), "tls-cipher-suites"},
		{"insecure suite", withCert("--tls-cipher-suites", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"), "tls-cipher-suites"},
		{"insecure suite for old devices", withCert("--tls-min-version", "1.0", "--tls-cipher-suites", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"), ""},
		{"suites with TLS 1.3 only", withCert("--tls-min-version", "1.3", "--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), "tls-cipher-suites"},
		{"bad implicit address", withCert("--ftps-implicit-listen", "990"), "ftps-implicit-listen"},
		{"implicit and required", withCert("--ftps-implicit-listen", "0.0.0.0:990", "--tls-required"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := env{stderr: &bytes.Buffer{}, getenv: mapEnv(nil)}
			_, err := parseConfig("serve", c.args, e)
			switch {
			case c.wantKey == "" && err != nil:
				t.Errorf("%v: %v", c.args, err)
			case c.wantKey != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantKey+":")):
				t.Errorf("%v: err = %v, want one naming %s", c.args, err, c.wantKey)
			}
		})
	}
	// The same keys from the environment and a file; lists from YAML.
	file := writeFile(t, "c.yaml", "tls-cert: "+files.Cert+"\ntls-key: "+files.Key+"\ntls-cipher-suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n")
	e := env{stderr: &bytes.Buffer{}, getenv: mapEnv(map[string]string{"S3FTP_TLS_MIN_VERSION": "1.1", "S3FTP_TLS_REQUIRED": "true"})}
	c, err := parseConfig("serve", []string{"--config", file}, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.tls.MinVersion != tls.VersionTLS11 || !c.tls.Required || len(c.tls.CipherSuites) != 1 || c.tls.Certificates == nil {
		t.Errorf("TLS settings = %+v", c.tls)
	}
}

// TestServeFTPS: serve with a certificate announces explicit and implicit
// FTPS, refuses a session in clear when TLS is required, and serves the
// demo user on both ports.
func TestServeFTPS(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	files := ca.WriteFiles(t, t.TempDir(), 1)
	addr, out := startServe(t, "--data-dir", t.TempDir(), "--demo-password", "demo-pass-123",
		"--tls-cert", files.Cert, "--tls-key", files.Key, "--tls-required", "--ftps-implicit-listen", "127.0.0.1:0")
	if !strings.Contains(out.String(), "FTPS:       explicit (AUTH TLS) on the FTP port, required for every session; TLS 1.2 or later") {
		t.Errorf("no explicit FTPS line:\n%s", out)
	}
	m := regexp.MustCompile(`FTPS:\s+implicit ftps://(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no implicit FTPS line:\n%s", out)
	}
	if strings.Contains(out.String(), "PRIVATE KEY") {
		t.Errorf("the key was printed")
	}
	cfg := &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	for _, dial := range []func() (*ftp.ServerConn, error){
		func() (*ftp.ServerConn, error) {
			return ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second), ftp.DialWithExplicitTLS(cfg))
		},
		func() (*ftp.ServerConn, error) {
			return ftp.Dial(m[1], ftp.DialWithTimeout(10*time.Second), ftp.DialWithTLS(cfg))
		},
	} {
		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("demo", "demo-pass-123"); err != nil {
			t.Fatal(err)
		}
		if err := c.Stor("tls.txt", strings.NewReader("over TLS")); err != nil {
			t.Fatal(err)
		}
		_ = c.Quit()
	}
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("demo", "demo-pass-123"); err == nil || !strings.Contains(err.Error(), "TLS is required") {
		t.Errorf("login in clear with tls-required: %v", err)
	}
}

// TestReloadOnSIGHUP: a SIGHUP reloads the certificate, which the gateway
// logs; without TLS it is logged and ignored (the process lives on).
func TestReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	files := ca.WriteFiles(t, t.TempDir(), 1)
	certs, err := gateway.NewCertReloader(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	gw, err := gateway.New(gateway.Config{
		Settings:      gateway.Settings{ListenAddr: "127.0.0.1:0", TLS: gateway.TLSSettings{Certificates: certs, ReloadInterval: time.Hour}},
		Authenticator: denyAll{},
		Storage:       gatewaytest.UnusedStorage(t),
		Logger:        log,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := reloadOnSIGHUP(t.Context(), gw, true, log)
	defer stop()
	stopPlain := reloadOnSIGHUP(t.Context(), gw, false, log)
	defer stopPlain()

	certPEM, keyPEM := ca.Issue(t, 2)
	if err := os.WriteFile(files.Key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.Cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for certs.Certificate().Leaf.SerialNumber.Int64() != 2 || !strings.Contains(logs.String(), "no TLS certificate to reload") {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload the certificate; log:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), `"msg":"TLS certificate reloaded","trigger":"reload requested"`) {
		t.Errorf("the reload was not logged:\n%s", logs)
	}
}

// denyAll is an Authenticator that refuses everyone.
type denyAll struct{}

func (denyAll) Authenticate(context.Context, string, string, netip.Addr) (*auth.User, error) {
	return nil, auth.ErrDenied
}
