package gateway_test

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/gatewaytest"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// greeting connects from laddr (after header, if any) and returns the
// first reply line.
func greeting(t *testing.T, addr, laddr string, header []byte) string {
	t.Helper()
	conn := dialWithHeader(t, addr, laddr, header)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return line
}

// quit ends c's session and waits until the server has closed it.
func quit(c *raw) {
	c.t.Helper()
	c.cmd(221, "QUIT")
	readUntilClosed(c.t, c.conn)
}

// TestSessionLimits: over the total or per-address session limit a client
// is told 421 and disconnected; the refusal is logged and reported; once a
// session ends, its slot takes a new one.
func TestSessionLimits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		settings gateway.Settings
		from     []string // two sessions that fit, then a third refused
		reason   string
		reply    string
	}{
		{"total", gateway.Settings{MaxSessions: 2}, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"},
			"max_sessions", "421 Too many connections to this server"},
		{"per address", gateway.Settings{MaxSessionsPerIP: 1}, []string{"127.0.0.1", "127.0.0.2", "127.0.0.1"},
			"max_sessions_per_ip", "421 Too many connections from your address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			obs := &observer{}
			e := newEnv(t, s3test.Fake(t), envOptions{settings: c.settings, observer: obs})
			first := rawDial(t, e.addr, c.from[0])
			first.login("alice")
			rawDial(t, e.addr, c.from[1]).login("alice")
			if line := greeting(t, e.addr, c.from[2], nil); !strings.HasPrefix(line, c.reply) {
				t.Errorf("third session greeted with %q, want %q", line, c.reply)
			}
			if got := obs.get("refused:" + c.reason); got != 1 {
				t.Errorf("ConnectionRefused(%s) called %d times, want 1", c.reason, got)
			}
			if logs := e.logs.String(); !strings.Contains(logs, `msg="connection refused: too many sessions" client=`+c.from[2]+" reason="+c.reason) {
				t.Errorf("the refusal is not logged:\n%s", logs)
			}
			quit(first)
			rawDial(t, e.addr, c.from[2]).login("alice") // the freed slot
		})
	}
}

// TestSessionLimitsBehindProxy: the per-address limit counts the clients
// named by PROXY headers, not the load balancer they all come through.
func TestSessionLimitsBehindProxy(t *testing.T) {
	t.Parallel()
	opts := proxyOptions(500 * time.Millisecond)
	opts.settings.MaxSessionsPerIP = 1
	e := newEnv(t, s3test.Fake(t), opts)
	a := rawProxyDial(t, e.addr, proxyHeader(t, 2, "203.0.113.7", "127.0.0.1"))
	if line := greeting(t, e.addr, "127.0.0.1", proxyHeader(t, 2, "203.0.113.7", "127.0.0.1")); !strings.HasPrefix(line, "421 ") {
		t.Errorf("second session of 203.0.113.7 greeted with %q, want 421", line)
	}
	rawProxyDial(t, e.addr, proxyHeader(t, 1, "203.0.113.8", "127.0.0.1")).login("alice")
	a.login("alice")
}

// TestSessionLimitsAcrossPorts: one total limit covers the FTP port and
// the implicit FTPS port together.
func TestSessionLimitsAcrossPorts(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"}, envOptions{settings: gateway.Settings{MaxSessions: 1}})
	c := rawDialImplicit(t, e.gw.ImplicitAddr(), e.clientConfig())
	if line := greeting(t, e.addr, "127.0.0.1", nil); !strings.HasPrefix(line, "421 ") {
		t.Errorf("FTP session beside an implicit FTPS one greeted with %q, want 421", line)
	}
	quit(c)
	rawDial(t, e.addr, "127.0.0.1").login("alice")
}

