package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestAttacks runs the attacks an FTP port on the internet meets, each
// refused with a clear reply (or the connection closed) and logged, the
// gateway serving normal clients throughout.
func TestAttacks(t *testing.T) {
	t.Parallel()
	e := start(t, s3test.Fake(t), "max-sessions-per-ip: 4", "login-max-failures: 3", "idle-timeout: 3s", "data-timeout: 2s")
	storeAfter(t, e, "/mine.txt")
	logged := func(t *testing.T, what string, since int, words ...string) {
		t.Helper()
		lines := strings.Split(e.ReadLog(), "\n")
		for _, l := range lines[min(since, len(lines)):] {
			ok := true
			for _, w := range words {
				ok = ok && strings.Contains(strings.ToLower(l), strings.ToLower(w))
			}
			if ok {
				return
			}
		}
		t.Errorf("%s: no log line with %q", what, words)
	}
	logLen := func() int { return strings.Count(e.ReadLog(), "\n") }

	t.Run("bounce", func(t *testing.T) {
		// The data connection may only go to the client's own address.
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("no 127.0.0.2: %v", err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		c := rawDial(t, e.Addr, "")
		c.login(e.User, e.Pass)
		for _, cmd := range []string{
			fmt.Sprintf("PORT 127,0,0,2,%d,%d", port>>8, port&255),
			fmt.Sprintf("EPRT |1|127.0.0.2|%d|", port),
		} {
			since := logLen()
			code, msg := c.send(cmd)
			if code == 200 {
				// Accepted for now: the transfer must not reach the third host.
				code, msg = c.send("RETR /mine.txt")
				for preliminary(code) {
					code, msg = c.read()
				}
			}
			figure(t, "attack bounce %s: %d %q", strings.Fields(cmd)[0], code, msg)
			if code < 400 {
				t.Errorf("%s: %d %s, want a refusal", cmd, code, msg)
			}
			logged(t, cmd, since, "127.0.0.2")
		}
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
		if conn, err := ln.Accept(); err == nil {
			conn.Close()
			t.Errorf("the gateway connected to the third host")
		}
	})

	t.Run("passive-theft", func(t *testing.T) {
		c := rawDial(t, e.Addr, "")
		c.login(e.User, e.Pass)
		c.must("TYPE I", 200)
		addr := c.pasv()
		since := logLen()
		thief, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}).Dial("tcp", addr)
		if err != nil {
			t.Skipf("cannot dial from 127.0.0.2: %v", err)
		}
		defer thief.Close()
		data, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("the victim's data connection: %v", err)
		}
		defer data.Close()
		code, msg := c.send("RETR /mine.txt")
		var got []byte
		if preliminary(code) {
			_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, _ = io.ReadAll(data)
			code, msg = c.read()
		}
		_ = thief.SetReadDeadline(time.Now().Add(2 * time.Second))
		stolen, _ := io.ReadAll(thief)
		figure(t, "attack passive-theft from 127.0.0.2: thief got %d bytes; victim got %d bytes and %d %q", len(stolen), len(got), code, msg)
		if len(stolen) > 0 {
			t.Errorf("the thief read %q from the victim's passive port", stolen)
		}
		if code != 226 || !strings.Contains(string(got), "after the fault /mine.txt") {
			t.Errorf("the victim's RETR: %d %s, %q: the thief's connection spoiled the victim's transfer", code, msg, got)
		}
		logged(t, "passive theft", since, "127.0.0.2")
	})

	t.Run("over-long-line", func(t *testing.T) {
		c := rawDial(t, e.Addr, "")
		since := logLen()
		line := "USER " + strings.Repeat("A", 1<<20)
		_ = c.conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, werr := io.WriteString(c.conn, line)
		code, msg := c.read()
		figure(t, "attack over-long line (1 MiB, no newline): write %v; reply %d %q", werr, code, msg)
		if code != 0 && code < 400 {
			t.Errorf("1 MiB line: %d %s, want a refusal or the connection closed", code, msg)
		}
		logged(t, "over-long line", since, "command line too long", "127.0.0.1", "session")
	})

	t.Run("command-flood", func(t *testing.T) {
		c := rawDial(t, e.Addr, "")
		c.login(e.User, e.Pass)
		const n = 20000
		go func() {
			_, _ = io.WriteString(c.conn, strings.Repeat("NOOP\r\n", n))
		}()
		begin := time.Now()
		got := 0
		for got < n {
			code, _ := c.read()
			if code != 200 {
				break
			}
			got++
		}
		figure(t, "attack command flood: %d NOOPs pipelined: %d answered in %v", n, got, time.Since(begin).Round(10*time.Millisecond))
		storeAfter(t, e, "/after-flood.txt")
	})

	t.Run("slowloris", func(t *testing.T) {
		// After login, where login-timeout no longer applies: the line
		// must be complete within idle-timeout.
		c := rawDial(t, e.Addr, "")
		c.login(e.User, e.Pass)
		since := logLen()
		begin := time.Now()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			io.Copy(io.Discard, c.conn)
		}()
		// One byte a second, never a whole line, for up to four
		// idle-timeouts.
		stillOpen := true
	loop:
		for range 12 {
			select {
			case <-closed:
				stillOpen = false
				break loop
			case <-time.After(time.Second):
			}
			if _, err := c.conn.Write([]byte("N")); err != nil {
				break
			}
		}
		held := time.Since(begin)
		figure(t, "attack slowloris after login (a byte a second, idle-timeout 3s): connection still open after %v: %v", held.Round(100*time.Millisecond), stillOpen)
		if stillOpen {
			t.Errorf("slowloris: a byte a second held the control connection %v with idle-timeout 3s", held.Round(time.Second))
		}
		logged(t, "slowloris", since, "not complete within the idle timeout", "127.0.0.1", "session")
	})

	t.Run("per-ip-limit", func(t *testing.T) {
		var held []*raw
		for range 4 {
			c := rawDial(t, e.Addr, "")
			c.login(e.User, e.Pass)
			held = append(held, c)
		}
		since := logLen()
		conn, err := net.DialTimeout("tcp", e.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(conn)
		reply := strings.TrimSpace(string(b))
		figure(t, "attack sessions beyond max-sessions-per-ip 4: the 5th got %q", reply)
		if !strings.HasPrefix(reply, "421") {
			t.Errorf("5th session from one address: %q, want 421", reply)
		}
		logged(t, "per-IP limit", since, "127.0.0.1")
		for _, c := range held {
			c.conn.Close()
		}
	})
	t.Run("brute-force", func(t *testing.T) {
		// login tries user's password from the address from and returns
		// the first reply that is not the expected next step.
		login := func(from, pass string) (int, string) {
			c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}).Dial("tcp", e.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := &raw{t: t, conn: c, r: textproto.NewReader(bufio.NewReader(c))}
			if code, msg := r.read(); code != 220 {
				return code, msg
			}
			if code, msg := r.send("USER " + e.User); code != 331 {
				return code, msg
			}
			return r.send("PASS " + pass)
		}
		since := logLen()
		var replies []string
		for i := range 5 {
			code, msg := login("127.0.0.3", fmt.Sprintf("wrong-%d", i)) // the attacker's own address
			replies = append(replies, fmt.Sprintf("%d %s", code, msg))
		}
		code, msg := login("127.0.0.3", e.Pass)
		figure(t, "attack brute-force from 127.0.0.3: 5 wrong passwords (login-max-failures 3): %q; then the right one from there: %d %q", replies, code, msg)
		if code == 230 {
			t.Errorf("right password accepted after 5 failures with login-max-failures 3: the next guess would be too")
		}
		logged(t, "brute force", since, "127.0.0.3")
		code, msg = login("127.0.0.1", e.Pass)
		figure(t, "attack brute-force: the same user from another address (127.0.0.1) meanwhile: %d %q", code, msg)
	})
}
