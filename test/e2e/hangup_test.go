package e2e

import (
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestHangUpDuringCommit is a client that sends a whole file, closes the
// data connection (in stream mode: end of file) and hangs up the control
// connection without waiting for the reply, while S3 is still answering the
// request that stores the object: versitygw sits behind a proxy that holds
// each PUT and POST response for 1 s (a distant S3). Devices that "fire and
// forget" do this. Whatever the gateway decides, what it logs and what the
// bucket holds must agree: result ok and the object holding the bytes sent,
// or another result and no object.
func TestHangUpDuringCommit(t *testing.T) {
	t.Parallel()
	g := startGateway(t, backend{name: "versitygw-slow", kind: versityStore, checksum: "when_required", writeDelay: time.Second})
	cases := []struct {
		name   string
		size   int64
		commit string // the request that stores the object: hang up once S3 has carried it out
	}{
		{"put-object", 512 << 10, `^PUT /%s/%s(\?x-id=PutObject)?$`},     // one PutObject
		{"complete-multipart", 9 << 20, `^POST /%s/%s\?uploadId=[^&]+$`}, // CompleteMultipartUpload
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			name := "/hang-up-" + c.name + ".bin"
			ftp := dialRaw(t, g)
			data := ftp.passive(t)
			ftp.cmd(t, 150, "STOR %s", name)
			n, sum, err := feed(data, uint64(500+i), c.size)
			if err != nil {
				t.Fatalf("sending %s: %v after %d bytes", name, err, n)
			}
			_ = data.Close()
			commit := regexp.MustCompile(fmt.Sprintf(c.commit, regexp.QuoteMeta(g.Bucket), regexp.QuoteMeta(g.key(name))))
			waitFor(t, 30*time.Second, "S3 to store "+name, func() bool { return g.S3Writes.has(commit) })
			ftp.hangUp() // while the gateway waits 1 s for S3's answer

			end := g.waitTransferEnd(t, name)
			got, size, stored := g.object(t, name)
			t.Logf("gateway: result %s after %d bytes (%s); object stored: %v", end.Result, end.Bytes, end.Err, stored)
			switch {
			case end.Result == "ok" && !stored:
				t.Errorf("the gateway logged the upload of %s as successful but there is no object", name)
			case end.Result == "ok" && (got != sum || size != c.size):
				t.Errorf("the gateway logged the upload of %s as successful but the object holds %d bytes, sha256 %s; want %d, %s", name, size, got, c.size, sum)
			case end.Result != "ok" && stored:
				t.Errorf("the gateway logged the upload of %s as %s (%s), yet the object is stored (%d bytes, complete: %v)",
					name, end.Result, end.Err, size, got == sum && size == c.size)
			}
		})
	}
}

// rawFTP is a minimal FTP client for sequences that curl, lftp and ftplib
// cannot be made to produce, such as hanging up right after the data.
type rawFTP struct {
	nc   net.Conn
	text *textproto.Conn
	host string
}

// dialRaw connects to g, logs in and selects binary type. Every read and
// write must happen within 60 s; the connection is closed when the test ends.
func dialRaw(t *testing.T, g *gateway) *rawFTP {
	t.Helper()
	nc, err := net.DialTimeout("tcp", g.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	c := &rawFTP{nc: nc, text: textproto.NewConn(nc), host: g.Host()}
	if _, _, err := c.text.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	c.cmd(t, 331, "USER %s", g.User)
	c.cmd(t, 230, "PASS %s", g.Password)
	c.cmd(t, 200, "TYPE I")
	return c
}

// cmd sends a command and fails the test unless the reply has code want.
func (c *rawFTP) cmd(t *testing.T, want int, format string, args ...any) string {
	t.Helper()
	if _, err := c.text.Cmd(format, args...); err != nil {
		t.Fatalf("send %s: %v", fmt.Sprintf(format, args...), err)
	}
	_, msg, err := c.text.ReadResponse(want)
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
	return msg
}

// epsvPort finds the port in a 229 reply.
var epsvPort = regexp.MustCompile(`\(\|\|\|(\d+)\|\)`)

// passive opens a data connection with EPSV.
func (c *rawFTP) passive(t *testing.T) net.Conn {
	t.Helper()
	m := epsvPort.FindStringSubmatch(c.cmd(t, 229, "EPSV"))
	if m == nil {
		t.Fatal("EPSV reply without a port")
	}
	port, _ := strconv.Atoi(m[1])
	dc, err := net.DialTimeout("tcp", net.JoinHostPort(c.host, strconv.Itoa(port)), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dc.Close() })
	_ = dc.SetDeadline(time.Now().Add(60 * time.Second))
	return dc
}

// hangUp closes the control connection without QUIT.
func (c *rawFTP) hangUp() { _ = c.nc.Close() }