// TestLimitSettingsValidation: negative limits, a negative PROXY header
// timeout, an invalid trusted prefix, a login timeout under 1s and a
// passive share outside 1-100 are refused by New.
func TestLimitSettingsValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		set  gateway.Settings
		ok   bool
	}{
		{"defaults", gateway.Settings{}, true},
		{"limits", gateway.Settings{MaxSessions: 10, MaxSessionsPerIP: 2, ProxyTrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, true},
		{"negative total", gateway.Settings{MaxSessions: -1}, false},
		{"negative per address", gateway.Settings{MaxSessionsPerIP: -1}, false},
		{"negative header timeout", gateway.Settings{ProxyHeaderTimeout: -time.Second}, false},
		{"invalid prefix", gateway.Settings{ProxyTrustedCIDRs: []netip.Prefix{{}}}, false},
		{"negative unauthenticated", gateway.Settings{MaxUnauthenticatedPerIP: -1}, false},
		{"login timeout under 1s", gateway.Settings{LoginTimeout: time.Millisecond}, false},
		{"passive share 100", gateway.Settings{PassiveShare: 100}, true},
		{"passive share over 100", gateway.Settings{PassiveShare: 101}, false},
		{"negative passive share", gateway.Settings{PassiveShare: -1}, false},
	} {
		_, err := gateway.New(gateway.Config{
			Settings:      c.set,
			Authenticator: denyAll{},
			Storage:       gatewaytest.UnusedStorage(t),
		})
		if (err == nil) != c.ok {
			t.Errorf("%s: New = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestUnauthenticatedLimit: connections that have not logged in are capped
// per address, so many idle ones from one address cannot take the sessions
// of others; a session stops counting when it logs in, so more devices
// behind one address than the cap can log in; the refusal is logged and
// reported.
func TestUnauthenticatedLimit(t *testing.T) {
	t.Parallel()
	obs := &observer{}
	e := newEnv(t, s3test.Fake(t), envOptions{
		settings: gateway.Settings{MaxSessions: 7, MaxUnauthenticatedPerIP: 2}, observer: obs,
	})
	idle := []*raw{rawDial(t, e.addr, "127.0.0.2"), rawDial(t, e.addr, "127.0.0.2")}
	const refused = 8
	for range refused {
		if line := greeting(t, e.addr, "127.0.0.2", nil); !strings.HasPrefix(line, "421 Too many connections from your address that have not logged in") {
			t.Fatalf("idle connection over the cap greeted with %q, want 421", line)
		}
	}
	for range 4 { // devices behind one NAT address, each logging in
		rawDial(t, e.addr, "127.0.0.3").login("alice")
	}
	if got := obs.get("refused:max_unauthenticated_per_ip"); got != refused {
		t.Errorf("ConnectionRefused(max_unauthenticated_per_ip) called %d times, want %d", got, refused)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `msg="connection refused: too many connections not logged in" client=127.0.0.2 reason=max_unauthenticated_per_ip limit=2`) {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
	idle[0].login("alice")
	rawDial(t, e.addr, "127.0.0.2") // the logged-in session no longer counts
}

// TestLoginTimeout: a connection that has not logged in within the login
// timeout, idle or after USER alone, is told 421 and closed, with a log
// line; a logged-in session is not.
func TestLoginTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{LoginTimeout: 3 * time.Second, MaxUnauthenticatedPerIP: 1}})
	user := rawDial(t, e.addr, "127.0.0.2")
	user.login("alice")
	idle := rawDial(t, e.addr, "127.0.0.3")
	half := rawDial(t, e.addr, "127.0.0.4")
	half.cmd(331, "USER alice")
	for _, c := range []*raw{idle, half} {
		if code, text := c.reply(); code != 421 || !strings.Contains(text, "No login within 3s") {
			t.Errorf("got %d %s, want 421 No login within 3s", code, text)
		}
		readUntilClosed(t, c.conn)
	}
	user.cmd(200, "NOOP")
	if n := strings.Count(e.logs.String(), `msg="session closed: no login within login-timeout"`); n != 2 {
		t.Errorf("%d sessions logged as closed for no login, want 2:\n%s", n, e.logs.String())
	}
	rawDial(t, e.addr, "127.0.0.3") // the closed connection no longer counts
}
