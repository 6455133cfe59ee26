package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// PROXY protocol (v1 and v2) on the control ports and the passive data
// ports. A load balancer in front of the gateway opens each connection with
// a header naming the client's address; that address then replaces the
// socket's for everything that looks at conn.RemoteAddr(): bans, session
// limits, logs, the passive IP match and the active-mode bounce check.
//
// The trust policy is the same on every port:
//   - from a source in Settings.ProxyTrustedCIDRs, a header is read before
//     anything else (bounded by Settings.ProxyHeaderTimeout) and used when
//     present; a malformed one closes the connection;
//   - from any other source, no header is ever parsed. On a control port a
//     connection whose first bytes are a PROXY signature is closed (no FTP
//     command starts like one); on a data port the bytes are file content
//     and are left alone, the socket's address is what the IP match sees;
//   - without trusted CIDRs nothing is wrapped at all.

// ParseCIDRs parses CIDRs ("10.0.0.0/8") and single addresses ("10.0.0.7",
// meaning /32 or /128), as given in proxy-trusted-cidrs, into masked
// prefixes. Blank items are an error; the error quotes the item.
func ParseCIDRs(items []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not a CIDR (e.g. 10.0.0.0/8) or an IP address", item)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// proxyPolicy decides, by the socket's source address, whether a
// connection may carry a PROXY header, and reads it.
type proxyPolicy struct {
	trusted []netip.Prefix
	timeout time.Duration
	log     *slog.Logger
	observe Observer
}

// proxyPolicy returns the server's PROXY policy, or nil when no trusted
// CIDRs are configured (headers are then never read).
func (s *Server) proxyPolicy() *proxyPolicy {
	if len(s.settings.ProxyTrustedCIDRs) == 0 {
		return nil
	}
	return &proxyPolicy{trusted: s.settings.ProxyTrustedCIDRs, timeout: s.settings.ProxyHeaderTimeout,
		log: s.log, observe: s.observe}
}

// proxied puts the control listener l behind the PROXY policy, if any.
func (s *Server) proxied(l net.Listener) net.Listener {
	p := s.proxyPolicy()
	if p == nil {
		return l
	}
	return newProxyListener(l, p)
}

// trusts reports whether a connection from addr may send a PROXY header.
func (p *proxyPolicy) trusts(addr netip.Addr) bool {
	for _, n := range p.trusted {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// errNoData is returned by readHeader for a connection closed before it
// sent anything: a load balancer's TCP health check.
var errNoData = errors.New("closed before sending anything")

// readHeader reads the PROXY header of conn, a connection from a trusted
// source, within p.timeout, and returns conn carrying the header's
// addresses, positioned after the header. Without a header (nothing sent
// within the timeout, or other bytes first), or with a LOCAL or UNKNOWN
// one, the socket's addresses stay. On error (a malformed, incomplete or
// unsupported header, or errNoData) conn is closed and the error logged.
func (p *proxyPolicy) readHeader(conn net.Conn) (net.Conn, error) {
	pc, err := p.parse(conn)
	if err != nil {
		if errors.Is(err, errNoData) {
			p.log.Debug("connection from a trusted PROXY source closed without a header", "proxy", conn.RemoteAddr().String())
		} else {
			p.log.Warn("connection refused: bad PROXY header", "proxy", conn.RemoteAddr().String(), "err", err)
			p.observe.ConnectionRefused("proxy_header")
		}
		_ = conn.Close()
		return nil, err
	}
	return pc, nil
}

// parse does readHeader's work, leaving conn open.
func (p *proxyPolicy) parse(conn net.Conn) (net.Conn, error) {
	if err := conn.SetReadDeadline(time.Now().Add(p.timeout)); err != nil {
		return nil, err
	}
	// v1 needs its whole line (up to 107 bytes) buffered by one read.
	br := bufio.NewReaderSize(conn, 512)
	pc := &proxiedConn{Conn: conn, r: br}
	var h *proxyproto.Header
	if _, err := br.Peek(1); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return nil, errNoData
		}
		// Nothing sent in time: a client waiting for the banner.
	} else if h, err = proxyproto.Read(br); err != nil && !errors.Is(err, proxyproto.ErrNoProxyProtocol) {
		return nil, err
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	if h == nil || h.Command.IsLocal() || h.TransportProtocol.IsUnspec() {
		return pc, nil
	}
	src, ok1 := h.SourceAddr.(*net.TCPAddr)
	dst, ok2 := h.DestinationAddr.(*net.TCPAddr)
	if !ok1 || !ok2 || !h.TransportProtocol.IsStream() {
		return nil, fmt.Errorf("PROXY header for a %#x transport, want TCP", byte(h.TransportProtocol))
	}
	pc.remote, pc.local = src, dst
	p.log.Debug("PROXY header", "proxy", conn.RemoteAddr().String(), "client", src.String(), "version", h.Version)
	return pc, nil
}

// proxiedConn is a connection that came through a trusted proxy: its
// addresses are the PROXY header's (nil: the socket's), and it first
// returns the bytes buffered while reading the header.
type proxiedConn struct {
	net.Conn
	r             *bufio.Reader // nil once drained; Read is not concurrent
	remote, local net.Addr
}

// Read returns the bytes buffered past the header, then reads conn.
func (c *proxiedConn) Read(b []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(b) // only copies: never reads conn
		}
		c.r = nil
	}
	return c.Conn.Read(b)
}

