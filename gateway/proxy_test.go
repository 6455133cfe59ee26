package gateway_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// proxyHeader returns a PROXY header of version 1 or 2 for a TCP
// connection from src (port 40000) to dst (port 2121).
func proxyHeader(t *testing.T, version byte, src, dst string) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version,
		&net.TCPAddr{IP: net.ParseIP(src), Port: 40000}, &net.TCPAddr{IP: net.ParseIP(dst), Port: 2121})
	b, err := h.Format()
	must(t, "format PROXY header", err)
	return b
}

// dialWithHeader connects to addr from laddr and sends header first (as a
// load balancer does), and returns the connection without reading.
func dialWithHeader(t *testing.T, addr, laddr string, header []byte) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(laddr)}}
	conn, err := d.Dial("tcp", addr)
	must(t, "dial", err)
	t.Cleanup(func() { conn.Close() })
	if len(header) > 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Write(header)
		must(t, "write PROXY header", err)
	}
	return conn
}

// rawProxyDial is rawDial (from 127.0.0.1) with a PROXY header sent first.
func rawProxyDial(t *testing.T, addr string, header []byte) *raw {
	t.Helper()
	conn := dialWithHeader(t, addr, "127.0.0.1", header)
	c := &raw{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect(220)
	return c
}

// readUntilClosed reads conn until the server closes it (a reset, when
// the server did not read everything sent, counts as closed) and returns
// what was read; it fails the test if the connection stays open 10 s.
func readUntilClosed(t *testing.T, conn net.Conn) []byte {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 10 s (read %q)", got)
	}
	return got
}

// proxyOptions trusts 127.0.0.1 (the tests' load balancer) and waits
// headerTimeout for a header.
func proxyOptions(headerTimeout time.Duration) envOptions {
	return envOptions{settings: gateway.Settings{
		ProxyTrustedCIDRs:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		ProxyHeaderTimeout: headerTimeout,
	}}
}

// TestProxyTrustedHeader: behind a trusted proxy the header's address is
// the client's for the session log, the bounce check of PORT/EPRT and the
// IP match of passive data connections, in PROXY protocol v1 and v2.
func TestProxyTrustedHeader(t *testing.T) {
	t.Parallel()
	for _, version := range []byte{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			opts := proxyOptions(500 * time.Millisecond)
			// A refused data connection is closed and the transfer waits
			// on for the client's own until data-timeout: keep it short.
			opts.settings.ConnectionTimeout = 2 * time.Second
			e := newEnv(t, s3test.Fake(t), opts)
			e.put(t, "alice/f.txt", []byte("through the proxy"))
			const client = "203.0.113.7"
			c := rawProxyDial(t, e.addr, proxyHeader(t, version, client, "127.0.0.1"))
			c.login("alice")
			if logs := e.logs.String(); !strings.Contains(logs, "client="+client) {
				t.Errorf("the session log does not name the header's client %s:\n%s", client, logs)
			}

			// Active mode: the client is 203.0.113.7 now, so 127.0.0.1 is
			// someone else (bounce), and 203.0.113.7 is accepted.
			for _, bc := range []struct {
				cmd string
				ok  bool
			}{
				{"PORT 127,0,0,1,117,48", false},
				{"EPRT |1|127.0.0.1|30000|", false},
				{"PORT 203,0,113,7,117,48", true},
				{"EPRT |1|203.0.113.7|30000|", true},
			} {
				if code, text := c.send2(bc.cmd); (code == 200) != bc.ok {
					t.Errorf("%s: %d %s, want accepted=%v", bc.cmd, code, text, bc.ok)
				}
			}

			// Passive mode: the data connection's header decides the IP match.
			for _, dc := range []struct {
				name   string
				header []byte
				ok     bool
			}{
				{"header of the client", proxyHeader(t, version, client, "127.0.0.1"), true},
				{"header of another client", proxyHeader(t, version, "198.51.100.9", "127.0.0.1"), false},
				{"no header (the proxy's own address)", nil, false},
			} {
				data := dialWithHeader(t, c.pasv(true), "127.0.0.1", dc.header)
				c.send("RETR f.txt")
				if !dc.ok {
					if got := readUntilClosed(t, data); len(got) > 0 {
						t.Errorf("%s: the refused data connection received %q", dc.name, got)
					}
					if code, text := c.reply(); code < 400 {
						t.Errorf("%s: RETR %d %s, want refusal", dc.name, code, text)
					}
					continue
				}
				code, text := c.reply()
				if code != 150 {
					t.Fatalf("%s: RETR %d %s", dc.name, code, text)
				}
				_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
				got, _ := io.ReadAll(data)
				c.expect(226)
				if string(got) != "through the proxy" {
					t.Errorf("%s: downloaded %q", dc.name, got)
				}
			}

			// Without public-host, PASV advertises the address the client
			// reached on the proxy (the header's destination).
			d := rawProxyDial(t, e.addr, proxyHeader(t, version, client, "192.0.2.21"))
			d.login("alice")
			if text := d.cmd(227, "PASV"); !strings.Contains(text, "(192,0,2,21,") {
				t.Errorf("PASV = %q, want the header's destination 192.0.2.21", text)
			}
		})
	}
}

