package reliability

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// raw is an FTP control connection driven line by line, for what real
// clients do not do: abandon a data connection with an RST, go silent,
// send bytes no client sends.
type raw struct {
	t    testing.TB // for Helper and the Fatal of must, login and pasv
	conn net.Conn
	r    *textproto.Reader
}

// rawDial connects to addr from local ("" for any 127.0.0.1 address) and
// reads the greeting; it fails the test if it cannot.
func rawDial(t testing.TB, addr, local string) *raw {
	t.Helper()
	c, err := dialRaw(t, addr, local)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// dialRaw is rawDial returning its error, for use off the test's
// goroutine; the caller closes c.conn.
func dialRaw(t testing.TB, addr, local string) (*raw, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &raw{t: t, conn: conn, r: textproto.NewReader(bufio.NewReader(conn))}
	if code, msg := c.read(); code != 220 {
		conn.Close()
		return nil, fmt.Errorf("greeting: %d %s", code, msg)
	}
	return c, nil
}

// read reads one reply; code 0 means the connection ended (msg says how).
func (c *raw) read() (int, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	code, msg, err := c.r.ReadResponse(0)
	if err != nil {
		var te *textproto.Error
		if errors.As(err, &te) {
			return te.Code, te.Msg
		}
		return 0, err.Error()
	}
	return code, msg
}

// send writes line (CRLF added) and returns the reply.
func (c *raw) send(line string) (int, string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		return 0, err.Error()
	}
	return c.read()
}

// must sends line and fails the test unless the reply has code want.
func (c *raw) must(line string, want int) string {
	c.t.Helper()
	code, msg := c.send(line)
	if code != want {
		c.t.Fatalf("%s: %d %s, want %d", line, code, msg, want)
	}
	return msg
}

// login logs in as user with pass.
func (c *raw) login(user, pass string) {
	c.t.Helper()
	c.must("USER "+user, 331)
	c.must("PASS "+pass, 230)
}

var pasvReply = regexp.MustCompile(`(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)`)

// pasv sends PASV and returns the data address the gateway announced.
func (c *raw) pasv() string {
	c.t.Helper()
	m := pasvReply.FindStringSubmatch(c.must("PASV", 227))
	if m == nil {
		c.t.Fatalf("PASV reply without an address")
	}
	hi, _ := strconv.Atoi(m[5])
	lo, _ := strconv.Atoi(m[6])
	return fmt.Sprintf("%s.%s.%s.%s:%d", m[1], m[2], m[3], m[4], hi<<8|lo)
}

// rst closes conn with an RST.
func rst(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// preliminary reports whether code is a 1xx reply.
func preliminary(code int) bool { return code >= 100 && code < 200 }

// oneLine shortens s for messages.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " | ") }
