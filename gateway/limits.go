package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// refusals are the reasons a control connection is refused for the session
// limits (as reported to the Observer), with the reply and log message.
var refusals = map[string]struct{ reply, msg string }{
	"max_sessions": {"421 Too many connections to this server, try again later.\r\n",
		"connection refused: too many sessions"},
	"max_sessions_per_ip": {"421 Too many connections from your address, try again later.\r\n",
		"connection refused: too many sessions"},
	"max_unauthenticated_per_ip": {"421 Too many connections from your address that have not logged in, try again later.\r\n",
		"connection refused: too many connections not logged in"},
}

// sessionLimiter counts the open control connections, in total and per
// client address, against Settings.MaxSessions and MaxSessionsPerIP, and
// those not logged in yet per client address against
// MaxUnauthenticatedPerIP (0: no limit). One limiter serves every control
// port of a Server. It is safe for concurrent use.
type sessionLimiter struct {
	max, perIP, loginPerIP int
	mu                     sync.Mutex
	total                  int
	byAddr                 map[netip.Addr]int
	unauthenticated        map[netip.Addr]int
}

// newSessionLimiter returns a limiter, or nil when no limit is set.
func newSessionLimiter(total, perIP, loginPerIP int) *sessionLimiter {
	if total <= 0 && perIP <= 0 && loginPerIP <= 0 {
		return nil
	}
	return &sessionLimiter{max: total, perIP: perIP, loginPerIP: loginPerIP,
		byAddr: map[netip.Addr]int{}, unauthenticated: map[netip.Addr]int{}}
}

// acquire takes a session slot for addr, counted as not logged in until
// authenticated(addr), and returns "", or takes none and returns why:
// "max_sessions", "max_sessions_per_ip" or "max_unauthenticated_per_ip".
func (l *sessionLimiter) acquire(addr netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return "max_sessions"
	}
	if l.perIP > 0 && l.byAddr[addr] >= l.perIP {
		return "max_sessions_per_ip"
	}
	if l.loginPerIP > 0 && l.unauthenticated[addr] >= l.loginPerIP {
		return "max_unauthenticated_per_ip"
	}
	l.total++
	l.byAddr[addr]++
	l.unauthenticated[addr]++
	return ""
}

// authenticated stops counting one connection from addr as not logged in:
// it logged in, or it ended without.
func (l *sessionLimiter) authenticated(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unauthenticated[addr]--; l.unauthenticated[addr] <= 0 {
		delete(l.unauthenticated, addr)
	}
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
		r := refusals[reason]
		l.log.Warn(r.msg, "client", addr.String(), "reason", reason, "limit", l.lim.limit(reason))
		go refuse(conn, r.reply)
	}
}

// limitedConn holds a session slot until it is first closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// NetConn returns the connection it wraps (ftpserverlib asks its socket
// whether the client has hung up).
func (c *limitedConn) NetConn() net.Conn { return c.Conn }

// Close releases the slot (once; before closing, so a client that sees the
// connection end can connect again at once) and closes the connection.
func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// limit returns the limit that reason names.
func (l *sessionLimiter) limit(reason string) int {
	switch reason {
	case "max_sessions":
		return l.max
	case "max_sessions_per_ip":
		return l.perIP
	}
	return l.loginPerIP
}

// authenticated ends the count of sess as a connection not logged in, once:
// at its login, or at its end without one.
func (s *Server) authenticated(sess *session) {
	if sess.unauthenticated.CompareAndSwap(true, false) && s.limits != nil {
		s.limits.authenticated(sess.client)
	}
}

// loginExpired closes sess with 421 unless it has logged in (or is already
// being closed): Settings.LoginTimeout has passed since it connected.
func (s *Server) loginExpired(sess *session) {
	if sess.isLoggedIn() || !sess.closing.CompareAndSwap(false, true) {
		return
	}
	timeout := s.settings.LoginTimeout
	sess.logger().Info("session closed: no login within login-timeout", "login_timeout", timeout.String())
	// It no longer counts as a connection not logged in once the client
	// can see it closed (ClientDisconnected, which also ends the count,
	// comes after the close).
	s.authenticated(sess)
	sess.closeWith421(fmt.Sprintf("No login within %s, closing control connection.", timeout))
}
