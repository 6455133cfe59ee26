package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/s3ftp/s3ftp/storage"
)

// Settings are the FTP server's options. Zero fields take the defaults noted;
// withDefaults fills them in one place.
type Settings struct {
	// ListenAddr is the control connection's address. Default "0.0.0.0:2121".
	ListenAddr string
	// Listener, when set, is used instead of listening on ListenAddr.
	Listener net.Listener
	// PassivePorts is the range passive data connections listen on. Zero
	// means any free port (fine on a LAN, not behind a firewall or NAT).
	PassivePorts PortRange
	// PublicHost is the IPv4 address or host name advertised in PASV
	// replies. A host name is resolved (IPv4) at most once a minute. Empty
	// means the local address of each client's control connection.
	PublicHost string
	// ActivePort20 makes active-mode data connections come from port 20, as
	// RFC 959 says; that needs root or CAP_NET_BIND_SERVICE, which is
	// checked at start. Default false: an ephemeral port, as most servers do.
	ActivePort20 bool
	// IdleTimeout disconnects a control connection idle this long. Default 15 min.
	IdleTimeout time.Duration
	// ConnectionTimeout bounds the wait for a data connection to open, and
	// the TLS handshake of an implicit FTPS connection. Default 30 s.
	ConnectionTimeout time.Duration
	// Banner is the greeting sent on connection. Default "s3ftp ready".
	Banner string
	// UploadEndGrace is how long an upload whose data connection reached
	// end of file waits before it is stored, for the control connection's
	// end that follows a killed client's data end at once (the killed
	// client's kernel closes both, often the data connection first): an
	// upload whose control connection closes before its data's end of file,
	// or within this grace after it, is aborted (docs/operations.md). Default
	// 20 ms; negative: no wait; at most 1 s (every upload's 226 waits it).
	UploadEndGrace time.Duration
	// ActiveNATSubstitution replaces a private, link-local or loopback
	// address a client announces in PORT/EPRT by its control connection's
	// address, for devices behind NAT that announce their inside address.
	// Default false. It opens no bounce: other addresses must still match.
	ActiveNATSubstitution bool
	// ASCIIConversion converts line endings of TYPE A transfers (CRLF on the
	// wire, LF stored). Default false: bytes are stored as sent, as vsftpd
	// does by default, and SIZE and REST work in TYPE A too.
	ASCIIConversion bool
	// LegacyCharset, e.g. "windows-1252" or "shift_jis", decodes file names
	// that are not valid UTF-8 (old device firmware) from that charset; the
	// listings of a session that sent such names are encoded back to it.
	// Default "": names must be UTF-8.
	LegacyCharset string
	// UserBandwidth limits each user's transfers, all their sessions
	// together, to this many bytes per second in each direction. Default 0:
	// unlimited.
	UserBandwidth int64
	// ShutdownTimeout is how long Serve, once its context ends, lets the
	// transfers in progress finish before it aborts them (see Serve).
	// Default 30 s.
	ShutdownTimeout time.Duration
	// TLS configures FTPS; the zero value disables it.
	TLS TLSSettings

	// ProxyTrustedCIDRs are the networks of the load balancers allowed to
	// open a connection (control, implicit FTPS or passive data) with a
	// PROXY protocol header, v1 or v2; the header's client address then
	// replaces the socket's everywhere (bans, limits, logs, data connection
	// checks). From other addresses a header is never parsed: a control
	// connection that starts with one is closed. Empty (the default): no
	// header is ever read. See docs/proxy.md.
	ProxyTrustedCIDRs []netip.Prefix
	// ProxyHeaderTimeout bounds the wait for the PROXY header of a
	// connection from a trusted address. FTP servers speak first, so a
	// trusted client that sends no header gets its banner only after this
	// wait. Default 5 s.
	ProxyHeaderTimeout time.Duration
	// MaxSessions is the most control connections open at once, over all
	// control ports; more are refused with 421. 0 (the default): no limit.
	MaxSessions int
	// MaxSessionsPerIP is the most control connections open at once from
	// one client address (the PROXY header's when there is one); more are
	// refused with 421. 0 (the default): no limit.
	MaxSessionsPerIP int
	// MaxUnauthenticatedPerIP is the most control connections from one
	// client address that have not logged in yet; more are refused with 421
	// before the banner. A session stops counting when it logs in, so many
	// devices behind one NAT address that do log in are not limited by it.
	// 0 (the default): no limit.
	MaxUnauthenticatedPerIP int
	// LoginTimeout closes, with 421, a control connection that has not
	// logged in this long after connecting. Default 30 s.
	LoginTimeout time.Duration
	// PassiveShare is the most of the PassivePorts range, in percent, that
	// one client address, or one user, may hold at once (at least one
	// port); PASV or EPSV over it is refused with 421. Default 50; 100: no
	// limit. Without a PassivePorts range there is no limit.
	PassiveShare int
	// PassivePortSharing lets sessions from different client addresses
	// wait on the same passive port at once: a data connection goes to
	// the session of its source address (the PROXY header's when there is
	// one). Sessions from one address still get distinct ports. So a
	// range of P ports serves P transfers at once per client address, not
	// P in all. Default false (cmd turns it on).
	PassivePortSharing bool
	// Replicas is how many gateways share one passive range behind one load
	// balancer; 0 or 1: this gateway is alone. With more, each replica
	// answers PASV/EPSV only with ports of its own slice of PassivePorts
	// (see ReplicaSlice), listens on the whole range, and relays a data
	// connection that arrives on a port of another replica's slice to
	// that replica (Peers), with a PROXY v2 header naming the client.
	Replicas int
	// ReplicaIndex is this replica's index, 0 to Replicas-1.
	ReplicaIndex int
	// Peers are the replicas' hosts (names or addresses, no port), in
	// index order, Replicas of them (see ParsePeers). A connection
	// relayed to replica i goes to Peers[i] at the passive port it arrived on.
	Peers []string
	// PeerNetworks are the source networks of relayed data connections:
	// from them, and only from them (and ProxyTrustedCIDRs), a PROXY
	// header is read on the passive ports. Required with Replicas > 1.
	PeerNetworks []netip.Prefix

	charset *charset // LegacyCharset, parsed by withDefaults; nil: UTF-8 only
}

