package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/test/tlstest"
)

// ftpsGateway is a gateway (embedded store, demo user) serving FTPS with a
// certificate from a test CA: TLS required on the FTP port, and an implicit
// FTPS port.
type ftpsGateway struct {
	*gateway
	CA       *tlstest.CA
	Files    tlstest.Files // CA, certificate and key PEM files
	Implicit string        // implicit FTPS address, 127.0.0.1:PORT
}

// implicitLine is the startup line giving the implicit FTPS address.
var implicitLine = regexp.MustCompile(`(?m)^\s*FTPS:\s+implicit ftps://(\S+)`)

// startFTPSGateway starts `s3ftp serve --tls-cert --tls-key --tls-required
// --ftps-implicit-listen 127.0.0.1:0` on the embedded store.
func startFTPSGateway(t *testing.T) *ftpsGateway {
	t.Helper()
	ca := tlstest.NewCA(t)
	files := ca.WriteFiles(t, t.TempDir(), 1)
	dataDir, password := t.TempDir(), randomHex(12)
	g := &gateway{Kind: embeddedStore, User: "demo", Password: password, Bucket: "s3ftp", Prefix: "demo/", DataDir: dataDir}
	g.start(t, []string{
		"serve", "--ftp-listen", "127.0.0.1:0", "--passive-ports", "", "--api-listen", "127.0.0.1:0",
		"--data-dir", dataDir, "--demo-password", password, "--log-format", "json",
		"--tls-cert", files.Cert, "--tls-key", files.Key, "--tls-required", "--ftps-implicit-listen", "127.0.0.1:0",
	})
	m := implicitLine.FindStringSubmatch(g.Stdout.String())
	if m == nil {
		t.Fatalf("no implicit FTPS line in:\n%s", g.Stdout)
	}
	return &ftpsGateway{gateway: g, CA: ca, Files: files, Implicit: m[1]}
}

// implicitURL returns the ftps:// URL of path on the implicit port.
func (g *ftpsGateway) implicitURL(path string) string {
	return fmt.Sprintf("ftps://%s:%s@%s%s", g.User, g.Password, g.Implicit, path)
}

// curlActiveTLSBroken reports whether curl is a release (7.87.0 to 7.88.x,
// Debian 12's 7.88.1 among them) that sends active-mode data in clear after
// PROT P: curl issue #10666, fixed in 8.0.0.
func curlActiveTLSBroken(t *testing.T) bool {
	t.Helper()
	out, err := exec.Command(requireTool(t, "curl"), "--version").Output()
	if err != nil {
		t.Fatalf("curl --version: %v", err)
	}
	m := regexp.MustCompile(`^curl (\d+)\.(\d+)\.`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("curl --version printed %q", out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major == 7 && minor >= 87
}

// TestCurlFTPS: curl --ssl-reqd with the test CA uploads and downloads in
// every data connection mode (explicit FTPS, AUTH TLS then PROT P), and
// over implicit FTPS (ftps://); a session in clear is refused since TLS is
// required. A curl that sends active-mode data in clear (curl #10666) has
// its upload refused, and nothing is stored.
func TestCurlFTPS(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	const size = 3<<20 + 17
	local, sum := writeRandomFile(t, "data.bin", size, 5)
	g := startFTPSGateway(t)
	brokenActive := curlActiveTLSBroken(t)
	type mode struct {
		name   string
		url    func(path string) string
		args   []string
		cmd    string // what curl sends to open the data connection
		active bool
	}
	explicit := []string{"--ssl-reqd", "--cacert", g.Files.CA}
	for _, m := range []mode{
		{"explicit/epsv", g.URL, explicit, "> EPSV", false},
		{"explicit/pasv", g.URL, append([]string{"--disable-epsv"}, explicit...), "> PASV", false},
		{"explicit/eprt", g.URL, append([]string{"-P", "127.0.0.1"}, explicit...), "> EPRT |1|127.0.0.1|", true},
		{"explicit/port", g.URL, append([]string{"-P", "127.0.0.1", "--disable-eprt"}, explicit...), "> PORT 127,0,0,1,", true},
		{"implicit/epsv", g.implicitURL, []string{"--cacert", g.Files.CA}, "> EPSV", false},
		{"implicit/eprt", g.implicitURL, []string{"-P", "127.0.0.1", "--cacert", g.Files.CA}, "> EPRT |1|127.0.0.1|", true},
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			name := "/" + strings.ReplaceAll(m.name, "/", "-") + ".bin"
			args := func(more ...string) []string { return append(append([]string{}, m.args...), more...) }
			if m.active && brokenActive {
				r := runCurl(t, args("--max-time", "20", "-T", local, m.url(name))...)
				if r.code == 0 {
					t.Fatalf("curl with the active-mode TLS bug succeeded\n%s", r.transcript)
				}
				g.requireNoObject(t, name)
				if !strings.Contains(g.log(), "first record does not look like a TLS handshake") {
					t.Errorf("the gateway did not log the clear data connection it refused")
				}
				t.Logf("curl 7.87-7.88 sends active-mode data in clear after PROT P (curl issue #10666); its upload was refused as it should be")
				return
			}
			r := mustCurl(t, args("-T", local, m.url(name))...)
			for _, want := range []string{m.cmd, "> PROT P", "> STOR", "< 226"} {
				if !strings.Contains(r.transcript, want) {
					t.Fatalf("upload: %q not in the transcript\n%s", want, r.transcript)
				}
			}
			if strings.HasPrefix(m.name, "explicit") && !strings.Contains(r.transcript, "> AUTH") {
				t.Errorf("upload: no AUTH in the transcript\n%s", r.transcript)
			}
			g.requireObject(t, name, sum, size)
			out := filepath.Join(t.TempDir(), "out.bin")
			mustCurl(t, args("-o", out, m.url(name))...)
			if got, n := sha256File(t, out); got != sum || n != size {
				t.Fatalf("download: %d bytes, sha256 %s; want %d, %s", n, got, size, sum)
			}
			if l := mustCurl(t, args(m.url("/"))...).stdout; !strings.Contains(l, strings.TrimPrefix(name, "/")) {
				t.Errorf("LIST lacks %s:\n%s", name, l)
			}
		})
	}
	t.Run("clear refused", func(t *testing.T) {
		t.Parallel()
		r := runCurl(t, "-T", local, g.URL("/clear.bin"))
		if r.code == 0 || !strings.Contains(r.transcript, "< 421") {
			t.Fatalf("upload in clear with tls-required: exit status %d, want a failure with 421\n%s", r.code, r.transcript)
		}
		g.requireNoObject(t, "/clear.bin")
	})
}

