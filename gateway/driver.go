package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/s3ftp/s3ftp/auth"
)

// driver is the ftpserverlib MainDriver: it greets clients, logs them in and
// gives each session its jailed file system. The control port and the
// implicit FTPS port each have one, sharing the Server.
type driver struct {
	srv      *Server
	implicit bool // the driver of the implicit FTPS port
}

var _ ftpserver.MainDriver = (*driver)(nil)

// session is the per-connection state kept in the ClientContext's Extra.
type session struct {
	id     string
	cc     ftpserver.ClientContext
	client netip.Addr
	ctx    context.Context // cancelled when the client disconnects
	cancel context.CancelFunc

	// log, user and bucket are set at login (log gains the user), by the
	// session's own goroutine, under mu; that goroutine and the transfers it
	// starts read them directly, any other goroutine (shutdown, the login
	// deadline) through logger() and loggedIn().
	mu       sync.Mutex
	log      *slog.Logger
	user     string
	bucket   string
	loggedIn bool

	// transfers counts the transfers in progress, so a shutdown can wait for
	// them.
	transfers atomic.Int32
	closing   atomic.Bool // a last 421 has been said (shutdown, login deadline)
	// loginTimer closes the session at Settings.LoginTimeout unless it
	// logs in first.
	loginTimer *time.Timer
	// unauthenticated is true while the session counts against
	// Settings.MaxUnauthenticatedPerIP: from its connection to its login or
	// its end.
	unauthenticated atomic.Bool
}

// logger returns the session's logger, for goroutines other than the
// session's own.
func (s *session) logger() *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log
}

// login records the logged-in user and returns the session's logger, which
// now names the user.
func (s *session) login(user, bucket string) *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.bucket, s.loggedIn = user, bucket, true
	s.log = s.log.With("user", user)
	return s.log
}

// isLoggedIn reports whether the session has logged in.
func (s *session) isLoggedIn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loggedIn
}

// logChange logs one line for a command that changed (or failed to change)
// the file system.
func (s *session) logChange(err error, op, name string, extra ...any) {
	args := append([]any{"op", op, "path", path.Clean(name)}, extra...)
	if err != nil {
		s.log.Info("command failed", append(args, "err", err)...)
		return
	}
	s.log.Info("command", args...)
}

func sessionOf(cc ftpserver.ClientContext) *session {
	s, _ := cc.Extra().(*session)
	return s
}

// GetSettings translates Settings into ftpserverlib's, for the control port
// or the implicit FTPS port.
func (d *driver) GetSettings() (*ftpserver.Settings, error) {
	s := d.srv.settings
	fs := &ftpserver.Settings{
		Listener:                s.Listener,
		ListenAddr:              s.ListenAddr,
		Banner:                  s.Banner,
		PublicIPResolver:        d.srv.resolvePublicIP,
		IdleTimeout:             int(s.IdleTimeout / time.Second),
		ConnectionTimeout:       int(s.ConnectionTimeout / time.Second),
		ActiveTransferPortNon20: !s.ActivePort20,
		DisableMFMT:             true, // S3 cannot set LastModified: MFMT answers 502
		EnableHASH:              true, // answered from the digests kept at upload
		LISTArgsAlwaysOptions:   true, // LIST -la: no Stat of "-la" (two S3 requests each)
		DefaultTransferType:     ftpserver.TransferTypeBinary,
		DisableASCIIConversion:  !s.ASCIIConversion,
		// A private address in PORT/EPRT is the client's own, behind NAT.
		ActivePrivateAddressSubstitution: s.ActiveNATSubstitution,
		UploadEndGrace:                   max(s.UploadEndGrace, 0),
		// Data connections must come from (active: go to) the client's own
		// address: no FTP bounce, no stolen passive connections.
		ActiveConnectionsCheck: ftpserver.IPMatchRequired,
		PasvConnectionsCheck:   ftpserver.IPMatchRequired,
	}
	switch {
	case d.implicit:
		fs.Listener, fs.ListenAddr = s.TLS.ImplicitListener, s.TLS.ImplicitListenAddr
		fs.TLSRequired = ftpserver.ImplicitEncryption // control and data always in TLS
	case s.TLS.Required:
		fs.TLSRequired = ftpserver.MandatoryEncryption // AUTH TLS before USER, PROT P for data
	}
	if !s.PassivePorts.IsZero() {
		// PASV and EPSV answer with ports of this replica's slice only.
		own := s.PassivePorts.ReplicaSlice(s.ReplicaIndex, s.Replicas)
		fs.PassiveTransferPortRange = ftpserver.PortRange{Start: own.Start, End: own.End}
	}
	// Passive ports bind the control port's host; with sharing, both
	// control ports use the server's one registry.
	fs.PassiveListenHost = passiveHost(s)
	fs.PassiveTransferPortMultiplexing = d.srv.registry != nil
	fs.PassivePortRegistry = d.srv.registry
	return fs, nil
}

// ClientConnected starts a session and returns the banner.
func (d *driver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	ctx, cancel := context.WithCancel(d.srv.ctx)
	id := newSessionID()
	log := d.srv.log.With("session", id, "client", remoteIP(cc).String())
	if d.implicit {
		log = log.With("ftps", "implicit")
	}
	s := &session{
		id:     id,
		cc:     cc,
		client: remoteIP(cc),
		log:    log,
		ctx:    ctx,
		cancel: cancel,
	}
	// Every connection reaching here was counted as not logged in by the
	// limitListener (when there is a limit).
	s.unauthenticated.Store(true)
	s.loginTimer = time.AfterFunc(d.srv.settings.LoginTimeout, func() { d.srv.loginExpired(s) })
	cc.SetExtra(s)
	d.srv.sessions.Store(s, struct{}{})
	d.srv.observe.SessionStarted()
	s.log.Debug("connected")
	return d.srv.settings.Banner, nil
}

