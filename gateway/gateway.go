// Package gateway is the FTP side of s3ftp: an ftpserverlib server whose
// sessions log in through an Authenticator and work on a FileSystem jailed
// to the user's bucket and prefix, with permissions checked here before any
// storage call and errors turned into replies that reveal nothing internal.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/storage"
)

// Authenticator checks a login. It returns an error wrapping auth.ErrDenied
// for a refused login and any other error when it cannot decide.
type Authenticator interface {
	Authenticate(ctx context.Context, name, password string, addr netip.Addr) (*auth.User, error)
}

// Config holds what a Server needs.
type Config struct {
	Settings      Settings
	Authenticator Authenticator    // required
	Storage       *storage.Service // required: each session's file system comes from it
	Logger        *slog.Logger     // default: discard
	Observer      Observer         // default: none
	Events        Publisher        // default: none
	Activity      ActivityRecorder // default: none
}

// Publisher takes the events of completed uploads, deletes and renames
// (*events.Notifier). Publish must not block.
type Publisher interface {
	Publish(e events.Event)
}

// Server is the FTP server: the control port (with AUTH TLS when TLS is
// configured) and, optionally, an implicit FTPS port. Both share the
// authenticator, the file systems, the logger and one *tls.Config.
type Server struct {
	settings Settings
	authn    Authenticator
	storage  *storage.Service
	log      *slog.Logger
	ftp      *ftpserver.FtpServer
	implicit *ftpserver.FtpServer // nil without an implicit FTPS port
	tls      *tls.Config          // nil without TLS; the same for every connection
	resolver *publicIPResolver
	charset  *charset // nil: file names must be UTF-8
	observe  Observer
	events   Publisher
	activity ActivityRecorder
	sessions sync.Map // *session → struct{}: the open sessions, for shutdown
	draining atomic.Bool
	bw       bandwidth
	limits   *sessionLimiter // nil: no session limits
	passive  *passiveLimiter // nil: no share of the passive ports
	// registry holds the shared passive ports (Settings.PassivePortSharing
	// with a range) of both control ports; nil: each PASV listens alone.
	registry   *ftpserver.PassivePortRegistry
	dataPolicy *proxyPolicy    // PROXY policy of the passive ports; nil: none
	relay      *relay          // the other replicas' ports; nil: one replica
	ctx        context.Context // parent of every session's context
	cancel     context.CancelFunc
}

// New validates cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Authenticator == nil || cfg.Storage == nil {
		return nil, errors.New("gateway: Authenticator and Storage are required")
	}
	set, err := cfg.Settings.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("gateway settings: %w", err)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Events == nil {
		cfg.Events = nopPublisher{}
	}
	if cfg.Activity == nil {
		cfg.Activity = nopActivity{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set.Replicas > 1 {
		log = log.With("replica", set.ReplicaIndex) // every line, sessions' too
	}
	ownPorts := set.PassivePorts.ReplicaSlice(set.ReplicaIndex, set.Replicas)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		settings: set,
		authn:    cfg.Authenticator,
		storage:  cfg.Storage,
		log:      log,
		resolver: &publicIPResolver{host: set.PublicHost, lookup: net.DefaultResolver.LookupIP},
		charset:  set.charset,
		observe:  cfg.Observer,
		events:   cfg.Events,
		activity: cfg.Activity,
		bw:       bandwidth{bytesPerSecond: set.UserBandwidth},
		limits:   newSessionLimiter(set.MaxSessions, set.MaxSessionsPerIP, set.MaxUnauthenticatedPerIP),
		passive:  newPassiveLimiter(ownPorts, set.PassiveShare, set.PassivePortSharing),
		ctx:      ctx,
		cancel:   cancel,
	}
	s.dataPolicy = s.newDataPolicy()
	if set.PassivePortSharing && !set.PassivePorts.IsZero() {
		s.registry = ftpserver.NewPassivePortRegistry(ftpserver.PassivePortRegistryConfig{
			Host:   passiveHost(set),
			Accept: func(conn net.Conn, _ int) net.Conn { return s.passiveConn(conn) },
			Logger: log.With("component", "ftpserverlib"),
		})
	}
	s.ftp = ftpserver.NewFtpServer(&driver{srv: s})
	s.ftp.Logger = log.With("component", "ftpserverlib")
	if set.TLS.enabled() {
		s.tls = set.TLS.config()
	}
	if set.TLS.implicit() {
		s.implicit = ftpserver.NewFtpServer(&driver{srv: s, implicit: true})
		s.implicit.Logger = log.With("component", "ftpserverlib", "ftps", "implicit")
	}
	return s, nil
}

