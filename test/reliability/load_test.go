package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// The load sizes: CI defaults; docs/reliability.md gives the full-size
// and soak command lines.
var (
	loadSessions = flag.Int("reliability.sessions", 50, "concurrent uploading sessions of TestLoad")
	loadDuration = flag.Duration("reliability.duration", 10*time.Second, "how long TestLoad uploads (the soak mode: a long duration)")
	loadIdle     = flag.Int("reliability.idle", 200, "idle logged-in sessions of TestIdleSessions")
	loadStall    = flag.Duration("reliability.stall", 5*time.Second, "how long S3 stalls in the middle of TestLoad/stall")
)

// upload is one STOR the load made: what was sent and what came back.
type upload struct {
	key   string
	size  int
	sum   [32]byte
	acked bool // the gateway answered 226
}

// TestLoad runs -reliability.sessions sessions, half passive (EPSV), half
// active (PORT), each uploading small files for -reliability.duration; in
// the "stall" variant S3 stalls for -reliability.stall half-way. Then
// every acknowledged upload must be in S3 with its size and SHA-256, and
// nothing unacknowledged; and the gateway's goroutines and fds must come
// back.
func TestLoad(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"steady", "stall"} {
		t.Run(variant, func(t *testing.T) {
			e := start(t, s3test.Fake(t), "max-sessions: 0", "s3-timeout: 60s")
			storeAfter(t, e, "/warm-up.txt")
			base := e.usage(t)
			if variant == "stall" {
				time.AfterFunc(*loadDuration/2, func() { e.Proxy.StallFor(*loadStall) })
			}
			var mu sync.Mutex
			var uploads []upload
			var errs []string
			var wg sync.WaitGroup
			deadline := time.Now().Add(*loadDuration)
			for s := range *loadSessions {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(s), 7))
					active := s%2 == 1
					var err error
					var ups []upload
					if active {
						ups, err = activeUploads(e, s, rng, deadline, t)
					} else {
						ups, err = passiveUploads(e, s, rng, deadline)
					}
					mu.Lock()
					defer mu.Unlock()
					uploads = append(uploads, ups...)
					if err != nil {
						errs = append(errs, fmt.Sprintf("session %d: %v", s, err))
					}
				})
			}
			wg.Wait()
			objs := e.objects(t)
			acked, bytesAcked, lost, ghosts, failed := 0, 0, 0, 0, 0
			for _, u := range uploads {
				o, stored := objs[u.key]
				if !u.acked {
					failed++
					if stored {
						ghosts++
						t.Errorf("unacknowledged upload %s is in S3 (%d bytes)", u.key, o.Size)
					}
					continue
				}
				acked++
				bytesAcked += u.size
				if !stored || o.Size != int64(u.size) || e.sum(t, u.key) != u.sum {
					lost++
					t.Errorf("acknowledged upload %s: stored %v, %d bytes (want %d) or a different SHA-256", u.key, stored, o.Size, u.size)
				}
			}
			for i, msg := range errs {
				if i < 5 {
					t.Logf("client error: %s", msg)
				}
			}
			u := e.requireNoLeak(t, base, 8)
			stall := ""
			if variant == "stall" {
				stall = fmt.Sprintf(", S3 stalled %v half-way", *loadStall)
			}
			figure(t, "load %s: %d sessions (half passive, half active) x %v%s: %d files acknowledged (%d bytes), %d refused, %d session errors, lost %d, unacknowledged stored %d; peak RSS %d KiB; gateway %v before, %v after",
				variant, *loadSessions, *loadDuration, stall, acked, bytesAcked, failed, len(errs), lost, ghosts, e.procStatus(t, "VmHWM"), base, u)
			if acked == 0 {
				t.Errorf("no upload acknowledged")
			}
		})
	}
}

// sum returns the SHA-256 of the object key, read through S3 directly.
func (e *env) sum(t *testing.T, key string) [32]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := e.Direct.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.Bucket, Key: &key})
	if err != nil {
		t.Errorf("get %s: %v", key, err)
		return [32]byte{}
	}
	defer out.Body.Close()
	h := sha256.New()
	io.Copy(h, out.Body)
	return [32]byte(h.Sum(nil))
}

// procStatus returns a "kB" field of /proc/PID/status of the gateway, in KiB.
func (e *env) procStatus(t *testing.T, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("%s not in /proc/PID/status", field)
	return 0
}

