package ftpserver

// s3ftp patch: tests of ClientDriverExtensionPassiveWrapper (see PATCHES.md).

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// s3ftpWrapDriver is a MainDriver whose sessions' drivers wrap their
// passive listeners with wrap.
type s3ftpWrapDriver struct {
	wrap func(net.Listener) (net.Listener, error)
}

func (d *s3ftpWrapDriver) GetSettings() (*Settings, error) {
	return &Settings{ListenAddr: "127.0.0.1:0", ConnectionTimeout: 5}, nil
}

func (d *s3ftpWrapDriver) ClientConnected(ClientContext) (string, error) { return "ready", nil }

func (d *s3ftpWrapDriver) ClientDisconnected(ClientContext) {}

func (d *s3ftpWrapDriver) AuthUser(ClientContext, string, string) (ClientDriver, error) {
	return &s3ftpWrapClientDriver{Fs: afero.NewMemMapFs(), wrap: d.wrap}, nil
}

func (d *s3ftpWrapDriver) GetTLSConfig() (*tls.Config, error) { return nil, errors.New("no TLS") }

// s3ftpWrapClientDriver is a ClientDriver with the passive wrapper extension.
type s3ftpWrapClientDriver struct {
	afero.Fs
	wrap func(net.Listener) (net.Listener, error)
}

var _ ClientDriverExtensionPassiveWrapper = (*s3ftpWrapClientDriver)(nil)

func (d *s3ftpWrapClientDriver) WrapPassiveListener(l net.Listener) (net.Listener, error) {
	return d.wrap(l)
}

// s3ftpDeadlineListener records the deadlines set through it.
type s3ftpDeadlineListener struct {
	*net.TCPListener
	mu        sync.Mutex
	deadlines int
}

func (l *s3ftpDeadlineListener) SetDeadline(t time.Time) error {
	l.mu.Lock()
	l.deadlines++
	l.mu.Unlock()

	return l.TCPListener.SetDeadline(t)
}

// s3ftpSession starts a server with wrap and returns a logged-in control
// connection and its reader.
func s3ftpSession(t *testing.T, wrap func(net.Listener) (net.Listener, error)) (net.Conn, *bufio.Reader) {
	t.Helper()

	server := NewFtpServer(&s3ftpWrapDriver{wrap: wrap})
	if err := server.Listen(); err != nil {
		t.Fatal(err)
	}

	go func() { _ = server.Serve() }()

	t.Cleanup(func() { _ = server.Stop() })

	return s3ftpDialServer(t, server)
}

// s3ftpDialServer returns a logged-in control connection to server and its
// reader.
func s3ftpDialServer(t *testing.T, server *FtpServer) (net.Conn, *bufio.Reader) {
	t.Helper()

	conn, err := net.DialTimeout("tcp", server.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	s3ftpExpect(t, r, "220 ")
	s3ftpCmd(t, conn, r, "USER u", "331 ")
	s3ftpCmd(t, conn, r, "PASS p", "230 ")

	return conn, r
}

func s3ftpCmd(t *testing.T, conn net.Conn, r *bufio.Reader, cmd, want string) string {
	t.Helper()

	if _, err := fmt.Fprintf(conn, "%s\r\n", cmd); err != nil {
		t.Fatal(err)
	}

	return s3ftpExpect(t, r, want)
}

func s3ftpExpect(t *testing.T, r *bufio.Reader, want string) string {
	t.Helper()

	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}

	if !strings.HasPrefix(line, want) {
		t.Fatalf("reply %q, want %q", line, want)
	}

	return line
}

// TestPassiveWrapperRefuses: a session driver that refuses a passive
// listener makes EPSV fail with 421 and its text, and the listener is closed.
func TestPassiveWrapperRefuses(t *testing.T) {
	t.Parallel()

	var refused net.Addr

	conn, r := s3ftpSession(t, func(l net.Listener) (net.Listener, error) {
		refused = l.Addr()

		return nil, errors.New("too many passive ports held by your address")
	})

	line := s3ftpCmd(t, conn, r, "EPSV", "421 ")
	if !strings.Contains(line, "too many passive ports held by your address") {
		t.Errorf("EPSV refused with %q, want the driver's reason", line)
	}

	if refused == nil {
		t.Fatal("the session driver's wrapper was not called")
	}

	if c, err := net.DialTimeout("tcp", refused.String(), 2*time.Second); err == nil {
		_ = c.Close()

		t.Errorf("the refused passive listener %s still accepts connections", refused)
	}
}

// TestPassiveWrapperDeadline: the listener a session driver returns is the
// one accepted from, and its SetDeadline sets the transfer's accept deadline.
func TestPassiveWrapperDeadline(t *testing.T) {
	t.Parallel()

	var wrapped *s3ftpDeadlineListener

	conn, r := s3ftpSession(t, func(l net.Listener) (net.Listener, error) {
		tcp, ok := l.(*net.TCPListener)
		if !ok {
			return nil, fmt.Errorf("passive listener is a %T", l)
		}

		wrapped = &s3ftpDeadlineListener{TCPListener: tcp}

		return wrapped, nil
	})

	line := s3ftpCmd(t, conn, r, "EPSV", "229 ")
	port := line[strings.Index(line, "|||")+3 : strings.LastIndex(line, "|")]

	data, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	defer data.Close()

	s3ftpCmd(t, conn, r, "NLST", "150 ")

	_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.ReadAll(data)

	s3ftpExpect(t, r, "226 ")

	if wrapped == nil {
		t.Fatal("the session driver's wrapper was not called")
	}

	wrapped.mu.Lock()
	defer wrapped.mu.Unlock()

	if wrapped.deadlines == 0 {
		t.Error("the accept deadline was not set through the wrapped listener")
	}
}