// SettingError is a Settings field out of range, as New and
// Settings.Validate report it. It is storage's type, so a caller names the
// configuration key of either package's fields alike.
type SettingError = storage.SettingError

// Validate reports what New would refuse in s, as a *SettingError (or an
// error about the TLS settings), without listening or loading anything.
func (s Settings) Validate() error {
	_, err := s.withDefaults()
	return err
}

// withDefaults returns s with zero fields set to their defaults, or a
// *SettingError naming a field that is out of range.
func (s Settings) withDefaults() (Settings, error) {
	bad := func(field string, err error) (Settings, error) {
		return s, &SettingError{Field: field, Err: err}
	}
	if s.ListenAddr == "" && s.Listener == nil {
		s.ListenAddr = "0.0.0.0:2121"
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = 15 * time.Minute
	}
	if s.ConnectionTimeout == 0 {
		s.ConnectionTimeout = 30 * time.Second
	}
	if s.UserBandwidth < 0 {
		return bad("UserBandwidth", errors.New("must not be negative"))
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = 30 * time.Second
	}
	if s.IdleTimeout < time.Second {
		return bad("IdleTimeout", errors.New("must be at least 1s"))
	}
	if s.ConnectionTimeout < time.Second {
		return bad("ConnectionTimeout", errors.New("must be at least 1s"))
	}
	if s.Banner == "" {
		s.Banner = "s3ftp ready"
	}
	switch {
	case s.UploadEndGrace == 0:
		s.UploadEndGrace = 20 * time.Millisecond
	case s.UploadEndGrace > time.Second:
		return bad("UploadEndGrace", errors.New("must be at most 1s"))
	}
	if strings.ContainsAny(s.Banner, "\r\n") {
		return bad("Banner", errors.New("must be a single line"))
	}
	cs, err := newCharset(s.LegacyCharset)
	if err != nil {
		return bad("LegacyCharset", err)
	}
	s.charset = cs
	if s.PublicHost != "" {
		if addr, err := netip.ParseAddr(s.PublicHost); err == nil && !addr.Unmap().Is4() {
			return bad("PublicHost", fmt.Errorf("%s: PASV can only advertise an IPv4 address", s.PublicHost))
		}
	}
	if err := s.limitsWithDefaults(); err != nil {
		return s, err
	}
	if err := s.replicasWithDefaults(); err != nil {
		return s, err
	}
	tlsSet, err := s.TLS.withDefaults()
	if err != nil {
		return s, err
	}
	s.TLS = tlsSet
	return s, nil
}