func (s *Server) resolvePublicIP(cc ftpserver.ClientContext) (string, error) {
	return s.resolver.resolve(cc)
}

// Listen binds the control port and, when configured, the implicit FTPS
// port (and checks that port 20 can be used when ActivePort20 is set). Addr
// and ImplicitAddr are valid afterwards. On error nothing stays bound.
func (s *Server) Listen() error {
	if s.settings.ActivePort20 {
		if err := checkPort20(); err != nil {
			return err
		}
	}
	l, err := listen(s.settings.Listener, s.settings.ListenAddr)
	if err != nil {
		return fmt.Errorf("ftp listen: %w", err)
	}
	// One limiter: the session limits count both control ports.
	l = s.admit(s.proxied(l), s.limits) // see listener.go for the order
	s.settings.Listener = l
	if s.relay, err = s.listenRelay(passiveHost(s.settings)); err != nil {
		_ = l.Close()
		return err
	}
	if err := s.ftp.Listen(); err != nil {
		_ = l.Close()
		s.relay.close()
		return fmt.Errorf("ftp listen: %w", err)
	}
	if s.implicit == nil {
		return nil
	}
	il, err := listen(s.settings.TLS.ImplicitListener, s.settings.TLS.ImplicitListenAddr)
	if err == nil {
		// Bans and limits wrap the TLS listener, so a refused client is
		// told 421 over TLS, which it can show; the PROXY header precedes TLS.
		il = s.admit(&implicitTLSListener{Listener: s.proxied(il), config: s.tls, timeout: s.settings.ConnectionTimeout}, s.limits)
		s.settings.TLS.ImplicitListener = il
		if err = s.implicit.Listen(); err != nil {
			_ = il.Close()
		}
	}
	if err != nil {
		_ = s.ftp.Stop()
		s.relay.close()
		return fmt.Errorf("ftps implicit listen: %w", err)
	}
	return nil
}

// passiveHost returns the host passive ports bind: the control port's
// (its listener's when given), "" (every address) when that is
// unspecified.
func passiveHost(set Settings) string {
	addr := set.ListenAddr
	if set.Listener != nil {
		addr = set.Listener.Addr().String()
	}
	host, _, err := net.SplitHostPort(addr)
	if ip, perr := netip.ParseAddr(host); err != nil || perr == nil && ip.IsUnspecified() {
		return ""
	}
	return host
}

// listen returns l, or a new listener on addr when l is nil.
func listen(l net.Listener, addr string) (net.Listener, error) {
	if l != nil {
		return l, nil
	}
	return net.Listen("tcp", addr)
}

// Addr returns the address the control port listens on.
func (s *Server) Addr() string { return s.ftp.Addr() }

// ImplicitAddr returns the address of the implicit FTPS port, or "" when
// there is none.
func (s *Server) ImplicitAddr() string {
	if s.implicit == nil {
		return ""
	}
	return s.implicit.Addr()
}

// ReloadCertificate loads the TLS certificate and key files again (as the
// periodic check does when they change) and logs the outcome. On error the
// current certificate stays in use. Without TLS it returns an error and
// changes nothing (errNoTLS).
func (s *Server) ReloadCertificate() error {
	certs := s.settings.TLS.Certificates
	if certs == nil {
		return errNoTLS
	}
	err := certs.Reload()
	certs.logReload(s.log, "reload requested", err)
	return err
}

