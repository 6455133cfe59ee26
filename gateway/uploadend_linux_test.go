//go:build linux

package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// The order of an upload's two ends (docs/operations.md, "When an upload
// counts as complete"): the client hangs up the control connection before
// its data connection reaches end of file, or after. Raw sockets force the
// order; the kernel's TCP state (Linux) tells when the server has the
// client's FIN.

// endCase is one shape of upload the order tests repeat.
type endCase struct {
	name  string
	size  int // bytes sent
	runs  int // on gofakes3; at most 20 on versitygw, a slower process
	parts int // parts of the multipart upload (0: a single PutObject)
}

// runsOn returns how many times to run c against srv.
func (c endCase) runsOn(srv *s3test.Server) int {
	if srv.Name == "versitygw" {
		return min(c.runs, 20)
	}
	return c.runs
}

// endCases: a camera picture (one PutObject) many times, and a multipart
// upload (5 MiB parts) a few times.
var endCases = []endCase{
	{"small", 200_000, 50, 0},
	{"multipart", 5<<20 + 300_000, 4, 2},
}

// endSettings gives 5 MiB parts, so endCases' multipart case has two.
var endSettings = storage.Settings{PartSize: 5 << 20}

// startStor logs in, opens a data connection (passive EPSV or active EPRT)
// and starts STOR of name on it, expecting 150.
func startStor(t *testing.T, e *env, passive bool, name string) (*raw, net.Conn) {
	t.Helper()
	c := rawDial(t, e.addr, "")
	c.login("alice")
	c.cmd(200, "TYPE I")
	var data net.Conn
	if passive {
		conn, err := net.Dial("tcp", c.pasv(true))
		must(t, "dial data", err)
		data = conn
		c.send("STOR %s", name)
	} else {
		accept := c.active(true)
		c.send("STOR %s", name)
		data = accept()
	}
	t.Cleanup(func() { data.Close() })
	c.expect(150)
	return c, data
}

// hangUp half-closes the control connection and waits until the server
// has acknowledged the FIN: from then on the server has it.
func hangUp(t *testing.T, conn net.Conn) {
	t.Helper()
	tcp := conn.(*net.TCPConn)
	must(t, "close control", tcp.CloseWrite())
	raw, err := tcp.SyscallConn()
	must(t, "control socket", err)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		var state uint8
		must(t, "TCP_INFO", raw.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), syscall.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				state = info.State
			}
		}))
		// FIN_WAIT2, TIME_WAIT, CLOSE (include/net/tcp_states.h)
		if state == 5 || state == 6 || state == 7 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FIN not acknowledged (TCP state %d)", state)
		}
	}
}

// TestHangUpBeforeEndOfFile: a client that closes the control connection
// (without QUIT) before its data connection reaches end of file — a killed
// client, whose data connection then ends with a clean FIN — has its upload
// aborted: no object, no multipart upload. With a command queued behind the
// upload (a NOOP keep-alive), the gateway always stored the truncated file
// before this rule; without one, it depended on timing.
func TestHangUpBeforeEndOfFile(t *testing.T) {
	t.Parallel()
	for _, srv := range endServers(t) {
		for _, c := range endCases {
			for _, mode := range []string{"passive", "active"} {
				for _, queued := range []bool{false, true} {
					name := fmt.Sprintf("%s/%s/%s/queued=%v", srv.Name, c.name, mode, queued)
					t.Run(name, func(t *testing.T) {
						obs := newEndObserver()
						e := newEnv(t, srv, envOptions{storage: endSettings, observer: obs})
						payload := randBytes(c.size)
						for i := range c.runsOn(srv) {
							key := fmt.Sprintf("cut%d.bin", i)
							ctl, data := startStor(t, e, mode == "passive", key)
							_, err := data.Write(payload[:c.size-100_000])
							must(t, "write", err)
							if queued {
								ctl.send("NOOP")
							}
							hangUp(t, ctl.conn)
							must(t, "close data", data.Close())
							requireAborted(t, obs, e, i, key)
						}
					})
				}
			}
		}
	}
}

// requireAborted fails the test unless run i's upload of key was aborted,
// leaving nothing in S3.
func requireAborted(t *testing.T, obs *endObserver, e *env, i int, key string) {
	t.Helper()
	if got := obs.transfer(t); got != "aborted" {
		t.Fatalf("run %d: upload %s, want aborted", i, got)
	}
	e.nothingAt(t, "alice/"+key)
}

