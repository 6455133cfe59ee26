package gateway

import (
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// The listeners of a control port, from the socket out:
//
//	socket → PROXY (proxyListener) → [implicit FTPS: TLS] → bans (guardListener) → limits (limitListener) → ftpserverlib
//
// The PROXY header comes first on the wire, before any TLS, and gives the
// real client address that bans, limits, logs and ftpserverlib's data
// connection checks all read from conn.RemoteAddr(). Bans and limits sit
// outside TLS on the implicit port so that their 421 goes out over TLS,
// which the client can show.

// AddrBanner is an optional extension of Authenticator: an Authenticator
// that bans client addresses (after too many failed logins) tells the server
// so, and the server turns those clients away on connection with 421.
type AddrBanner interface {
	AddrBanned(addr netip.Addr) bool
}

// admit puts the control listener l behind the checks a new connection
// must pass: its address is not banned (when the Authenticator bans), then
// a session slot is free (lim, shared by the control ports; nil: no
// limits).
func (s *Server) admit(l net.Listener, lim *sessionLimiter) net.Listener {
	if banner, ok := s.authn.(AddrBanner); ok {
		l = &guardListener{Listener: l, banner: banner, log: s.log, observe: s.observe}
	}
	if lim != nil {
		l = &limitListener{Listener: l, lim: lim, observe: s.observe, log: s.log}
	}
	return l
}

// guardListener refuses connections from banned addresses before
// ftpserverlib sees them: the client gets "421" and is disconnected.
type guardListener struct {
	net.Listener
	banner  AddrBanner
	log     *slog.Logger
	observe Observer
}

// Accept returns the next connection from an address that is not banned.
func (l *guardListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrOf(conn.RemoteAddr())
		if !l.banner.AddrBanned(addr) {
			return conn, nil
		}
		l.observe.ConnectionRefused("banned")
		l.log.Warn("connection refused: too many failed logins", "client", addr.String())
		go refuse(conn, "421 Too many failed logins, try again later.\r\n")
	}
}

// refuse writes reply to conn, bounded in time, and closes it.
func refuse(conn net.Conn, reply string) {
	_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _ = conn.Write([]byte(reply))
	_ = conn.Close()
}

// addrOf returns the IP address of a TCP address, unmapped, or the zero Addr.
func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