// limitsWithDefaults fills in and checks the PROXY protocol, session
// limit, login timeout and passive share settings. Trusted CIDRs are
// masked, and IPv4-mapped ones unmapped, so they match the unmapped
// addresses of connections.
func (s *Settings) limitsWithDefaults() error {
	if s.ProxyHeaderTimeout == 0 {
		s.ProxyHeaderTimeout = 5 * time.Second
	}
	if s.ProxyHeaderTimeout < 0 {
		return &SettingError{Field: "ProxyHeaderTimeout", Err: errors.New("must be positive")}
	}
	trusted, err := normalPrefixes("ProxyTrustedCIDRs", s.ProxyTrustedCIDRs)
	if err != nil {
		return err
	}
	s.ProxyTrustedCIDRs = trusted
	for _, l := range []struct {
		field string
		n     int
	}{{"MaxSessions", s.MaxSessions}, {"MaxSessionsPerIP", s.MaxSessionsPerIP}, {"MaxUnauthenticatedPerIP", s.MaxUnauthenticatedPerIP}} {
		if l.n < 0 {
			return &SettingError{Field: l.field, Err: errors.New("must not be negative (0: no limit)")}
		}
	}
	if s.LoginTimeout == 0 {
		s.LoginTimeout = 30 * time.Second
	}
	if s.LoginTimeout < time.Second {
		return &SettingError{Field: "LoginTimeout", Err: errors.New("must be at least 1s")}
	}
	if s.PassiveShare == 0 {
		s.PassiveShare = 50
	}
	if s.PassiveShare < 1 || s.PassiveShare > 100 {
		return &SettingError{Field: "PassiveShare", Err: errors.New("must be 1-100 (percent)")}
	}
	return nil
}

// normalPrefixes returns prefixes masked, IPv4-mapped ones unmapped, so
// they match the unmapped addresses of connections, or a *SettingError
// naming field for an invalid one.
func normalPrefixes(field string, prefixes []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			return nil, &SettingError{Field: field, Err: fmt.Errorf("%v is not valid", p)}
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// PortRange is an inclusive range of TCP ports; the zero value is "any port".
type PortRange struct {
	Start, End int
}

// IsZero reports whether r is the zero range.
func (r PortRange) IsZero() bool { return r == PortRange{} }

// String formats r as "START-END", or "" for the zero range.
func (r PortRange) String() string {
	if r.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d-%d", r.Start, r.End)
}

// ParsePortRange parses "START-END" (or a single port); "" is the zero range.
// Ports must be 1024-65535 and START <= END.
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return PortRange{}, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	start, err1 := strconv.Atoi(strings.TrimSpace(lo))
	end, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil {
		return PortRange{}, fmt.Errorf("port range %q: want START-END, e.g. 30000-30099", s)
	}
	if start < 1024 || end > 65535 || start > end {
		return PortRange{}, fmt.Errorf("port range %q: ports must be within 1024-65535 and START <= END", s)
	}
	return PortRange{Start: start, End: end}, nil
}
