package gateway

import (
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// AddrBanner is an optional extension of Authenticator: an Authenticator
// that bans client addresses (after too many failed logins) tells the server
// so, and the server turns those clients away on connection with 421.
type AddrBanner interface {
	AddrBanned(addr netip.Addr) bool
}

// guardListener refuses connections from banned addresses before
// ftpserverlib sees them: the client gets "421" and is disconnected.
type guardListener struct {
	net.Listener
	banner AddrBanner
	log    *slog.Logger
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