// requireStored fails unless upload run i of key was answered ok and S3
// holds exactly payload there, with no multipart upload left.
func requireStored(t *testing.T, obs *endObserver, e *env, i int, key string, payload []byte) {
	t.Helper()
	if got := obs.transfer(t); got != "ok" {
		t.Fatalf("run %d: upload %s, want ok", i, got)
	}
	got, err := e.object("alice/" + key)
	must(t, "get", err)
	if len(got) != len(payload) || sha256.Sum256(got) != sha256.Sum256(payload) || !bytes.Equal(got, payload) {
		t.Fatalf("run %d: stored %d bytes, want the %d sent", i, len(got), len(payload))
	}
	if u := e.uploads(t); u != 0 {
		t.Fatalf("run %d: %d multipart uploads left", i, u)
	}
}

// TestKilledClient: a killed client's kernel closes both connections at
// once, often the data connection first; a control connection that closes
// within UploadEndGrace after the data's end of file aborts the upload too.
// (The grace is 1 s here so the test's two closes surely fall within it.)
func TestKilledClient(t *testing.T) {
	t.Parallel()
	for _, srv := range endServers(t) {
		for _, mode := range []string{"passive", "active"} {
			t.Run(srv.Name+"/"+mode, func(t *testing.T) {
				obs := newEndObserver()
				e := newEnv(t, srv, envOptions{storage: endSettings, observer: obs, settings: gateway.Settings{UploadEndGrace: time.Second}})
				payload := randBytes(200_000)
				for i := range 10 {
					key := fmt.Sprintf("killed%d.bin", i)
					ctl, data := startStor(t, e, mode == "passive", key)
					_, err := data.Write(payload[:100_000])
					must(t, "write", err)
					must(t, "close data", data.Close())
					ctl.conn.Close()
					requireAborted(t, obs, e, i, key)
				}
			})
		}
	}
}

// TestEndOfFileBeforeHangUp: an upload whose data connection reached end
// of file while the control connection was open is stored whole, even if
// the client then hangs up without reading the 226: the commit request is
// held until the gateway has seen the hang-up. Before this rule the hang-up
// cancelled the session, and with it the multipart upload's last part.
func TestEndOfFileBeforeHangUp(t *testing.T) {
	t.Parallel()
	for _, srv := range endServers(t) {
		for _, c := range endCases {
			for _, mode := range []string{"passive", "active"} {
				t.Run(fmt.Sprintf("%s/%s/%s", srv.Name, c.name, mode), func(t *testing.T) {
					obs := newEndObserver()
					e := newEnv(t, srv, envOptions{storage: endSettings, observer: obs})
					payload := randBytes(c.size)
					for i := range c.runsOn(srv) {
						key := fmt.Sprintf("whole%d.bin", i)
						holding := e.fault.hold(commitOf(key, c.parts))
						ctl, data := startStor(t, e, mode == "passive", key)
						_, err := data.Write(payload)
						must(t, "write", err)
						must(t, "close data", data.Close())
						var release chan struct{}
						select {
						case release = <-holding:
						case <-time.After(30 * time.Second):
							t.Fatalf("run %d: no commit request", i)
						}
						seen := strings.Count(e.logs.String(), "completing the upload first")
						ctl.conn.Close()
						// Release the commit once the gateway has seen the
						// hang-up: it says so, or (before the rule) ends the
						// session at once.
						for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
							if strings.Count(e.logs.String(), "completing the upload first") > seen || obs.ended() > i {
								break
							}
							if time.Now().After(deadline) {
								t.Fatalf("run %d: the gateway did not see the hang-up", i)
							}
						}
						close(release)
						requireStored(t, obs, e, i, key, payload)
					}
					e.fault.hold(nil)
				})
			}
		}
	}
}

