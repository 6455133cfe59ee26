package gateway

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// countObserver counts the calls that close-once wrappers make.
type countObserver struct {
	nopObserver
	opened, closed int
}

func (o *countObserver) PassivePortOpened() { o.opened++ }
func (o *countObserver) PassivePortClosed() { o.closed++ }

// TestCloseOnce: a passive listener is reported closed, and a session's
// slot released, at the first Close only, however often Close is called.
func TestCloseOnce(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	obs := &countObserver{}
	d := &clientDriver{srv: &Server{observe: obs, settings: Settings{ConnectionTimeout: time.Minute}},
		sess: &session{log: slog.New(slog.DiscardHandler)}}
	wrapped, err := d.WrapPassiveListener(l)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = wrapped.Close()
	}
	if obs.opened != 1 || obs.closed != 1 {
		t.Errorf("passive port opened %d, closed %d times; want 1 and 1", obs.opened, obs.closed)
	}

	lim := newSessionLimiter(1, 1, 0)
	addr := netip.MustParseAddr("192.0.2.1")
	c1, c2 := net.Pipe()
	defer c2.Close()
	if reason := lim.acquire(addr); reason != "" {
		t.Fatalf("first acquire refused: %s", reason)
	}
	conn := &limitedConn{Conn: c1, release: func() { lim.release(addr) }}
	for range 3 {
		_ = conn.Close()
	}
	if lim.total != 0 || len(lim.byAddr) != 0 {
		t.Errorf("after closing one session: total %d, by address %v; want none", lim.total, lim.byAddr)
	}
	for _, c := range []struct {
		addr, want string
	}{{"192.0.2.1", ""}, {"192.0.2.1", "max_sessions"}, {"192.0.2.2", "max_sessions"}} {
		if got := lim.acquire(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("acquire(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}