// Serve accepts clients until ctx is cancelled, then drains: it stops
// listening, refuses new transfers, tells each session without a transfer in
// progress "421" and closes it, lets the transfers in progress finish for up
// to Settings.ShutdownTimeout, then aborts the rest (their multipart uploads
// aborted, nothing stored) and closes their sessions with 421 too, and
// returns nil. With several replicas it keeps relaying other replicas'
// data connections while it drains, and waits for the relays in progress
// as for its own transfers. If a port stops accepting on its own, Serve
// stops the other and returns its error. While it runs, the TLS
// certificate files are checked for changes.
func (s *Server) Serve(ctx context.Context) error {
	servers := []*ftpserver.FtpServer{s.ftp}
	if s.implicit != nil {
		servers = append(servers, s.implicit)
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.Serve() }()
	}
	var watcher sync.WaitGroup
	if certs := s.settings.TLS.Certificates; certs != nil {
		watcher.Go(func() { certs.Watch(s.ctx, s.settings.TLS.ReloadInterval, s.log) })
	}
	var err error
	pending := len(servers)
	select {
	case err = <-errc:
		pending--
	case <-ctx.Done():
	}
	for _, srv := range servers {
		if serr := srv.Stop(); serr != nil && !errors.Is(serr, ftpserver.ErrNotListening) && err == nil {
			err = serr
		}
	}
	s.drain()
	s.relay.close()
	if s.registry != nil {
		_ = s.registry.Close()
	}
	for ; pending > 0; pending-- {
		if serr := <-errc; err == nil {
			err = serr
		}
	}
	watcher.Wait()
	return err
}

// checkPort20 reports whether this process may use port 20 as a source port.
func checkPort20() error {
	lc := net.ListenConfig{Control: ftpserver.Control}
	l, err := lc.Listen(context.Background(), "tcp4", "0.0.0.0:20")
	if err != nil {
		return fmt.Errorf("active port 20: cannot bind port 20 (needs root or CAP_NET_BIND_SERVICE): %w", err)
	}
	return l.Close()
}

// nopPublisher drops every event.
type nopPublisher struct{}

func (nopPublisher) Publish(events.Event) {}

// How a drain ends sessions.
const (
	drainPoll     = 100 * time.Millisecond
	drainAbortMax = 5 * time.Second // for aborted transfers to wind up
	byeMessage    = "Service shutting down, try again later"
)

// drain ends every session, waiting for transfers in progress up to
// Settings.ShutdownTimeout, then cancels the server's context (which aborts
// what is left) and closes the remaining sessions.
func (s *Server) drain() {
	s.draining.Store(true)
	busy := func(closeIdle bool) int {
		n := s.relay.inProgress() // other replicas' transfers, relayed here
		s.sessions.Range(func(k, _ any) bool {
			sess := k.(*session)
			if sess.transfers.Load() > 0 {
				n++
			} else if closeIdle {
				s.bye(sess)
			}
			return true
		})
		return n
	}
	waitIdle := func(limit time.Duration, closeIdle bool) {
		deadline := time.Now().Add(limit)
		for busy(closeIdle) > 0 && time.Now().Before(deadline) {
			time.Sleep(drainPoll)
		}
	}
	waitIdle(s.settings.ShutdownTimeout, true)
	if n := busy(false); n > 0 {
		s.log.Warn("shutdown: aborting transfers still in progress", "sessions", n)
	}
	s.cancel()
	waitIdle(drainAbortMax, false)
	s.sessions.Range(func(k, _ any) bool {
		s.bye(k.(*session))
		return true
	})
}

// messageCloser is the vendored ftpserverlib's ClientContext extension that
// sends a last reply before closing.
type messageCloser interface {
	CloseWithMessage(code int, message string) error
}

// bye tells the session's client the service is going away (421) and
// closes it, once.
func (s *Server) bye(sess *session) {
	if !sess.closing.CompareAndSwap(false, true) {
		return
	}
	sess.logger().Info("session closed: shutting down")
	sess.closeWith421(byeMessage)
}

// closeWith421 tells the client msg with a 421 reply and closes the
// session.
func (s *session) closeWith421(msg string) {
	if mc, ok := s.cc.(messageCloser); ok {
		_ = mc.CloseWithMessage(421, msg)
		return
	}
	_ = s.cc.Close()
}
