package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIdleClientsDoNotLockOut: `serve --max-sessions 4
// --max-unauthenticated-per-ip 2 --login-timeout 2s` with one passive port
// and `--data-timeout 2s`. Ten connections from 127.0.0.2 that never log in
// take two sessions (the other eight get 421 at once) and are closed with
// 421 after two seconds, which the log says; a session that sends EPSV and
// never connects holds the only passive port until the data timeout, and
// then curl uploads through it.
func TestIdleClientsDoNotLockOut(t *testing.T) {
	t.Parallel()
	password := randomHex(12)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	g := &gateway{Kind: embeddedStore, User: "demo", Password: password, Bucket: "s3ftp", Prefix: "demo/", DataDir: t.TempDir()}
	g.start(t, []string{
		"serve", "--ftp-listen", "127.0.0.1:0", "--passive-ports", fmt.Sprintf("%d-%d", port, port), "--api-listen", "",
		"--data-dir", g.DataDir, "--demo-password", password, "--log-format", "json",
		"--max-sessions", "4", "--max-unauthenticated-per-ip", "2", "--login-timeout", "2s", "--data-timeout", "2s",
	})

	var idle []*bufio.Reader
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	for range 10 {
		conn, err := d.Dial("tcp", g.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(conn)
		switch line, _ := r.ReadString('\n'); {
		case strings.HasPrefix(line, "220 "):
			idle = append(idle, r)
		case !strings.HasPrefix(line, "421 Too many connections from your address that have not logged in"):
			t.Fatalf("idle connection greeted with %q", line)
		}
	}
	if len(idle) != 2 {
		t.Fatalf("%d idle connections from one address got a banner, want 2", len(idle))
	}

	holder := dialRaw(t, g)
	holder.cmd(t, 229, "EPSV") // the only passive port, never connected to
	src := filepath.Join(t.TempDir(), "scan.pdf")
	if err := os.WriteFile(src, []byte("after the idle ones"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "curl uploading through the passive port given back", func() bool {
		return runCurl(t, "-T", src, g.URL("/scan.pdf")).code == 0
	})
	for _, r := range idle {
		if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "421 No login within 2s") {
			t.Errorf("idle connection got %q after the login timeout, want 421", line)
		}
	}
	log := g.log()
	for _, want := range []string{
		`"msg":"connection refused: too many connections not logged in"`,
		`"msg":"session closed: no login within login-timeout"`,
		`"msg":"passive port closed: no data connection within data-timeout"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
}
