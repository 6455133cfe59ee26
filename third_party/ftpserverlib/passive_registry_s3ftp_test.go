package ftpserver

// s3ftp patch: tests of PassivePortRegistry, PassiveListenHost,
// ErrPassivePortsBusy, ClientDriverExtensionPassiveError and the release
// of a shared port's reservation (PATCHES.md, patches 21 and 22).

import (
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// s3ftpAddrConn is a connection with another remote address, as a PROXY
// header gives one.
type s3ftpAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c *s3ftpAddrConn) RemoteAddr() net.Addr { return c.remote }

// s3ftpDial connects to addr from local address from.
func s3ftpDial(t *testing.T, from, addr string) net.Conn {
	t.Helper()

	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}

	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { _ = conn.Close() })

	return conn
}

// s3ftpAccept waits up to 5 s for a connection on l.
func s3ftpAccept(l *passiveReservationListener) (net.Conn, error) {
	_ = l.SetDeadline(time.Now().Add(5 * time.Second))

	return l.Accept()
}

// TestPatchPassiveReleaseOwnReservation (patch 22): a transfer that ends
// after its data connection was dispatched leaves alone the reservation the
// next session of its address made on the same port. Upstream dropped it,
// and that session's data connection was refused.
func TestPatchPassiveReleaseOwnReservation(t *testing.T) {
	t.Parallel()

	port := getFreePassivePort(t)
	manager := newPassiveListenersManager(PassivePortRegistryConfig{})
	t.Cleanup(func() { _ = manager.close() })

	portRange := &PortRange{Start: port, End: port}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	_, first, _, err := manager.reserve(net.ParseIP("127.0.0.1"), portRange)
	if err != nil {
		t.Fatal(err)
	}

	s3ftpDial(t, "127.0.0.1", addr)

	if _, err := s3ftpAccept(first.(*passiveReservationListener)); err != nil {
		t.Fatalf("first transfer: %v", err)
	}

	_, second, _, err := manager.reserve(net.ParseIP("127.0.0.1"), portRange)
	if err != nil {
		t.Fatalf("the port is free again after the dispatch, but: %v", err)
	}

	_ = first.Close() // the first transfer ends

	s3ftpDial(t, "127.0.0.1", addr)

	if _, err := s3ftpAccept(second.(*passiveReservationListener)); err != nil {
		t.Fatalf("the second session's data connection was lost: %v", err)
	}
}

