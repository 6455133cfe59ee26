package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/gatewaytest"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// password is every test user's.
const password = gatewaytest.Password

// testUser is a user the env creates, all with password `password`.
type testUser struct {
	name, prefix string
	perms        auth.Permissions
}

var defaultUsers = []testUser{
	{"alice", "alice/", auth.AllPermissions},
	{"alice2", "alice2/", auth.AllPermissions},
	{"cam", "cams/cam/", auth.PermUpload | auth.PermMkdir},
	{"reader", "alice/", auth.PermList | auth.PermDownload},
}

// env is a running gateway on 127.0.0.1:0 backed by a real S3 server and a
// real SQLite user store (a gatewaytest.Rig), with the S3 requests of the
// gateway going through a faultTransport.
type env struct {
	rig    *gatewaytest.Rig
	srv    *s3test.Server
	bucket string
	addr   string
	logs   *syncbuf.Buffer
	fault  *faultTransport
	gw     *gateway.Server
	// shutdown ends Serve (as SIGTERM does) and returns its error; it is
	// safe to call more than once.
	shutdown func() error
}

type envOptions struct {
	observer   gateway.Observer
	events     gateway.Publisher
	activity   func(store *sqlite.Store) gateway.ActivityRecorder // nil: none
	settings   gateway.Settings
	storage    storage.Settings
	throttle   *auth.ThrottleConfig // nil: no throttling
	requireTLS []string             // names of default users created with RequireTLS
	listen     string               // the control port's address; "": 127.0.0.1:0
}

func newEnv(t testing.TB, srv *s3test.Server, opts envOptions) *env {
	t.Helper()
	var users []gatewaytest.User
	for _, u := range defaultUsers {
		users = append(users, gatewaytest.User{Name: u.name, Prefix: u.prefix, Perms: u.perms, RequireTLS: slices.Contains(opts.requireTLS, u.name)})
	}
	logs := &syncbuf.Buffer{}
	fault := &faultTransport{next: http.DefaultTransport}
	r := gatewaytest.Start(t, srv, gatewaytest.Config{
		Users: users, Listen: opts.listen, Gateway: opts.settings, Storage: opts.storage, Throttle: opts.throttle, Transport: fault,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observer: opts.observer, Events: opts.events, Activity: opts.activity,
	})
	return &env{rig: r, srv: srv, bucket: r.Bucket, addr: r.Addr, logs: logs, fault: fault, gw: r.Server, shutdown: r.Shutdown}
}

// dial logs in with the jlaffaye/ftp client (passive mode; EPSV unless disabled).
func (e *env) dial(t testing.TB, user string, epsv bool) *ftp.ServerConn {
	t.Helper()
	return e.rig.Login(t, user, ftp.DialWithTimeout(10*time.Second), ftp.DialWithDisabledEPSV(!epsv))
}

// object returns the bytes at key, or an error.
func (e *env) object(key string) ([]byte, error) { return e.rig.Objects.Get(key) }

// put stores an object directly.
func (e *env) put(t *testing.T, key string, data []byte) { e.rig.Objects.Put(t, key, data) }

// uploads returns the number of multipart uploads in progress in the bucket.
func (e *env) uploads(t *testing.T) int { return len(e.rig.Objects.Uploads(t)) }

// nothingAt fails unless key has no object and the bucket no multipart upload.
func (e *env) nothingAt(t *testing.T, key string) { e.rig.Objects.NothingAt(t, key) }

// raw is a minimal FTP client speaking the protocol line by line, for what
// ftp libraries hide: active mode, bounce attempts, odd names, ABOR.
type raw struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// rawDial connects from local address laddr ("" for any) and reads the banner.
func rawDial(t *testing.T, addr, laddr string) *raw {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if laddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(laddr)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &raw{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect(220)
	return c
}

// login sends USER and PASS and expects 230.
func (c *raw) login(user string) {
	c.t.Helper()
	c.cmd(331, "USER %s", user)
	c.cmd(230, "PASS %s", password)
}

// send writes one command line.
func (c *raw) send(format string, args ...any) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c.conn, format+"\r\n", args...); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// reply reads one (possibly multi-line) reply and returns its code and text.
func (c *raw) reply() (int, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var text strings.Builder
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v (so far %q)", err, line)
	}
	text.WriteString(line)
	code, _ := strconv.Atoi(line[:3])
	if len(line) > 3 && line[3] == '-' {
		for {
			l, err := c.r.ReadString('\n')
			if err != nil {
				c.t.Fatalf("read multiline reply: %v", err)
			}
			text.WriteString(l)
			if strings.HasPrefix(l, line[:3]+" ") {
				break
			}
		}
	}
	return code, strings.TrimSpace(text.String())
}

// expect reads a reply and fails unless its code is want.
func (c *raw) expect(want int) string {
	c.t.Helper()
	code, text := c.reply()
	if code != want {
		c.t.Fatalf("got reply %q, want code %d", text, want)
	}
	return text
}