// body returns a file of 1 to 16 KiB for upload i of session s.
func body(rng *rand.Rand) []byte {
	b := make([]byte, 1024+rng.IntN(15*1024))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// passiveUploads logs in with jlaffaye/ftp (EPSV) and uploads files until
// deadline, starting a new session after a failure.
func passiveUploads(e *env, s int, rng *rand.Rand, deadline time.Time) ([]upload, error) {
	var out []upload
	var lastErr error
	c, err := e.dial()
	for i := 0; time.Now().Before(deadline); i++ {
		if c == nil {
			if c, err = e.dial(); err != nil {
				lastErr = err
				time.Sleep(200 * time.Millisecond)
				continue
			}
		}
		b := body(rng)
		name := fmt.Sprintf("/load/p%04d-%05d.bin", s, i)
		err := c.Stor(name, bytes.NewReader(b))
		out = append(out, upload{key: e.Prefix + name[1:], size: len(b), sum: sha256.Sum256(b), acked: err == nil})
		if err != nil {
			lastErr = err
			c.Quit()
			c = nil
		}
	}
	if c != nil {
		c.Quit()
	}
	return out, lastErr
}

// activeUploads logs in with the raw client and uploads files in active
// mode (PORT to a listener of its own) until deadline.
func activeUploads(e *env, s int, rng *rand.Rand, deadline time.Time, t testing.TB) ([]upload, error) {
	var out []upload
	var lastErr error
	var c *raw
	for i := 0; time.Now().Before(deadline); i++ {
		if c == nil {
			var err error
			if c, err = rawLogin(t, e); err != nil {
				lastErr = err
				time.Sleep(200 * time.Millisecond)
				continue
			}
		}
		b := body(rng)
		name := fmt.Sprintf("/load/a%04d-%05d.bin", s, i)
		err := c.storActive(name, b)
		out = append(out, upload{key: e.Prefix + name[1:], size: len(b), sum: sha256.Sum256(b), acked: err == nil})
		if err != nil {
			lastErr = err
			c.conn.Close()
			c = nil
		}
	}
	if c != nil {
		c.conn.Close()
	}
	return out, lastErr
}

// rawLogin dials, logs in and sets TYPE I, returning errors rather than
// failing the test (it runs off the test's goroutine).
func rawLogin(t testing.TB, e *env) (*raw, error) {
	c, err := dialRaw(t, e.Addr, "")
	if err != nil {
		return nil, err
	}
	for _, step := range []struct {
		cmd  string
		want int
	}{{"USER " + e.User, 331}, {"PASS " + e.Pass, 230}, {"TYPE I", 200}} {
		if code, msg := c.send(step.cmd); code != step.want {
			c.conn.Close()
			return nil, fmt.Errorf("%q: %d %s", step.cmd, code, msg)
		}
	}
	return c, nil
}

// storActive uploads b as name over an active data connection (PORT).
func (c *raw) storActive(name string, b []byte) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if code, msg := c.send(fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&255)); code != 200 {
		return fmt.Errorf("PORT: %d %s", code, msg)
	}
	if code, msg := c.send("STOR " + name); !preliminary(code) {
		return fmt.Errorf("STOR: %d %s", code, msg)
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	data, err := ln.Accept()
	if err != nil {
		return err
	}
	_, err = data.Write(b)
	data.Close()
	if err != nil {
		return err
	}
	if code, msg := c.read(); code != 226 {
		return fmt.Errorf("STOR end: %d %s", code, msg)
	}
	return nil
}

// TestIdleSessions holds -reliability.idle logged-in sessions that do
// nothing and measures the gateway's RSS and goroutines per session: the
// growth from the first half of the sessions to all of them, so that
// one-time costs (the first sessions' heap arenas, the runtime's own
// structures) are not charged to each session.
func TestIdleSessions(t *testing.T) {
	t.Parallel()
	e := start(t, s3test.Fake(t), "max-sessions: 0")
	storeAfter(t, e, "/warm-up.txt")
	base := e.usage(t)
	rss0 := e.procStatus(t, "VmRSS")
	var conns []*ftp.ServerConn
	defer func() {
		for _, c := range conns {
			c.Quit()
		}
	}()
	open := func(n int) (usage, int) {
		t.Helper()
		for range n {
			c, err := e.dial()
			if err != nil {
				t.Fatalf("idle session %d: %v", len(conns), err)
			}
			conns = append(conns, c)
		}
		time.Sleep(time.Second)
		return e.usage(t), e.procStatus(t, "VmRSS")
	}
	half := *loadIdle / 2
	u1, rss1 := open(half)
	u2, rss2 := open(*loadIdle - half)
	n := *loadIdle - half
	perRSS := float64(rss2-rss1) / float64(n)
	perG := float64(u2.Goroutines-u1.Goroutines) / float64(n)
	figure(t, "idle sessions: %d logged in: RSS %d -> %d -> %d KiB (0, half, all: %.1f KiB per session over the second half), goroutines %d -> %d (%.1f per session), fds %d -> %d",
		*loadIdle, rss0, rss1, rss2, perRSS, base.Goroutines, u2.Goroutines, perG, base.FDs, u2.FDs)
	if perRSS >= 64 {
		t.Errorf("%.1f KiB of RSS per idle session, want under 64", perRSS)
	}
	for _, c := range conns {
		c.Quit()
	}
	conns = nil
	e.requireNoLeak(t, base, 8)
}
