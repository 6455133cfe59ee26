package gateway_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestPassivePortObserver: every passive listener is reported opened once
// and closed once, whether a transfer used it, a new PASV replaced it or
// the session ended with it open.
func TestPassivePortObserver(t *testing.T) {
	t.Parallel()
	obs := &observer{}
	e := newEnv(t, s3test.Fake(t), envOptions{observer: obs})
	e.put(t, "alice/f.txt", []byte("data"))
	c := rawDial(t, e.addr, "")
	c.login("alice")
	c.pasv(true)
	if got := obs.get("pasv"); got != 1 {
		t.Errorf("after EPSV: %d passive ports open, want 1", got)
	}
	// The second PASV replaces the first, whose listener ftpserverlib closes
	// just after the 227 reply.
	addr := c.pasv(false)
	waitUntil(t, "the replaced passive port closed", func() bool { return obs.get("pasv") == 1 })
	data, err := net.DialTimeout("tcp", addr, 5*time.Second)
	must(t, "dial data", err)
	defer data.Close()
	c.cmd(150, "RETR f.txt")
	_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.ReadAll(data)
	c.expect(226)
	c.pasv(true) // left open by the session's end
	quit(c)
	waitUntil(t, "the passive ports closed", func() bool { return obs.get("pasv") == 0 })
	time.Sleep(100 * time.Millisecond) // a double PassivePortClosed would show now
	if got := obs.get("pasv"); got != 0 {
		t.Errorf("after the session: %d passive ports open, want 0", got)
	}
}