// cmd sends a command and expects the reply code want.
func (c *raw) cmd(want int, format string, args ...any) string {
	c.t.Helper()
	c.send(format, args...)
	return c.expect(want)
}

// pasv sends EPSV (or PASV) and returns the data address to dial.
func (c *raw) pasv(extended bool) string {
	c.t.Helper()
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	if extended {
		text := c.cmd(229, "EPSV")
		port := text[strings.Index(text, "|||")+3 : strings.LastIndex(text, "|")]
		return net.JoinHostPort(host, port)
	}
	text := c.cmd(227, "PASV")
	nums := strings.Split(text[strings.Index(text, "(")+1:strings.Index(text, ")")], ",")
	p1, _ := strconv.Atoi(nums[4])
	p2, _ := strconv.Atoi(nums[5])
	return net.JoinHostPort(strings.Join(nums[:4], "."), strconv.Itoa(p1*256+p2))
}

// active opens a listener on the client's side and announces it with PORT
// (or EPRT); the returned function accepts the server's data connection.
func (c *raw) active(extended bool) func() net.Conn {
	c.t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { l.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	if extended {
		c.cmd(200, "EPRT |1|127.0.0.1|%d|", port)
	} else {
		c.cmd(200, "PORT 127,0,0,1,%d,%d", port/256, port%256)
	}
	return func() net.Conn {
		_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		conn, err := l.Accept()
		if err != nil {
			c.t.Fatalf("accept active data connection: %v", err)
		}
		return conn
	}
}

// faultTransport fails S3 requests matching a rule, to simulate S3 outages
// (a network error) or S3 refusing requests (an S3 error answer).
type faultTransport struct {
	next   http.RoundTripper
	mu     sync.Mutex
	fail   func(req *http.Request) bool
	status int    // with code: the S3 error answered instead of a network error
	code   string // S3 error code, e.g. "AccessDenied"
	delay  time.Duration
	before func(req *http.Request) error // when not nil, called before each request is sent; its error fails the request
}

// holdWith calls hold before each later request is sent (nil: none), so a
// test can make a request wait or fail it.
func (f *faultTransport) holdWith(hold func(req *http.Request) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = hold
}

// hold holds back every later request matching match until the test
// closes the channel that arrives on the returned channel for it (or the
// request's context ends, as when the gateway cancels it); nil match holds
// nothing. A request with a body is held once the gateway has given its
// last byte: a PutObject the gateway starts before it knows whether the
// upload may be stored (storage's DataEnded) is held from its commit.
func (f *faultTransport) hold(match func(req *http.Request) bool) <-chan chan struct{} {
	if match == nil {
		f.holdWith(nil)
		return nil
	}
	holding := make(chan chan struct{}, 1)
	f.holdWith(func(req *http.Request) error {
		if !match(req) {
			return nil
		}
		wait := func() error {
			release := make(chan struct{})
			select {
			case holding <- release:
			case <-req.Context().Done():
				return req.Context().Err()
			}
			select {
			case <-release:
				return nil
			case <-req.Context().Done():
				return req.Context().Err()
			}
		}
		if req.Body == nil || req.Body == http.NoBody || req.ContentLength <= 0 {
			return wait()
		}
		req.Body = &heldAtEnd{ReadCloser: req.Body, left: req.ContentLength, wait: wait}
		return nil
	})
	return holding
}

// heldAtEnd is a request body that calls wait when its last byte is read,
// before handing it on.
type heldAtEnd struct {
	io.ReadCloser
	left int64
	wait func() error
}

func (h *heldAtEnd) Read(p []byte) (int, error) {
	n, err := h.ReadCloser.Read(p)
	if h.left > 0 && int64(n) >= h.left {
		h.left = 0
		if werr := h.wait(); werr != nil {
			return 0, werr
		}
		return n, err
	}
	h.left -= int64(n)
	return n, err
}

// slow delays every later request by d (a slow S3 server or link).
func (f *faultTransport) slow(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// set makes requests matching fail end in a network error (nil: none).
func (f *faultTransport) set(fail func(req *http.Request) bool) { f.refuse(0, "", fail) }

// refuse makes S3 answer requests matching fail with an error of status and
// code, as a misconfigured bucket or gateway would.
func (f *faultTransport) refuse(status int, code string, fail func(req *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.status, f.code = fail, status, code
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := f.fail != nil && f.fail(req)
	status, code, delay, before := f.status, f.code, f.delay, f.before
	f.mu.Unlock()
	if before != nil {
		if err := before(req); err != nil {
			return nil, err
		}
	}
	if err := s3test.Delay(req, delay); err != nil {
		return nil, err
	}
	if !fail {
		return f.next.RoundTrip(req)
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if code == "" {
		return nil, fmt.Errorf("injected failure talking to %s", req.URL.Host)
	}
	body := fmt.Sprintf("<Error><Code>%s</Code><Message>injected</Message><RequestId>REQ1D</RequestId></Error>", code)
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Request: req,
		Header: http.Header{"Content-Type": {"application/xml"}},
		Body:   io.NopCloser(strings.NewReader(body)),
	}, nil
}
