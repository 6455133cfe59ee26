package gateway

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// Replies to a control connection refused for the session limits.
const (
	replyMaxSessions      = "421 Too many connections to this server, try again later.\r\n"
	replyMaxSessionsPerIP = "421 Too many connections from your address, try again later.\r\n"
)

// sessionLimiter counts the open control connections, in total and per
// client address, against Settings.MaxSessions and MaxSessionsPerIP (0: no
// limit). One limiter serves every control port of a Server. It is safe
// for concurrent use.
type sessionLimiter struct {
	max, perIP int
	mu         sync.Mutex
	total      int
	byAddr     map[netip.Addr]int
}

// newSessionLimiter returns a limiter, or nil when neither limit is set.
func newSessionLimiter(total, perIP int) *sessionLimiter {
	if total <= 0 && perIP <= 0 {
		return nil
	}
	return &sessionLimiter{max: total, perIP: perIP, byAddr: map[netip.Addr]int{}}
}

// acquire takes a session slot for addr and returns "", or takes none and
// returns why: "max_sessions" or "max_sessions_per_ip".
func (l *sessionLimiter) acquire(addr netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return "max_sessions"
	}
	if l.perIP > 0 && l.byAddr[addr] >= l.perIP {
		return "max_sessions_per_ip"
	}
	l.total++
	l.byAddr[addr]++
	return ""
}

// release gives back a slot taken for addr.
func (l *sessionLimiter) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// limitListener refuses control connections over the session limits with
// 421 before ftpserverlib sees them, and counts the others until they are
// closed.
type limitListener struct {
	net.Listener
	lim     *sessionLimiter
	observe Observer
	log     *slog.Logger
}

// Accept returns the next connection that gets a session slot; the slot is
// released when the connection is closed.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrOf(conn.RemoteAddr())
		reason := l.lim.acquire(addr)
		if reason == "" {
			return &limitedConn{Conn: conn, release: func() { l.lim.release(addr) }}, nil
		}
		l.observe.ConnectionRefused(reason)
		reply, limit := replyMaxSessions, l.lim.max
		if reason == "max_sessions_per_ip" {
			reply, limit = replyMaxSessionsPerIP, l.lim.perIP
		}
		l.log.Warn("connection refused: too many sessions", "client", addr.String(), "reason", reason, "limit", limit)
		go refuse(conn, reply)
	}
}

// limitedConn holds a session slot until it is first closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close releases the slot (once; before closing, so a client that sees the
// connection end can connect again at once) and closes the connection.
func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
