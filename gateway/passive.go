package gateway

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// passiveLimiter counts the passive ports held by each client address and
// each user against their share of the range (Settings.PassiveShare). With
// port sharing, addresses do not take ports from each other, so it counts
// the ports of each user at each address instead: one user cannot take
// every port of an address that other users' devices are behind too. It
// is safe for concurrent use; a nil *passiveLimiter limits nothing.
type passiveLimiter struct {
	max    int  // ports per address and per user (shared: per user at an address)
	shared bool // Settings.PassivePortSharing
	mu     sync.Mutex
	byAddr map[netip.Addr]int
	byUser map[string]int
	byPair map[addrUser]int
}

// addrUser is a user at a client address.
type addrUser struct {
	addr netip.Addr
	user string
}

// newPassiveLimiter returns the limiter of share percent of ports, at
// least one port, or nil when there is no range or share is 100.
func newPassiveLimiter(ports PortRange, share int, shared bool) *passiveLimiter {
	if ports.IsZero() || share >= 100 {
		return nil
	}
	return &passiveLimiter{
		max:    max(1, ports.size()*share/100),
		shared: shared,
		byAddr: map[netip.Addr]int{},
		byUser: map[string]int{},
		byPair: map[addrUser]int{},
	}
}

// acquire counts one more port held by addr and user, or returns
// errPassiveShareAddr or errPassiveShareUser and counts nothing.
func (l *passiveLimiter) acquire(addr netip.Addr, user string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shared {
		if l.byPair[addrUser{addr, user}] >= l.max {
			return errPassiveShareUser
		}
		l.byPair[addrUser{addr, user}]++
		return nil
	}
	if l.byAddr[addr] >= l.max {
		return errPassiveShareAddr
	}
	if l.byUser[user] >= l.max {
		return errPassiveShareUser
	}
	l.byAddr[addr]++
	l.byUser[user]++
	return nil
}

// release counts one port less for addr and user.
func (l *passiveLimiter) release(addr netip.Addr, user string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shared {
		decrement(l.byPair, addrUser{addr, user})
		return
	}
	decrement(l.byAddr, addr)
	decrement(l.byUser, user)
}

// decrement counts one less for k in m, deleting it at zero.
func decrement[K comparable](m map[K]int, k K) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

var _ ftpserver.ClientDriverExtensionPassiveWrapper = (*clientDriver)(nil)

// WrapPassiveListener is called by ftpserverlib for every passive data
// listener (PASV, EPSV) of the session, before TLS. It refuses the listener
// (the client gets 421 with the reason) when the session's client address
// or user already holds its share of the passive ports. Otherwise it puts
// the listener behind the PROXY policy of the passive ports (see
// Server.passiveConn) when trusted CIDRs or peer networks are configured,
// returns the port to the range when no transfer has used it within
// Settings.ConnectionTimeout (see passiveListener), and reports it to the
// Observer: PassivePortOpened now, PassivePortClosed once, at its first
// Close.
func (d *clientDriver) WrapPassiveListener(l net.Listener) (net.Listener, error) {
	srv, sess := d.srv, d.sess
	tcp, ok := l.(deadliner)
	if !ok {
		return nil, errors.New("passive listener without deadlines") // ftpserverlib listens on TCP
	}
	if err := srv.passive.acquire(sess.client, sess.user); err != nil {
		sess.log.Warn("passive port refused", "reason", err.Error(), "limit", srv.passive.max)
		_, reason := passiveRefusal(err)
		srv.observe.PassiveRefused(reason)
		return nil, err
	}
	if srv.registry == nil && srv.dataPolicy != nil {
		// With port sharing, the registry applies the policy before it
		// picks the session by address.
		l = &passiveProxyListener{Listener: l, srv: srv}
	}
	srv.observe.PassivePortOpened()
	pl := &passiveListener{Listener: l, tcp: tcp, log: sess.log, done: func() {
		srv.passive.release(sess.client, sess.user)
		srv.observe.PassivePortClosed()
	}}
	pl.timer = time.AfterFunc(srv.settings.ConnectionTimeout, pl.expire)
	return pl, nil
}

// deadliner is a listener whose Accept can be given a deadline.
type deadliner interface {
	SetDeadline(t time.Time) error
}

// passiveListener is one passive data listener of a session. ftpserverlib
// keeps it open until the transfer that uses it ends, the session sends
// another PASV/EPSV, or the session ends; to keep sessions that never
// connect from holding ports, it also closes itself (returning the port
// to the range) when no transfer has begun to wait on it within the data
// timeout of its PASV/EPSV reply, and when a transfer's wait for the data
// connection fails. It calls done once, at its first close.
type passiveListener struct {
	net.Listener
	tcp   deadliner // the TCP listener under Listener
	log   *slog.Logger
	done  func()
	once  sync.Once
	timer *time.Timer // calls expire

	mu      sync.Mutex
	claimed bool // a transfer has set its accept deadline
	expired bool // closed by expire
}

// expire closes the listener unless a transfer has claimed it.
func (l *passiveListener) expire() {
	l.mu.Lock()
	if l.claimed {
		l.mu.Unlock()
		return
	}
	l.expired = true
	l.mu.Unlock()
	l.log.Info("passive port closed: no data connection within data-timeout", "port", l.Addr().String())
	_ = l.close()
}

// SetDeadline sets the accept deadline of the transfer that is about to
// wait on the listener (ftpserverlib calls it just before Accept), which
// claims the listener from expire. On an expired listener it does nothing:
// Accept tells why.
func (l *passiveListener) SetDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expired {
		return nil
	}
	l.claimed = true
	l.timer.Stop()
	return l.tcp.SetDeadline(t)
}

// Accept returns the data connection, or errPassiveExpired when the port
// was returned for lack of use. When the wait fails (deadline, close) the
// listener is closed: a client sends PASV or EPSV again after a 425.
func (l *passiveListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	expired := l.expired
	l.mu.Unlock()
	if expired {
		return nil, errPassiveExpired
	}
	conn, err := l.Listener.Accept()
	if err != nil {
		_ = l.Close()
	}
	return conn, err
}

// Close closes the listener and, the first time, reports it done.
func (l *passiveListener) Close() error {
	l.timer.Stop()
	return l.close()
}

func (l *passiveListener) close() error {
	err := l.Listener.Close()
	l.once.Do(l.done)
	return err
}

var _ ftpserver.ClientDriverExtensionPassiveError = (*clientDriver)(nil)

// PassiveListenError is told by ftpserverlib why no passive port could be
// opened for PASV or EPSV; it logs and counts it and returns the reply.
func (d *clientDriver) PassiveListenError(err error) string {
	reply, reason := passiveRefusal(err)
	d.sess.log.Warn("passive port refused", "reason", reason, "err", err)
	d.srv.observe.PassiveRefused(reason)
	return reply
}