// TestProxyBan: a ban (too many failed logins) hits the header's address,
// not the proxy's, and is reported to the Observer.
func TestProxyBan(t *testing.T) {
	t.Parallel()
	obs := &observer{}
	opts := proxyOptions(500 * time.Millisecond)
	opts.observer = obs
	opts.throttle = &auth.ThrottleConfig{MaxFailures: 2, Window: time.Hour}
	e := newEnv(t, s3test.Fake(t), opts)
	banned := proxyHeader(t, 2, "203.0.113.66", "127.0.0.1")
	for range 2 {
		c := rawProxyDial(t, e.addr, banned)
		c.cmd(331, "USER nobody")
		c.cmd(530, "PASS guess")
	}
	conn := dialWithHeader(t, e.addr, "127.0.0.1", banned)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, _ := bufio.NewReader(conn).ReadString('\n'); !strings.HasPrefix(line, "421 ") {
		t.Errorf("banned client greeted with %q, want 421", line)
	}
	if !strings.Contains(e.logs.String(), `msg="connection refused: too many failed logins" client=203.0.113.66`) {
		t.Errorf("the refusal is not logged with the header's address:\n%s", e.logs.String())
	}
	if got := obs.get("refused:banned"); got != 1 {
		t.Errorf("ConnectionRefused(banned) called %d times, want 1", got)
	}
	// Another client behind the same proxy is not banned.
	c := rawProxyDial(t, e.addr, proxyHeader(t, 1, "203.0.113.67", "127.0.0.1"))
	c.login("alice")
}

// TestProxyUntrusted: a PROXY header from an address that is not trusted
// is never used: the connection is closed after the banner, and the
// header's address appears nowhere. Without a header such a client is
// served at once.
func TestProxyUntrusted(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		trusted string
		from    string
		version byte
	}{
		{"v1 from an untrusted network", "10.0.0.0/8", "127.0.0.1", 1},
		{"v2 from an untrusted network", "10.0.0.0/8", "127.0.0.1", 2},
		{"v1 from an untrusted address", "127.0.0.1/32", "127.0.0.2", 1},
		{"v2 from an untrusted address", "127.0.0.1/32", "127.0.0.2", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{
				ProxyTrustedCIDRs:  []netip.Prefix{netip.MustParsePrefix(c.trusted)},
				ProxyHeaderTimeout: 5 * time.Second,
			}})
			conn := dialWithHeader(t, e.addr, c.from, proxyHeader(t, c.version, "203.0.113.7", "127.0.0.1"))
			got := readUntilClosed(t, conn)
			if lines := strings.Split(strings.TrimSpace(string(got)), "\n"); len(lines) > 1 || !strings.HasPrefix(string(got), "220 ") && len(got) > 0 {
				t.Errorf("server sent %q, want at most the banner before closing", got)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "PROXY header from an untrusted address") {
				t.Errorf("the refused header is not logged:\n%s", logs)
			}
			if strings.Contains(logs, "203.0.113.7") {
				t.Errorf("the untrusted header's address reached the logs:\n%s", logs)
			}
			start := time.Now()
			plain := rawDial(t, e.addr, c.from)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("banner after %v for an untrusted client without header, want no wait", d)
			}
			plain.login("alice")
		})
	}
}