// TestStoreDuringGrace: the requests that store an upload start when its
// data connection reaches end of file, during UploadEndGrace, not after it
// (the PutObject but for its last byte, a multipart upload's last part):
// they must have started before a 1 s grace is over. A client that
// then stays gets its file stored whole; one that hangs up within the grace
// gets nothing stored, on both S3 servers (the PutObject's body is short of
// its Content-Length: the server must drop it).
func TestStoreDuringGrace(t *testing.T) {
	t.Parallel()
	for _, srv := range endServers(t) {
		for _, c := range endCases {
			for _, hangUp := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/hang-up=%v", srv.Name, c.name, hangUp), func(t *testing.T) {
					obs := newEndObserver()
					e := newEnv(t, srv, envOptions{storage: endSettings, observer: obs, settings: gateway.Settings{UploadEndGrace: time.Second}})
					payload := randBytes(c.size)
					key := "grace.bin"
					started := make(chan struct{}, 1)
					e.fault.holdWith(func(req *http.Request) error {
						if lastRequestOf(key, c.parts)(req) {
							select {
							case started <- struct{}{}:
							default: // a second attempt: the first was seen
							}
						}
						return nil
					})
					ctl, data := startStor(t, e, true, key)
					_, err := data.Write(payload)
					must(t, "write", err)
					must(t, "close data", data.Close())
					select {
					case <-started:
					case <-time.After(900 * time.Millisecond):
						t.Fatal("the upload's last request did not start during the 1 s grace")
					}
					if hangUp {
						ctl.conn.Close()
						requireAborted(t, obs, e, 0, key)
						return
					}
					ctl.expect(226)
					requireStored(t, obs, e, 0, key, payload)
				})
			}
		}
	}
}

// TestStoreDuringGraceRefused: a PutObject started during the grace is
// sent once; when S3 refuses it (503 SlowDown, answered before the body is
// read), the upload is sent again with the SDK's retries and stored whole.
func TestStoreDuringGraceRefused(t *testing.T) {
	t.Parallel()
	for _, srv := range endServers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			obs := newEndObserver()
			e := newEnv(t, srv, envOptions{storage: endSettings, observer: obs})
			key := "refused.bin"
			var puts atomic.Int32
			e.fault.refuse(http.StatusServiceUnavailable, "SlowDown", func(req *http.Request) bool {
				return lastRequestOf(key, 0)(req) && puts.Add(1) == 1
			})
			payload := randBytes(200_000)
			ctl, data := startStor(t, e, true, key)
			_, err := data.Write(payload)
			must(t, "write", err)
			must(t, "close data", data.Close())
			ctl.expect(226)
			requireStored(t, obs, e, 0, key, payload)
			if n := puts.Load(); n != 2 {
				t.Errorf("%d PutObject requests, want 2 (the held one refused, then one more)", n)
			}
		})
	}
}

// lastRequestOf matches the last request that sends the data of key's
// upload: its PutObject, or part number parts.
func lastRequestOf(key string, parts int) func(req *http.Request) bool {
	return func(req *http.Request) bool {
		if req.Method != http.MethodPut || !strings.HasSuffix(req.URL.Path, "/"+key) || req.Header.Get("X-Amz-Copy-Source") != "" {
			return false
		}
		if parts == 0 {
			return !req.URL.Query().Has("partNumber")
		}
		return req.URL.Query().Get("partNumber") == fmt.Sprint(parts)
	}
}

// commitOf matches the request that stores the upload of key: its
// PutObject (held from its last byte, the commit; see hold), or the
// CompleteMultipartUpload of a multipart upload.
func commitOf(key string, parts int) func(req *http.Request) bool {
	if parts == 0 {
		return lastRequestOf(key, 0)
	}
	return func(req *http.Request) bool {
		return req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/"+key) && req.URL.Query().Has("uploadId")
	}
}

// endObserver passes on the result of each upload and counts ended sessions.
type endObserver struct {
	results  chan string
	sessions chan struct{}
}

func newEndObserver() *endObserver {
	return &endObserver{results: make(chan string, 100), sessions: make(chan struct{}, 1000)}
}

func (o *endObserver) SessionStarted()                  {}
func (o *endObserver) SessionEnded()                    { o.sessions <- struct{}{} }
func (o *endObserver) Login(string)                     {}
func (o *endObserver) PassivePortOpened()               {}
func (o *endObserver) PassivePortClosed()               {}
func (o *endObserver) ConnectionRefused(string)         {}
func (o *endObserver) PassiveRefused(string)            {}
func (o *endObserver) Relayed(int, int64, int64, error) {}
func (o *endObserver) ended() int                       { return len(o.sessions) }
func (o *endObserver) TransferDone(op, result string, _ int64, _ time.Duration) {
	if op == "upload" {
		o.results <- result
	}
}

// transfer returns the result of the next upload to end.
func (o *endObserver) transfer(t *testing.T) string {
	t.Helper()
	select {
	case r := <-o.results:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no upload ended")
		return ""
	}
}
