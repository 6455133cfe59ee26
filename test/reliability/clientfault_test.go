package reliability

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// logLine is the part of a gateway log line the tests read.
type logLine struct {
	Msg    string `json:"msg"`
	Level  string `json:"level"`
	Op     string `json:"op"`
	Path   string `json:"path"`
	Result string `json:"result"`
	Bytes  int64  `json:"bytes"`
	Client string `json:"client"`
}

// logLines returns the gateway's JSON log lines for which match is true.
func (e *env) logLines(match func(logLine) bool) []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(e.ReadLog()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && match(l) {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits up to d for a log line for which match is true and returns
// it; it fails the test if none comes.
func (e *env) waitLog(t *testing.T, d time.Duration, what string, match func(logLine) bool) logLine {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ls := e.logLines(match); len(ls) > 0 {
			return ls[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for %s within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitTransfer waits for the log line that ends the transfer (op upload or
// download) of name.
func (e *env) waitTransfer(t *testing.T, op, name string) logLine {
	t.Helper()
	return e.waitLog(t, 30*time.Second, op+" of "+name, func(l logLine) bool {
		return l.Msg == "transfer" && l.Op == op && l.Path == name
	})
}

// startUpload logs in raw, opens a passive data connection for STOR name
// and writes n pattern bytes to it; it returns the control and data
// connections.
func (e *env) startUpload(t *testing.T, name string, n int64) (*raw, net.Conn) {
	t.Helper()
	c := rawDial(t, e.Addr, "")
	c.login(e.User, e.Pass)
	c.must("TYPE I", 200)
	data, err := net.Dial("tcp", c.pasv())
	if err != nil {
		t.Fatalf("data connection: %v", err)
	}
	t.Cleanup(func() { data.Close() })
	if code, msg := c.send("STOR " + name); !preliminary(code) {
		t.Fatalf("STOR %s: %d %s", name, code, msg)
	}
	if _, err := io.Copy(data, &pattern{n: n}); err != nil {
		t.Fatalf("upload of %s: %v", name, err)
	}
	e.waitUpload(t, name)
	return c, data
}

// waitUpload waits up to 20 s for a multipart upload of name to be in
// progress in S3, and fails the test if none is.
func (e *env) waitUpload(t *testing.T, name string) {
	t.Helper()
	key := e.Prefix + strings.TrimPrefix(name, "/")
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Contains(e.uploads(t), key) {
		if time.Now().After(deadline) {
			t.Fatalf("no multipart upload of %s in progress", key)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClientFaults abandons transfers the ways clients and networks do: an
// RST on both connections mid-STOR and mid-RETR, ABOR mid-STOR, PASV and
// then no data connection, a control connection that goes silent. The
// upload must not be kept (no object, no multipart upload), the gateway must
// log it and come back to the goroutines and fds it had before.
func TestClientFaults(t *testing.T) {
	t.Parallel()
	e := start(t, s3test.Fake(t), "data-timeout: 2s", "idle-timeout: 3s")
	storeAfter(t, e, "/warm-up.txt")
	base := e.usage(t)
	const size = 12 << 20 // beyond one 8 MiB part: a multipart upload is under way

	t.Run("RST-mid-STOR", func(t *testing.T) {
		c, data := e.startUpload(t, "/rst-stor.bin", size)
		rst(data)
		rst(c.conn)
		if l := e.waitTransfer(t, "upload", "/rst-stor.bin"); l.Result == "ok" {
			t.Errorf("upload reset by the client logged as ok: %+v", l)
		}
		e.requireClean(t, "/rst-stor.bin")
	})

	t.Run("ABOR-mid-STOR", func(t *testing.T) {
		c, data := e.startUpload(t, "/abor-stor.bin", size)
		code, msg := c.send("ABOR")
		data.Close()
		replies := []string{msg}
		for code == 426 || preliminary(code) {
			code, msg = c.read()
			replies = append(replies, msg)
		}
		if code != 226 && code != 225 && code != 426 {
			t.Errorf("ABOR: last reply %d %s (replies %q)", code, msg, replies)
		}
		if l := e.waitTransfer(t, "upload", "/abor-stor.bin"); l.Result == "ok" {
			t.Errorf("aborted upload logged as ok: %+v", l)
		}
		e.requireClean(t, "/abor-stor.bin")
		c.must("NOOP", 200)
	})

	t.Run("RST-mid-RETR", func(t *testing.T) {
		putDirect(t, e, "/retr.bin", 32<<20)
		c := rawDial(t, e.Addr, "")
		c.login(e.User, e.Pass)
		c.must("TYPE I", 200)
		data, err := net.Dial("tcp", c.pasv())
		if err != nil {
			t.Fatal(err)
		}
		if code, msg := c.send("RETR /retr.bin"); !preliminary(code) {
			t.Fatalf("RETR: %d %s", code, msg)
		}
		if _, err := io.ReadFull(data, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		rst(data)
		rst(c.conn)
		if l := e.waitTransfer(t, "download", "/retr.bin"); l.Result == "ok" {
			t.Errorf("download reset by the client logged as ok: %+v", l)
		}
	})

	t.Run("PASV-then-silence", func(t *testing.T) {
		c := rawDial(t, e.Addr, "")
		c.login(e.User, e.Pass)
		addr := c.pasv()
		start := time.Now()
		code, msg := c.send("STOR /never.bin")
		for preliminary(code) {
			code, msg = c.read()
		}
		if code != 425 {
			t.Errorf("STOR without a data connection: %d %s after %v, want 425", code, msg, time.Since(start).Round(time.Millisecond))
		}
		figure(t, "client-faults PASV-then-silence: %d %q after %v (data-timeout 2s)", code, msg, time.Since(start).Round(100*time.Millisecond))
		if conn, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			// The gateway may have accepted and dropped it; it must not be a transfer.
			conn.Close()
		}
		e.requireClean(t, "/never.bin")
		c.must("NOOP", 200)
		// PASV and then the control connection goes away.
		c.pasv()
		rst(c.conn)
	})

	t.Run("silent-control", func(t *testing.T) {
		c := rawDial(t, e.Addr, "")
		c.login(e.User, e.Pass)
		start := time.Now()
		code, msg := c.read() // nothing sent: the gateway must hang up at idle-timeout
		figure(t, "client-faults silent control connection: closed after %v with %d %q (idle-timeout 3s)", time.Since(start).Round(100*time.Millisecond), code, msg)
		if code != 421 && code != 0 {
			t.Errorf("silent control connection: %d %s, want 421 or a hang-up", code, msg)
		}
		if time.Since(start) > 25*time.Second {
			t.Errorf("silent control connection held %v with idle-timeout 3s", time.Since(start))
		}
	})

	storeAfter(t, e, "/after-client-faults.txt")
	u := e.requireNoLeak(t, base, 4)
	figure(t, "client-faults: gateway %v before, %v after RST/ABOR/PASV-silence/silent-control", base, u)
}
