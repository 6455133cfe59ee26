package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rclone/gofakes3"
)

// Timeouts of the HTTP server.
const (
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	// shutdownTimeout is how long Close waits for requests in flight
	// before cutting them off.
	shutdownTimeout = 10 * time.Second
)

// Config configures the embedded store. Dir, AccessKey and SecretKey are
// required; Start fills in the defaults of the others.
type Config struct {
	// Dir is the data directory: objects are the files Dir/<bucket>/<key>,
	// bookkeeping is under Dir/.s3ftp. It is created if needed.
	Dir string
	// Listen is the TCP address to serve S3 on, "127.0.0.1:0" (a free
	// loopback port) by default. The server speaks plain HTTP: keep it on
	// loopback.
	Listen string
	// AccessKey and SecretKey are the only credentials accepted: every
	// request must carry an AWS Signature Version 4 made with them.
	AccessKey, SecretKey string
	// Logger receives the server's log, discarded by default.
	Logger *slog.Logger
	// NoSync turns off fsync(2): faster writes that a power cut can lose
	// after they were acknowledged (see BackendOptions.NoSync). By
	// default every write is durable before it is acknowledged.
	NoSync bool
}

// withDefaults returns c with its defaults filled in, or an error naming a
// missing required field.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Dir == "":
		return c, errors.New("embedded: Config.Dir is required")
	case c.AccessKey == "" || c.SecretKey == "":
		return c, errors.New("embedded: Config.AccessKey and Config.SecretKey are required")
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Server is a running embedded store.
type Server struct {
	backend  *Backend
	http     *http.Server
	endpoint string
	served   chan error
	// shutdownTimeout bounds how long Close waits for requests in flight.
	shutdownTimeout time.Duration
	closeOnce       sync.Once
	closeErr        error
}

// Start opens the data directory (see NewBackend: it fails with ErrInUse if
// another store has it, and removes what an earlier run left unfinished) and
// serves S3 on cfg.Listen until Close. Buckets are created on first use;
// versioning is not supported. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	backend, err := NewBackend(cfg.Dir, cfg.Logger, BackendOptions{NoSync: cfg.NoSync})
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		_ = backend.Close()
		return nil, fmt.Errorf("embedded: listen: %w", err)
	}
	faker := gofakes3.New(backend,
		gofakes3.WithAutoBucket(true),
		gofakes3.WithV4Auth(map[string]string{cfg.AccessKey: cfg.SecretKey}),
		gofakes3.WithoutVersioning(),
		gofakes3.WithLogger(fakerLog{cfg.Logger}),
	)
	s := &Server{
		backend:         backend,
		endpoint:        "http://" + ln.Addr().String(),
		served:          make(chan error, 1),
		shutdownTimeout: shutdownTimeout,
		http: &http.Server{
			Handler:           withUploadListFix(withPartChecksums(faker.Server())),
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
	}
	go func() { s.served <- s.http.Serve(ln) }()
	cfg.Logger.Info("embedded S3 store started", "endpoint", s.endpoint, "dir", cfg.Dir, "fsync", !cfg.NoSync)
	if cfg.NoSync {
		cfg.Logger.Warn("embedded S3 store: fsync is off: a power cut can lose uploads that were acknowledged")
	}
	return s, nil
}

// Endpoint returns the URL of the server, "http://127.0.0.1:PORT".
func (s *Server) Endpoint() string {
	return s.endpoint
}

// Close stops the server: it stops accepting requests, waits up to 10 s for
// those in flight, cuts off any still running, and releases the data
// directory. An upload cut off leaves no object. Close returns the errors
// met; later calls return the same.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
		defer cancel()
		err := s.http.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = s.http.Close()
		}
		if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		err = errors.Join(err, s.backend.Close())
		if err != nil {
			s.closeErr = fmt.Errorf("embedded: close: %w", err)
		}
	})
	return s.closeErr
}

// fakerLog sends gofakes3's log to a slog.Logger; gofakes3 logs every
// request at its info level, which becomes debug.
type fakerLog struct {
	log *slog.Logger
}

// Print implements gofakes3.Logger.
func (l fakerLog) Print(level gofakes3.LogLevel, v ...any) {
	msg := strings.TrimSuffix(fmt.Sprintln(v...), "\n")
	switch level {
	case gofakes3.LogErr:
		l.log.Error("embedded store: " + msg)
	case gofakes3.LogWarn:
		l.log.Warn("embedded store: " + msg)
	default:
		l.log.Debug("embedded store: " + msg)
	}
}
