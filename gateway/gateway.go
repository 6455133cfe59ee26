// Package gateway is the FTP side of s3ftp: an ftpserverlib server whose
// sessions log in through an Authenticator and work on a FileSystem jailed
// to the user's bucket and prefix, with permissions checked here before any
// storage call and errors turned into replies that reveal nothing internal.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/s3ftp/s3ftp/auth"
)

// Authenticator checks a login. It returns an error wrapping auth.ErrDenied
// for a refused login and any other error when it cannot decide.
type Authenticator interface {
	Authenticate(ctx context.Context, name, password string, addr netip.Addr) (*auth.User, error)
}

// NewFsFunc returns the file system of one session: bucket and prefix of the
// logged-in user. ctx is cancelled when the session ends.
type NewFsFunc func(ctx context.Context, bucket, prefix string, log *slog.Logger) FileSystem

// Config holds what a Server needs.
type Config struct {
	Settings      Settings
	Authenticator Authenticator // required
	NewFs         NewFsFunc     // required
	Logger        *slog.Logger  // default: discard
}

// Server is the FTP server.
type Server struct {
	settings Settings
	authn    Authenticator
	newFs    NewFsFunc
	log      *slog.Logger
	ftp      *ftpserver.FtpServer
	resolver *publicIPResolver
	ctx      context.Context // parent of every session's context
	cancel   context.CancelFunc
}

// New validates cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Authenticator == nil || cfg.NewFs == nil {
		return nil, errors.New("gateway: Authenticator and NewFs are required")
	}
	set, err := cfg.Settings.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("gateway settings: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		settings: set,
		authn:    cfg.Authenticator,
		newFs:    cfg.NewFs,
		log:      log,
		resolver: &publicIPResolver{host: set.PublicHost, lookup: net.DefaultResolver.LookupIP},
		ctx:      ctx,
		cancel:   cancel,
	}
	s.ftp = ftpserver.NewFtpServer(&driver{srv: s})
	s.ftp.Logger = log.With("component", "ftpserverlib")
	return s, nil
}

func (s *Server) resolvePublicIP(cc ftpserver.ClientContext) (string, error) {
	return s.resolver.resolve(cc)
}

// Listen binds the control port (and checks that port 20 can be used when
// ActivePort20 is set). Addr is valid afterwards.
func (s *Server) Listen() error {
	if s.settings.ActivePort20 {
		if err := checkPort20(); err != nil {
			return err
		}
	}
	l := s.settings.Listener
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", s.settings.ListenAddr); err != nil {
			return fmt.Errorf("ftp listen: %w", err)
		}
	}
	if banner, ok := s.authn.(AddrBanner); ok {
		l = &guardListener{Listener: l, banner: banner, log: s.log}
	}
	s.settings.Listener = l
	if err := s.ftp.Listen(); err != nil {
		_ = l.Close()
		return fmt.Errorf("ftp listen: %w", err)
	}
	return nil
}

// Addr returns the address the control port listens on.
func (s *Server) Addr() string { return s.ftp.Addr() }

// Serve accepts clients until ctx is cancelled, then stops listening, ends
// every session (aborting uploads in flight) and returns nil.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.ftp.Serve() }()
	select {
	case err := <-errc:
		s.cancel()
		return err
	case <-ctx.Done():
	}
	err := s.ftp.Stop()
	s.cancel()
	<-errc
	if errors.Is(err, ftpserver.ErrNotListening) {
		err = nil
	}
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
