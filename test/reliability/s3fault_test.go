package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/faultproxy"
)

// pattern is a deterministic, incompressible-enough stream of n bytes that
// calls at(offset) once when offset bytes have been read.
type pattern struct {
	n, off, trigger int64
	at              func()
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if p.at != nil && p.off >= p.trigger {
		p.at()
		p.at = nil
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	if p.at != nil && int64(len(b)) > p.trigger-p.off {
		b = b[:p.trigger-p.off]
	}
	for i := range b {
		x := p.off + int64(i)
		b[i] = byte(x ^ x>>8 ^ x>>16)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// storeAfter checks the gateway works again: it stores a small file named
// name and reads it back.
func storeAfter(t *testing.T, e *env, name string) {
	t.Helper()
	body := []byte("after the fault " + name)
	var c *ftp.ServerConn
	var err error
	// The first session after an outage may still meet S3's recovery.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err = e.dial(); err == nil {
			if err = c.Stor(name, bytes.NewReader(body)); err == nil {
				break
			}
			c.Quit()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway does not store %s after S3 came back: %v", name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	defer c.Quit()
	r, err := c.Retr(name)
	if err != nil {
		t.Fatalf("RETR %s after the fault: %v", name, err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("RETR %s after the fault: %q, %v", name, got, err)
	}
}

// putDirect stores an object of n pattern bytes under the user's prefix
// through S3 directly and returns its SHA-256.
func putDirect(t *testing.T, e *env, name string, n int64) [32]byte {
	t.Helper()
	data, _ := io.ReadAll(&pattern{n: n})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := e.Prefix + strings.TrimPrefix(name, "/")
	if _, err := e.Direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.Bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return sha256.Sum256(data)
}

// downAt returns a proxy rule that makes S3 unreachable (Down) at the
// first request for which match is true, and resets that request.
func downAt(p *faultproxy.Proxy, match func(*http.Request) bool) func(*http.Request) faultproxy.Fault {
	var once sync.Once
	return func(r *http.Request) faultproxy.Fault {
		if !match(r) {
			return faultproxy.Forward
		}
		once.Do(p.Down)
		return faultproxy.Reset
	}
}

// outage is one way S3 goes away while a client works: run does the
// client's part and returns the error of the operation S3 failed under.
type outage struct {
	name string
	run  func(t *testing.T, e *env) error
}

// outages are the moments TestS3Unreachable takes S3 away: before login, between the parts of a multipart STOR,
// during a RETR, between two pages of a LIST.
var outages = []outage{
	{"login", func(t *testing.T, e *env) error {
		e.Proxy.Down()
		c, err := e.dial()
		if err != nil {
			return err
		}
		defer c.Quit()
		return c.Stor("/at-login.txt", strings.NewReader("x"))
	}},
	{"mid-STOR", func(t *testing.T, e *env) error {
		e.Proxy.SetRule(downAt(e.Proxy, func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }))
		defer e.Proxy.SetRule(nil)
		c := e.login(t)
		return c.Stor("/mid-stor.bin", &pattern{n: 40 << 20}) // five 8 MiB parts
	}},
	{"mid-RETR", func(t *testing.T, e *env) error {
		// Larger than what a download reads ahead (4 ranged GETs of 8 MiB by
		// default) beyond the bytes the client and the sockets hold, so that
		// the rest needs S3 once it is gone: with 32 MiB, the whole object
		// could be in the gateway's buffers before the outage.
		const size = 64 << 20
		putDirect(t, e, "/big.bin", size)
		c := e.login(t)
		r, err := c.Retr("/big.bin")
		if err != nil {
			t.Fatalf("RETR: %v", err)
		}
		if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
			t.Fatalf("first MiB: %v", err)
		}
		e.Proxy.Down()
		n, _ := io.Copy(io.Discard, r)
		if n+1<<20 == size {
			t.Logf("RETR: the whole object came through")
		}
		return r.Close()
	}},
	{"mid-LIST", func(t *testing.T, e *env) error {
		const n = 1100 // two pages of ListObjectsV2
		ctx := context.Background()
		for i := range n {
			key := fmt.Sprintf("%slist/f%04d", e.Prefix, i)
			if _, err := e.Direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.Bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
				t.Fatal(err)
			}
		}
		e.Proxy.SetRule(downAt(e.Proxy, func(r *http.Request) bool { return r.URL.Query().Get("continuation-token") != "" }))
		defer e.Proxy.SetRule(nil)
		c := e.login(t)
		entries, err := c.List("/list")
		if err == nil {
			t.Errorf("LIST with S3 gone after the first page: %d entries and success, want an error", len(entries))
		}
		return err
	}},
}

// TestS3Unreachable makes S3 unreachable (connections reset, new ones
// refused) at login and in the middle of STOR, RETR and LIST: the client
// gets a transient error reply (451 or 421, which a device retries; it was
// 550, permanent, before ftpserverlib patch 17) with a reason, the gateway stays up, no object is
// left behind, its goroutines and fds come back, and the next operation
// succeeds once S3 is back.
func TestS3Unreachable(t *testing.T) {
	t.Parallel()
	e := start(t, s3test.Fake(t))
	storeAfter(t, e, "/warm-up.txt")
	base := e.usage(t)
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			err := o.run(t, e)
			e.Proxy.Up()
			code := requireTransient(t, o.name+" with S3 unreachable", err)
			figure(t, "s3-unreachable %s: reply %d %q", o.name, code, reason(err))
			e.requireCleanObject(t, "/at-login.txt")
			e.requireCleanObject(t, "/mid-stor.bin")
			storeAfter(t, e, "/after-"+o.name+".txt")
		})
	}
	u := e.requireNoLeak(t, base, 4)
	figure(t, "s3-unreachable: gateway %v before, %v after the outages", base, u)
}

// TestS3UnreachableAbort takes S3 away between the parts of a multipart
// upload and brings it back: the gateway must abort the multipart upload
// once S3 is back: the abort it tried while S3 was down is retried by its
// sweeper (every upload-sweep-interval, 2 s here).
func TestS3UnreachableAbort(t *testing.T) {
	t.Parallel()
	e := start(t, s3test.Fake(t), "upload-sweep-interval: 2s")
	requireTransient(t, "STOR with S3 gone after part 1", outages[1].run(t, e))
	e.Proxy.Up()
	deadline := time.Now().Add(30 * time.Second) // the sweeper's rounds, and their requests
	for len(e.uploads(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	e.requireClean(t, "/mid-stor.bin")
}

// reason returns the text of an FTP error reply, or err's text.
func reason(err error) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Msg
	}
	return fmt.Sprint(err)
}

// requireCleanObject fails the test if S3 holds an object for name (the
// multipart upload check is TestS3UnreachableAbort's, issue 11 item 6).
func (e *env) requireCleanObject(t *testing.T, name string) {
	t.Helper()
	key := e.Prefix + strings.TrimPrefix(name, "/")
	if o, ok := e.objects(t)[key]; ok {
		t.Errorf("object %s left behind (%d bytes)", key, o.Size)
	}
}