// TestProxyTrustedWithoutHeader: a trusted source may connect without a
// header (served after the header timeout, with its own address) or with
// a LOCAL one (a health check, served at once); a malformed header closes
// the connection before the banner, and a probe that closes at once is no
// session at all.
func TestProxyTrustedWithoutHeader(t *testing.T) {
	t.Parallel()
	obs := &observer{}
	opts := proxyOptions(300 * time.Millisecond)
	opts.observer = obs
	e := newEnv(t, s3test.Fake(t), opts)

	probe := dialWithHeader(t, e.addr, "127.0.0.1", nil)
	probe.Close()

	local, err := (&proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}).Format()
	must(t, "format LOCAL header", err)
	for _, c := range []struct {
		name    string
		header  []byte
		minWait time.Duration
	}{
		{"no header", nil, 300 * time.Millisecond},
		{"LOCAL header", local, 0},
	} {
		start := time.Now()
		rc := rawProxyDial(t, e.addr, c.header)
		if d := time.Since(start); d < c.minWait {
			t.Errorf("%s: banner after %v, want after the %v header timeout", c.name, d, c.minWait)
		}
		rc.login("alice")
		rc.cmd(221, "QUIT")
	}
	if logs := e.logs.String(); strings.Count(logs, `msg=connected`) != 2 || strings.Count(logs, "client=127.0.0.1") < 2 {
		t.Errorf("want two sessions of client 127.0.0.1 (and none for the probe):\n%s", logs)
	}

	for _, bad := range []string{"PROXY TCP4 nonsense\r\n", "PROXY TCP4 203.0.113.7 127.0.0.1 40000\r\n"} {
		conn := dialWithHeader(t, e.addr, "127.0.0.1", []byte(bad))
		if got := readUntilClosed(t, conn); len(got) > 0 {
			t.Errorf("malformed header %q: read %q; want the connection closed without a banner", bad, got)
		}
	}
	if got := obs.get("refused:proxy_header"); got != 2 {
		t.Errorf("ConnectionRefused(proxy_header) called %d times, want 2", got)
	}
}

// TestProxyImplicitFTPS: on the implicit FTPS port the header comes before
// the TLS handshake.
func TestProxyImplicitFTPS(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"}, proxyOptions(500*time.Millisecond))
	conn := dialWithHeader(t, e.gw.ImplicitAddr(), "127.0.0.1", proxyHeader(t, 2, "203.0.113.7", "127.0.0.1"))
	tc := tls.Client(conn, e.clientConfig())
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	must(t, "TLS handshake after the PROXY header", tc.Handshake())
	c := &raw{t: t, conn: tc, r: bufio.NewReader(tc)}
	c.expect(220)
	c.login("alice")
	if logs := e.logs.String(); !strings.Contains(logs, "client=203.0.113.7 ftps=implicit") {
		t.Errorf("the implicit session is not logged with the header's client:\n%s", logs)
	}
}

// TestProxyDisabled: without trusted CIDRs a header is never parsed: it is
// an unknown command, and the socket's address stays the client's.
func TestProxyDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	c := rawProxyDial(t, e.addr, proxyHeader(t, 1, "203.0.113.7", "127.0.0.1"))
	if code, text := c.reply(); code < 500 {
		t.Errorf("PROXY line answered %d %s, want a 5xx refusal", code, text)
	}
	c.login("alice")
	if code, _ := c.send2("PORT 203,0,113,7,117,48"); code == 200 {
		t.Errorf("PORT to the header's address accepted: the header was used")
	}
	if strings.Contains(e.logs.String(), "client=203.0.113.7") {
		t.Errorf("the header's address was used")
	}
}

// TestParseCIDRs: CIDRs and single addresses are accepted and masked;
// anything else is refused, quoted.
func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want string // prefixes joined by spaces, or the error's quote
		ok   bool
	}{
		{nil, "", true},
		{[]string{"10.1.2.3/8", " 192.0.2.7 ", "2001:db8::1/32", "::1"}, "10.0.0.0/8 192.0.2.7/32 2001:db8::/32 ::1/128", true},
		{[]string{"::ffff:192.0.2.7"}, "192.0.2.7/32", true},
		{[]string{"10.0.0.0/33"}, `"10.0.0.0/33"`, false},
		{[]string{"lb.example.com"}, `"lb.example.com"`, false},
		{[]string{""}, `""`, false},
	} {
		got, err := gateway.ParseCIDRs(c.in)
		if !c.ok {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseCIDRs(%q) = %v, %v; want an error quoting %s", c.in, got, err, c.want)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, " ") != c.want {
			t.Errorf("ParseCIDRs(%q) = %v, %v; want %s", c.in, s, err, c.want)
		}
	}
}
