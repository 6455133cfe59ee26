package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/storage"
)

// fakeContext is the part of a ClientContext that logging in and a
// shutdown's goodbye use.
type fakeContext struct {
	ftpserver.ClientContext
	extra any
}

func (c *fakeContext) SetExtra(extra any) { c.extra = extra }
func (c *fakeContext) Extra() any         { return c.extra }
func (c *fakeContext) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
}
func (c *fakeContext) HasTLSForControl() bool { return false }
func (c *fakeContext) Close() error           { return nil }

// anyUser lets every login in as alice.
type anyUser struct{}

func (anyUser) Authenticate(context.Context, string, string, netip.Addr) (*auth.User, error) {
	return &auth.User{Name: "alice", Bucket: "b", Prefix: "alice/", Permissions: auth.AllPermissions}, nil
}

// TestLoginDuringShutdown: a shutdown saying goodbye to a session while it
// logs in reads the session's logger without a data race (run with -race).
func TestLoginDuringShutdown(t *testing.T) {
	t.Parallel()
	svc, err := storage.NewService(s3.New(s3.Options{Region: "us-east-1"}), storage.Settings{}) // never called
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{
		settings: Settings{LoginTimeout: time.Minute},
		authn:    anyUser{},
		storage:  svc,
		log:      slog.New(slog.DiscardHandler),
		observe:  nopObserver{},
		activity: nopActivity{},
		ctx:      t.Context(),
	}
	d := &driver{srv: srv}
	cc := &fakeContext{}
	if _, err := d.ClientConnected(cc); err != nil {
		t.Fatal(err)
	}
	defer d.ClientDisconnected(cc)
	bye := make(chan struct{})
	go func() {
		defer close(bye)
		srv.bye(sessionOf(cc))
	}()
	if _, err := d.AuthUser(cc, "alice", "password"); err != nil {
		t.Fatal(err)
	}
	<-bye
}
