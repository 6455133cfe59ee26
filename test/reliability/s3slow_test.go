package reliability

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestS3SlowAndThrottled runs uploads, downloads and listings against an S3
// that is slow (latency per request), throttles (503 SlowDown for all or
// part of the requests) or stalls longer than s3-timeout: what is
// acknowledged is stored intact, what fails fails with a reply after a
// bounded number of attempts and a bounded time, and the gateway's
// goroutines and fds come back.
func TestS3SlowAndThrottled(t *testing.T) {
	t.Parallel()
	e := start(t, s3test.Fake(t))
	storeAfter(t, e, "/warm-up.txt")
	base := e.usage(t)

	t.Run("latency", func(t *testing.T) {
		e.Proxy.SetLatency(300 * time.Millisecond)
		defer e.Proxy.SetLatency(0)
		c := e.login(t)
		const size = 20 << 20
		begin := time.Now()
		if err := c.Stor("/slow.bin", &pattern{n: size}); err != nil {
			t.Fatalf("STOR with 300 ms per S3 request: %v", err)
		}
		took := time.Since(begin)
		r, err := c.Retr("/slow.bin")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		r.Close()
		want := sha256.New()
		io.Copy(want, &pattern{n: size})
		if err != nil || n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
			t.Fatalf("RETR after a slow STOR: %d bytes, %v, sha256 match %v", n, err, bytes.Equal(h.Sum(nil), want.Sum(nil)))
		}
		if _, err := c.List("/"); err != nil {
			t.Fatalf("LIST with latency: %v", err)
		}
		figure(t, "s3-slow: 20 MiB STOR with 300 ms added to each S3 request took %v", took.Round(100*time.Millisecond))
	})

	t.Run("throttled-always", func(t *testing.T) {
		e.Proxy.SetSlowDown(1)
		defer e.Proxy.SetSlowDown(0)
		c := e.login(t)
		before := e.Proxy.Stats()
		begin := time.Now()
		err := c.Stor("/throttled.txt", strings.NewReader("never stored"))
		took := time.Since(begin)
		requireTransient(t, "STOR while S3 answers SlowDown to everything", err)
		tries := e.Proxy.Stats().SlowDowns - before.SlowDowns
		figure(t, "s3-throttled: a 1-request STOR against an S3 always answering SlowDown: %d attempts in %v, reply %q", tries, took.Round(100*time.Millisecond), reason(err))
		if tries < 2 || tries > 5 {
			t.Errorf("%d attempts for one PutObject under SlowDown: want a few bounded retries (2 to 5)", tries)
		}
		e.Proxy.SetSlowDown(0)
		e.requireClean(t, "/throttled.txt")
	})

	t.Run("throttled-30pct", func(t *testing.T) {
		e.Proxy.SetSlowDown(0.3)
		defer e.Proxy.SetSlowDown(0)
		c := e.login(t)
		const files = 30
		acked := map[string]string{}
		failed := 0
		for i := range files {
			name := fmt.Sprintf("/t%02d.txt", i)
			body := strings.Repeat(name, 100)
			if err := c.Stor(name, strings.NewReader(body)); err != nil {
				requireTransient(t, "STOR "+name, err)
				failed++
				continue
			}
			acked[name] = body
		}
		e.Proxy.SetSlowDown(0)
		objs := e.objects(t)
		for name, body := range acked {
			if o, ok := objs[e.Prefix+name[1:]]; !ok || o.Size != int64(len(body)) {
				t.Errorf("acknowledged %s: in S3 %v (%+v), want %d bytes", name, ok, o, len(body))
			}
		}
		figure(t, "s3-throttled: %d STORs with 30%% of S3 requests answered SlowDown: %d acknowledged and stored, %d refused, 0 lost", files, len(acked), failed)
	})

	t.Run("stall-beyond-s3-timeout", func(t *testing.T) {
		c := e.login(t)
		e.Proxy.Stall()
		begin := time.Now()
		_, err := c.List("/")
		took := time.Since(begin)
		e.Proxy.Resume()
		requireTransient(t, "LIST while S3 is stalled (s3-timeout 3s)", err)
		figure(t, "s3-stalled: LIST against a stalled S3 answered after %v with %q (s3-timeout 3s)", took.Round(100*time.Millisecond), reason(err))
		if took > 30*time.Second {
			t.Errorf("LIST against a stalled S3 took %v with s3-timeout 3s", took)
		}
		storeAfter(t, e, "/after-stall.txt")
	})

	u := e.requireNoLeak(t, base, 4)
	figure(t, "s3-slow-throttled: gateway %v before, %v after", base, u)
}