// ClientDisconnected ends the session: its context is cancelled, which
// aborts any upload still running.
func (d *driver) ClientDisconnected(cc ftpserver.ClientContext) {
	if s := sessionOf(cc); s != nil {
		if r, ok := cc.(interface{ DisconnectReason() error }); ok && r.DisconnectReason() != nil {
			// A line over 4 KiB, or one not complete within idle-timeout:
			// the client's doing, maybe an attack.
			s.logger().Warn("session closed: "+r.DisconnectReason().Error(), "idle_timeout", d.srv.settings.IdleTimeout.String())
		}
		s.cancel()
		s.loginTimer.Stop()
		d.srv.authenticated(s)
		d.srv.sessions.Delete(s)
		d.srv.observe.SessionEnded()
		s.logger().Debug("disconnected")
	}
}

// errLoginIncorrect is the one reply for every refused login, so a client
// cannot tell an unknown user from a wrong password.
var errLoginIncorrect = errors.New("login incorrect")

// reasonTLSRequired is logged when a user who must use TLS logs in over a
// control connection in clear.
const reasonTLSRequired = "user requires TLS: log in after AUTH TLS or on the implicit FTPS port"

// AuthUser checks the credentials and returns the user's jailed file system.
//
// A user with RequireTLS on a control connection in clear is refused with
// the same 530 as a wrong password, after the password check: checking
// first would need a lookup that tells, by reply or timing, that the name
// exists and requires TLS, while the password has already crossed the wire
// in clear anyway. After a TLS login of such a user, data connections
// need PROT P.
func (d *driver) AuthUser(cc ftpserver.ClientContext, name, pass string) (ftpserver.ClientDriver, error) {
	s := sessionOf(cc)
	if s == nil {
		return nil, errLoginUnavailable
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	u, err := d.srv.authn.Authenticate(ctx, name, pass, remoteIP(cc))
	if err != nil {
		if errors.Is(err, auth.ErrDenied) {
			d.srv.observe.Login("denied")
			s.log.Info("login failed", "user", name)
			return nil, errLoginIncorrect
		}
		d.srv.observe.Login("error")
		s.log.Error("login failed: user store error", "user", name, "err", err)
		return nil, errLoginUnavailable
	}
	secure := cc.HasTLSForControl()
	if u.RequireTLS {
		if !secure {
			d.srv.observe.Login("denied")
			s.log.Info("login failed", "user", u.Name, "reason", reasonTLSRequired)
			return nil, errLoginIncorrect
		}
		if err := cc.SetTLSRequirement(ftpserver.MandatoryEncryption); err != nil {
			s.log.Error("login failed: cannot require TLS for data connections", "user", u.Name, "err", err)
			return nil, errLoginUnavailable
		}
	}
	log := s.login(u.Name, u.Bucket)
	s.loginTimer.Stop()
	d.srv.authenticated(s)
	log.Info("login", "bucket", u.Bucket, "prefix", u.Prefix, "tls", secure)
	d.srv.observe.Login("ok")
	d.srv.activity.Login(u.Name, s.client, time.Now())
	return &clientDriver{
		srv:   d.srv,
		fs:    d.srv.storage.NewFs(s.ctx, u.Bucket, u.Prefix, log),
		perms: u.Permissions,
		sess:  s,
		names: &names{cs: d.srv.charset},
	}, nil
}

// errNoTLS answers AUTH TLS when no certificate is configured.
var errNoTLS = errors.New("TLS is not configured")

// GetTLSConfig returns the server's one *tls.Config, the same pointer for
// every call: control and data connections share its session ticket keys,
// so data connections can resume the control connection's TLS session. It
// returns errNoTLS when TLS is not configured.
func (d *driver) GetTLSConfig() (*tls.Config, error) {
	if d.srv.tls == nil {
		return nil, errNoTLS
	}
	return d.srv.tls, nil
}

// remoteIP returns the client's address, or the zero Addr.
func remoteIP(cc ftpserver.ClientContext) netip.Addr { return addrOf(cc.RemoteAddr()) }

func newSessionID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// publicIPResolver answers the address PASV advertises: the configured
// public host (an IPv4 literal, or a name resolved at most once a minute) or
// else the local address of the client's control connection.
type publicIPResolver struct {
	host     string
	lookup   func(ctx context.Context, network, host string) ([]net.IP, error)
	mu       sync.Mutex
	cached   string
	cachedAt time.Time
}

func (r *publicIPResolver) resolve(cc ftpserver.ClientContext) (string, error) {
	if r.host == "" {
		ap, err := netip.ParseAddrPort(cc.LocalAddr().String())
		if err != nil || !ap.Addr().Unmap().Is4() {
			return "", fmt.Errorf("PASV needs an IPv4 control connection; use EPSV")
		}
		return ap.Addr().Unmap().String(), nil
	}
	if addr, err := netip.ParseAddr(r.host); err == nil {
		return addr.Unmap().String(), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cached != "" && time.Since(r.cachedAt) < time.Minute {
		return r.cached, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := r.lookup(ctx, "ip4", r.host)
	if err == nil && len(ips) == 0 {
		err = errors.New("no IPv4 address")
	}
	if err != nil {
		if r.cached != "" {
			return r.cached, nil // keep serving the last known address
		}
		return "", fmt.Errorf("cannot resolve public host %s: %w", r.host, err)
	}
	r.cached, r.cachedAt = ips[0].String(), time.Now()
	return r.cached, nil
}
