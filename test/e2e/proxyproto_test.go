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

	proxyproto "github.com/pires/go-proxyproto"
)

// TestProxyProtocolAndLimits: `serve --proxy-trusted-cidrs 127.0.0.1
// --max-sessions 1` behind a "load balancer" on 127.0.0.1. curl
// --haproxy-protocol (PROXY v1 on the control and the data connections)
// uploads and downloads; a client announced by a v2 header as 203.0.113.7
// is logged as such; while it is connected, a second session gets 421.
func TestProxyProtocolAndLimits(t *testing.T) {
	t.Parallel()
	password := randomHex(12)
	g := &gateway{Kind: embeddedStore, User: "demo", Password: password, Bucket: "s3ftp", Prefix: "demo/", DataDir: t.TempDir()}
	g.start(t, []string{
		"serve", "--ftp-listen", "127.0.0.1:0", "--passive-ports", "", "--api-listen", "",
		"--data-dir", g.DataDir, "--demo-password", password, "--log-format", "json",
		"--proxy-trusted-cidrs", "127.0.0.1", "--max-sessions", "1",
	})

	src := filepath.Join(t.TempDir(), "scan.pdf")
	if err := os.WriteFile(src, []byte("behind the balancer"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCurl(t, "--haproxy-protocol", "-T", src, g.URL("/"))
	if got := mustCurl(t, "--haproxy-protocol", g.URL("/scan.pdf")).stdout; got != "behind the balancer" {
		t.Errorf("download through PROXY v1 = %q", got)
	}

	conn := dialV2(t, g.Addr, "203.0.113.7")
	r := bufio.NewReader(conn)
	for _, step := range []struct{ send, want string }{
		{"", "220 "}, {"USER demo", "331 "}, {"PASS " + password, "230 "},
	} {
		if step.send != "" {
			fmt.Fprintf(conn, "%s\r\n", step.send)
		}
		if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, step.want) {
			t.Fatalf("after %q: %q, want %s", step.send, line, step.want)
		}
	}
	waitFor(t, 5*time.Second, `a login logged with "client":"203.0.113.7"`, func() bool {
		return strings.Contains(g.log(), `"client":"203.0.113.7"`)
	})

	second := dialV2(t, g.Addr, "203.0.113.8")
	if line, _ := bufio.NewReader(second).ReadString('\n'); !strings.HasPrefix(line, "421 Too many connections") {
		t.Errorf("second session over max-sessions 1 greeted with %q, want 421", line)
	}
}

// dialV2 connects to addr and sends a PROXY v2 header for client, as a
// load balancer does; the connection is closed when the test ends.
func dialV2(t *testing.T, addr, client string) net.Conn {
	t.Helper()
	header, err := proxyproto.HeaderProxyFromAddrs(2,
		&net.TCPAddr{IP: net.ParseIP(client), Port: 40000}, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 21}).Format()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(header); err != nil {
		t.Fatal(err)
	}
	return conn
}