// TestLftpFTPS: lftp with ftp:ssl-force and ftp:ssl-protect-data, trusting
// the test CA, puts, gets and lists in passive (PASV, EPSV) and active
// (PORT) mode.
func TestLftpFTPS(t *testing.T) {
	t.Parallel()
	requireTool(t, "lftp")
	const size = 2<<20 + 5
	local, sum := writeRandomFile(t, "data.bin", size, 6)
	g := startFTPSGateway(t)
	ssl := "set ftp:ssl-allow yes; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file " + g.Files.CA
	for _, m := range lftpModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			settings := ssl
			if m.setting != "" {
				settings += "; " + m.setting
			}
			name := "lftps-" + m.name + ".bin"
			out := filepath.Join(t.TempDir(), "out.bin")
			r := runLftp(t, g.gateway, settings, fmt.Sprintf("put %q -o %s", local, name), fmt.Sprintf("get %s -o %q", name, out), "ls")
			if r.code != 0 {
				t.Fatalf("lftp: exit status %d\n%s", r.code, r.transcript)
			}
			for _, want := range []string{"---> AUTH TLS", "---> PROT P", m.cmd, "---> STOR " + name, "---> RETR " + name, "<--- 226"} {
				if !strings.Contains(r.transcript, want) {
					t.Fatalf("%q not in the transcript\n%s", want, r.transcript)
				}
			}
			g.requireObject(t, "/"+name, sum, size)
			if got, n := sha256File(t, out); got != sum || n != size {
				t.Fatalf("get: %d bytes, sha256 %s; want %d, %s", n, got, size, sum)
			}
			if !strings.Contains(r.stdout, name) {
				t.Errorf("ls lacks %s:\n%s", name, r.stdout)
			}
		})
	}
}

// TestFTPSReloadOnSIGHUP: after the certificate files are replaced, SIGHUP
// makes the running binary serve the new certificate on both ports (the log
// says the reload was requested, not found by the periodic check).
func TestFTPSReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	g := startFTPSGateway(t)
	served := func(addr string, implicit bool) int64 {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if !implicit {
			buf := make([]byte, 512)
			if _, err := conn.Read(buf); err != nil { // the banner
				t.Fatal(err)
			}
			if _, err := conn.Write([]byte("AUTH TLS\r\n")); err != nil {
				t.Fatal(err)
			}
			if n, err := conn.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "234") {
				t.Fatalf("AUTH TLS: %q, %v", buf[:n], err)
			}
		}
		tc := tls.Client(conn, &tls.Config{RootCAs: g.CA.Pool, ServerName: "127.0.0.1"})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return tc.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := served(g.Addr, false); got != 1 {
		t.Fatalf("serving serial %d, want 1", got)
	}
	certPEM, keyPEM := g.CA.Issue(t, 2)
	for _, f := range []struct {
		path string
		data []byte
	}{{g.Files.Key, keyPEM}, {g.Files.Cert, certPEM}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(g.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the reload on SIGHUP in the log", func() bool {
		return strings.Contains(g.log(), `"msg":"TLS certificate reloaded","trigger":"reload requested"`)
	})
	if got := served(g.Addr, false); got != 2 {
		t.Errorf("explicit FTPS serves serial %d after SIGHUP, want 2", got)
	}
	if got := served(g.Implicit, true); got != 2 {
		t.Errorf("implicit FTPS serves serial %d after SIGHUP, want 2", got)
	}
}