// NetConn returns the connection it wraps (ftpserverlib asks its socket
// whether the client has hung up).
func (c *proxiedConn) NetConn() net.Conn { return c.Conn }

// RemoteAddr returns the client's address from the PROXY header, or the
// socket's.
func (c *proxiedConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr returns the address the client connected to on the proxy,
// from the PROXY header, or the socket's. Without a configured public
// host, PASV advertises it.
func (c *proxiedConn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

// errUntrustedHeader ends a control connection from an untrusted source
// that sent a PROXY header. It wraps net.ErrClosed (the connection is
// closed by then), so ftpserverlib ends the session as a disconnect, after
// our own log line.
var errUntrustedHeader = fmt.Errorf("PROXY header from an untrusted address: %w", net.ErrClosed)

// sniffConn is a control connection from an untrusted source while PROXY
// headers are accepted from trusted ones. Its first read checks whether
// the client opened with a PROXY signature (v1 "PROXY", v2's 12 bytes): if
// so the connection is closed, the header never parsed. The check waits
// only for bytes the client sends anyway (an FTP client speaks after the
// banner), so sessions without a header are not delayed. (A client that
// sends a bare CRLF, the start of the v2 signature, and then waits for a
// reply is held until it sends more or its idle timeout ends it.)
type sniffConn struct {
	net.Conn
	policy  *proxyPolicy
	sigs    [][]byte // the signatures refused; nil: v1's and v2's
	refused func()   // logs and counts a refusal; nil: a control connection's
	checked bool
	head    []byte // bytes read by the check, not yet returned
}

// NetConn returns the connection it wraps.
func (c *sniffConn) NetConn() net.Conn { return c.Conn }

// controlSigs are the PROXY signatures a control connection may not start with.
var controlSigs = [][]byte{proxyproto.SIGV1, proxyproto.SIGV2}

// startsWith reports whether one of sigs starts with b (prefix) or b with
// one of them (!prefix).
func startsWith(sigs [][]byte, b []byte, prefix bool) bool {
	for _, sig := range sigs {
		if prefix && bytes.HasPrefix(sig, b) || !prefix && bytes.HasPrefix(b, sig) {
			return true
		}
	}
	return false
}

// Read checks the first bytes once, then reads through.
func (c *sniffConn) Read(b []byte) (int, error) {
	if !c.checked {
		if err := c.check(); err != nil {
			return 0, err
		}
	}
	if len(c.head) > 0 {
		n := copy(b, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// check reads until the bytes are a PROXY signature (the connection is
// closed, errUntrustedHeader) or cannot become one. A read error before
// any byte is returned, and the next Read checks again.
func (c *sniffConn) check() error {
	sigs := c.sigs
	if sigs == nil {
		sigs = controlSigs
	}
	buf := make([]byte, 0, len(proxyproto.SIGV2))
	for {
		n, err := c.Conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if startsWith(sigs, buf, false) {
			if c.refused != nil {
				c.refused()
			} else {
				c.policy.log.Warn("connection closed: PROXY header from an untrusted address", "client", addrOf(c.Conn.RemoteAddr()).String())
			}
			_ = c.Conn.Close()
			return errUntrustedHeader
		}
		if len(buf) == 0 {
			if err != nil {
				return err
			}
			continue
		}
		if err != nil || !startsWith(sigs, buf, true) {
			// Not a header. A read error comes again from the next read.
			c.checked, c.head = true, buf
			return nil
		}
	}
}

// proxyListener is a control listener behind the PROXY policy. Headers are
// read off the accept path, one goroutine per trusted connection, so a
// slow or silent one does not hold up the others; Accept returns
// connections whose real address is known, ready for bans and limits.
type proxyListener struct {
	net.Listener
	policy *proxyPolicy
	ready  chan net.Conn
	errs   chan error
	done   chan struct{} // closed by Close
	once   sync.Once
}

// newProxyListener wraps l and starts accepting from it; Close stops.
func newProxyListener(l net.Listener, p *proxyPolicy) *proxyListener {
	pl := &proxyListener{Listener: l, policy: p, ready: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
	go pl.acceptLoop()
	return pl
}

// acceptLoop accepts connections until the listener is closed, handing
// untrusted ones on at once (in a sniffConn) and trusted ones once their
// header is read. Accept errors are handed on too, one at a time, so a
// caller backing off on temporary errors slows the loop down.
func (l *proxyListener) acceptLoop() {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !l.policy.trusts(addrOf(conn.RemoteAddr())) {
			l.deliver(&sniffConn{Conn: conn, policy: l.policy})
			continue
		}
		go func() {
			if pc, err := l.policy.readHeader(conn); err == nil {
				l.deliver(pc)
			}
		}()
	}
}

// deliver hands conn to Accept, or closes it once the listener is closed.
func (l *proxyListener) deliver(conn net.Conn) {
	select {
	case l.ready <- conn:
	case <-l.done:
		_ = conn.Close()
	}
}

// Accept returns the next connection, with its real address; after Close
// it returns an error wrapping net.ErrClosed.
func (l *proxyListener) Accept() (net.Conn, error) {
	select {
	case conn := <-l.ready:
		return conn, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close stops accepting; connections whose header is still being read are
// closed when it arrives or times out.
func (l *proxyListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// passiveProxyListener is a passive data listener behind the PROXY policy
// of the passive ports (Server.passiveConn). It reads the header of a
// trusted connection in Accept: a passive port waits for one connection,
// in its session's goroutine.
type passiveProxyListener struct {
	net.Listener
	srv *Server
}

// Accept returns the next connection that passes the policy; a refused one
// is closed and the next one awaited (the listener's deadline still bounds
// the wait).
func (l *passiveProxyListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if conn = l.srv.passiveConn(conn); conn != nil {
			return conn, nil
		}
	}
}

// passiveConn applies the PROXY policy of the passive ports to conn, a
// data connection just accepted on a port of this replica. From a source
// in the peer networks or the trusted CIDRs its header is read and its
// address becomes the header's. From any other source it is returned as
// it is, its bytes being file data; but with peer networks configured
// (several replicas), a PROXY v2 header there is a forgery: conn is then
// wrapped so that its first read refuses it (see sniffConn). It returns
// nil when conn was refused and closed. Without a policy conn is returned.
func (s *Server) passiveConn(conn net.Conn) net.Conn {
	p := s.dataPolicy
	if p == nil {
		return conn
	}
	if p.trusts(addrOf(conn.RemoteAddr())) {
		pc, err := p.readHeader(conn)
		if err != nil {
			return nil
		}
		return pc
	}
	if len(s.settings.PeerNetworks) == 0 {
		return conn
	}
	return &sniffConn{Conn: conn, policy: p, sigs: [][]byte{proxyproto.SIGV2}, refused: func() {
		p.log.Warn("data connection refused: PROXY header from outside the peer networks", "client", addrOf(conn.RemoteAddr()).String())
		s.observe.PassiveRefused("untrusted_proxy_header")
	}}
}

// newDataPolicy returns the PROXY policy of the passive ports: headers from
// the trusted CIDRs and the peer networks; nil when there are neither.
func (s *Server) newDataPolicy() *proxyPolicy {
	trusted := append(append([]netip.Prefix(nil), s.settings.ProxyTrustedCIDRs...), s.settings.PeerNetworks...)
	if len(trusted) == 0 {
		return nil
	}
	return &proxyPolicy{trusted: trusted, timeout: s.settings.ProxyHeaderTimeout, log: s.log, observe: s.observe}
}