// TestPatchPassiveRegistry (patch 21): a registry binds its host, passes
// every connection through its Accept hook (whose RemoteAddr then picks
// the reservation), tells ErrPassivePortsBusy when every port waits for
// the address, and can serve two servers.
func TestPatchPassiveRegistry(t *testing.T) {
	t.Parallel()

	port := getFreePassivePort(t)

	var hooked atomic.Int32

	reg := NewPassivePortRegistry(PassivePortRegistryConfig{
		Host: "127.0.0.1",
		Accept: func(conn net.Conn, p int) net.Conn {
			hooked.Add(1)

			if p != port {
				t.Errorf("hook told port %d, want %d", p, port)
			}

			return &s3ftpAddrConn{Conn: conn, remote: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}}
		},
	})
	t.Cleanup(func() { _ = reg.Close() })

	portRange := &PortRange{Start: port, End: port}

	_, l, _, err := reg.manager.reserve(net.ParseIP("192.0.2.7"), portRange)
	if err != nil {
		t.Fatal(err)
	}

	if host, _, _ := net.SplitHostPort(l.Addr().String()); host != "127.0.0.1" {
		t.Errorf("shared listener bound %s, want host 127.0.0.1", l.Addr())
	}

	s3ftpDial(t, "127.0.0.1", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))

	conn, err := s3ftpAccept(l.(*passiveReservationListener))
	if err != nil || hooked.Load() != 1 {
		t.Fatalf("the hook's address did not pick the reservation: %v (hook called %d times)", err, hooked.Load())
	}

	_ = conn.Close()

	_, _, _, err = reg.manager.reserve(net.ParseIP("198.51.100.1"), portRange)
	if err != nil {
		t.Fatal(err)
	}

	_, _, _, err = reg.manager.reserve(net.ParseIP("198.51.100.1"), portRange)
	if !errors.Is(err, ErrPassivePortsBusy) || !errors.Is(err, ErrNoAvailableListeningPort) {
		t.Errorf("a second reservation of the only port for one address: %v, want ErrPassivePortsBusy", err)
	}

	// Two servers share the registry: the first answers EPSV with its port
	// for 127.0.0.1, the second then finds that port waiting for 127.0.0.1.
	for i, want := range []string{"229 Entering Extended Passive Mode (|||" + strconv.Itoa(port) + "|)", "421 driver says: " + ErrPassivePortsBusy.Error()} {
		server := NewFtpServer(&s3ftpRegistryDriver{settings: &Settings{
			ListenAddr: "127.0.0.1:0", PassiveTransferPortRange: portRange,
			PassiveTransferPortMultiplexing: true, PassivePortRegistry: reg,
		}})
		if err := server.Listen(); err != nil {
			t.Fatal(err)
		}

		go func() { _ = server.Serve() }()

		conn, r := s3ftpDialServer(t, server)
		s3ftpCmd(t, conn, r, "EPSV", want)
		t.Cleanup(func() { _ = server.Stop() })

		if i == 0 {
			_ = server.Stop()
		}
	}

	// Stop left the registry, which its owner closes, open.
	if _, _, _, err := reg.manager.reserve(net.ParseIP("203.0.113.5"), portRange); err != nil {
		t.Errorf("the registry was closed by a server's Stop: %v", err)
	}
}

// TestPatchPassiveListenError (patch 21): when no passive port can be
// opened, a session driver with PassiveListenError words the 421.
func TestPatchPassiveListenError(t *testing.T) {
	t.Parallel()

	port := getFreePassivePort(t)
	server := NewFtpServer(&s3ftpRegistryDriver{settings: &Settings{
		ListenAddr: "127.0.0.1:0", PassiveListenHost: "127.0.0.1",
		PassiveTransferPortRange: &PortRange{Start: port, End: port}, PassiveTransferPortMultiplexing: true,
	}})
	if err := server.Listen(); err != nil {
		t.Fatal(err)
	}

	go func() { _ = server.Serve() }()

	t.Cleanup(func() { _ = server.Stop() })

	conn, r := s3ftpDialServer(t, server)
	s3ftpCmd(t, conn, r, "EPSV", "229 ")

	line := s3ftpCmd(t, conn, r, "PASV", "421 ")
	if !strings.Contains(line, "driver says: "+ErrPassivePortsBusy.Error()) {
		t.Errorf("PASV with every port busy for the address: %q, want the driver's text", line)
	}
}

// s3ftpRegistryDriver is a MainDriver with fixed settings whose sessions
// word passive listen errors.
type s3ftpRegistryDriver struct {
	settings *Settings
}

func (d *s3ftpRegistryDriver) GetSettings() (*Settings, error) { return d.settings, nil }

func (d *s3ftpRegistryDriver) ClientConnected(ClientContext) (string, error) { return "ready", nil }

func (d *s3ftpRegistryDriver) ClientDisconnected(ClientContext) {}

func (d *s3ftpRegistryDriver) AuthUser(ClientContext, string, string) (ClientDriver, error) {
	return &s3ftpErrorClientDriver{Fs: afero.NewMemMapFs()}, nil
}

func (d *s3ftpRegistryDriver) GetTLSConfig() (*tls.Config, error) { return nil, errors.New("no TLS") }

// s3ftpErrorClientDriver is a ClientDriver with PassiveListenError.
type s3ftpErrorClientDriver struct {
	afero.Fs
}

var _ ClientDriverExtensionPassiveError = (*s3ftpErrorClientDriver)(nil)

func (d *s3ftpErrorClientDriver) PassiveListenError(err error) string {
	return "driver says: " + err.Error()
}
