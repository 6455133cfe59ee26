package gateway_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestPassivePortReturned: a passive port nobody connected to within the
// data timeout goes back to the range, for another session to use; the
// session that left it gets 425 with the reason when it asks for a
// transfer on it, and the port's return is logged.
//
// The passive ports of these tests are below the kernel's ephemeral range
// (32768-60999 by default), so no outgoing connection of a parallel test
// can be holding them.
func TestPassivePortReturned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{
		ConnectionTimeout: time.Second, PassivePorts: gateway.PortRange{Start: 23300, End: 23300},
	}})
	e.put(t, "alice/f.txt", []byte("data"))
	idle := rawDial(t, e.addr, "127.0.0.2")
	idle.login("alice")
	idle.pasv(true) // the only port, never connected to
	other := rawDial(t, e.addr, "127.0.0.3")
	other.login("reader")
	var addr string
	waitUntil(t, "the unused passive port returned", func() bool {
		other.send("EPSV")
		code, text := other.reply()
		if code == 229 {
			addr = net.JoinHostPort("127.0.0.1", text[strings.Index(text, "|||")+3:strings.LastIndex(text, "|")])
		}
		return code == 229
	})
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	data, err := d.Dial("tcp", addr)
	must(t, "dial data", err)
	defer data.Close()
	other.cmd(150, "RETR f.txt")
	_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, _ := io.ReadAll(data); string(got) != "data" {
		t.Errorf("RETR on the returned port read %q", got)
	}
	other.expect(226)

	idle.send("STOR late.txt")
	code, text := idle.reply()
	if code == 150 {
		code, text = idle.reply()
	}
	if code != 425 || !strings.Contains(text, "no data connection within the data timeout") {
		t.Errorf("STOR on the returned port got %d %s, want 425 with the reason", code, text)
	}
	e.nothingAt(t, "alice/late.txt")
	if logs := e.logs.String(); !strings.Contains(logs, `msg="passive port closed: no data connection within data-timeout"`) {
		t.Errorf("the returned port is not logged:\n%s", logs)
	}
}

// TestPassiveShare: one client address, and one user, hold at most their
// share of the passive range; over it PASV/EPSV get 421 with the reason,
// while other users from other addresses still get ports; a port given
// back makes room again.
func TestPassiveShare(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{
		PassivePorts: gateway.PortRange{Start: 23310, End: 23313}, PassiveShare: 50,
	}})
	session := func(from, user string) *raw {
		c := rawDial(t, e.addr, from)
		c.login(user)
		return c
	}
	first := session("127.0.0.2", "alice")
	first.pasv(true)
	session("127.0.0.2", "reader").pasv(false)
	third := session("127.0.0.2", "alice2")
	if text := third.cmd(421, "EPSV"); !strings.Contains(text, "too many passive ports held from your address") {
		t.Errorf("EPSV over the address's share got %q", text)
	}
	session("127.0.0.3", "alice").pasv(true)
	if text := session("127.0.0.4", "alice").cmd(421, "PASV"); !strings.Contains(text, "too many passive ports held by this user") {
		t.Errorf("PASV over the user's share got %q", text)
	}
	session("127.0.0.5", "alice2").pasv(true) // the last port of the range
	if logs := e.logs.String(); !strings.Contains(logs, `msg="passive port refused"`) {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
	quit(first)
	waitUntil(t, "a port for the third session", func() bool {
		third.send("EPSV")
		code, _ := third.reply()
		return code == 229
	})
}
