// Package gatewaytest runs the whole FTP side of s3ftp in process for tests
// and benchmarks: a SQLite user store with the users asked for, the
// Authenticator, a storage.Service over a test S3 server (storage/s3test)
// and a gateway.Server serving on 127.0.0.1:0.
package gatewaytest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// Password is the password of every user a rig creates.
const Password = "correct horse battery staple"

// User is a user a rig creates, with Password, in the rig's bucket.
type User struct {
	Name       string
	Prefix     string
	Perms      auth.Permissions
	RequireTLS bool
}

// Config says what rig to start. Zero fields take the defaults noted.
type Config struct {
	Users    []User           // the users in the store
	Listen   string           // the control port's address; "": 127.0.0.1:0
	Gateway  gateway.Settings // Listener is set by Start
	Storage  storage.Settings
	Throttle *auth.ThrottleConfig // nil: no login throttling
	// Transport carries the gateway's S3 requests (to fail them); nil:
	// http.DefaultTransport.
	Transport http.RoundTripper
	Logger    *slog.Logger      // the gateway's and the authenticator's; nil: discard
	Observer  gateway.Observer  // nil: none
	Events    gateway.Publisher // nil: none
	// Activity, when not nil, returns the ActivityRecorder to give the
	// gateway, given the rig's user store.
	Activity func(users *sqlite.Store) gateway.ActivityRecorder
}

// Rig is a gateway serving on Config.Listen until the test ends.
type Rig struct {
	Server  *gateway.Server
	Addr    string         // the FTP control address
	Bucket  string         // the users' bucket, new for each rig
	Objects s3test.Objects // the bucket, read and written straight through S3
	// Shutdown ends Serve, as SIGTERM does, and returns its error; it is
	// safe to call more than once. The test's cleanup calls it too and
	// reports its error.
	Shutdown func() error
}

// Start starts a rig in front of srv; it fails the test if anything does
// not start.
func Start(t testing.TB, srv *s3test.Server, cfg Config) *Rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bucket := srv.NewBucket(t)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hash, err := auth.HashPassword(Password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.Users {
		user := &auth.User{Name: u.Name, PasswordHash: hash, Bucket: bucket, Prefix: u.Prefix, Permissions: u.Perms, RequireTLS: u.RequireTLS}
		if err := user.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := store.CreateUser(ctx, user); err != nil {
			t.Fatal(err)
		}
	}
	authCfg := auth.AuthenticatorConfig{Logger: cfg.Logger}
	if cfg.Throttle != nil {
		if authCfg.Throttle, err = auth.NewThrottle(*cfg.Throttle); err != nil {
			t.Fatal(err)
		}
	}
	authn, err := auth.NewAuthenticator(store, authCfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := cfg.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	svc, err := storage.NewService(srv.Client(false, rt), cfg.Storage)
	if err != nil {
		t.Fatal(err)
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	set := cfg.Gateway
	set.Listener = l
	var rec gateway.ActivityRecorder
	if cfg.Activity != nil {
		rec = cfg.Activity(store)
	}
	gw, err := gateway.New(gateway.Config{
		Settings: set, Authenticator: authn, Storage: svc,
		Logger: cfg.Logger, Observer: cfg.Observer, Events: cfg.Events, Activity: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	shutdown := func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := shutdown(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &Rig{Server: gw, Addr: gw.Addr(), Bucket: bucket, Objects: srv.Objects(bucket, ""), Shutdown: shutdown}
}

// Login connects to the rig with the jlaffaye/ftp client (passive mode,
// EPSV unless opts disable it; a 30 s timeout unless opts set another) and
// logs user in, failing the test otherwise. The connection is closed when
// the test ends.
func (r *Rig) Login(t testing.TB, user string, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(r.Addr, append([]ftp.DialOption{ftp.DialWithTimeout(30 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Quit() })
	if err := c.Login(user, Password); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// UnusedStorage returns a storage.Service that must never be called, for
// tests of gateway.New and of servers that log nobody in: its S3 client
// points nowhere.
func UnusedStorage(t testing.TB) *storage.Service {
	t.Helper()
	svc, err := storage.NewService(s3.New(s3.Options{Region: "us-east-1"}), storage.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
