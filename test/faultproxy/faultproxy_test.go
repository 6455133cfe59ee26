package faultproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// echo is an upstream that answers every request with its method, path and
// body (a PUT echoes what it received) and counts requests; /slow streams
// 1 MiB in 64 KiB pieces, flushing each.
func echo(t *testing.T, arrived chan<- string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived != nil {
			arrived <- r.URL.Path
		}
		if r.URL.Path == "/slow" {
			piece := bytes.Repeat([]byte("x"), 64<<10)
			for range 16 {
				if _, err := w.Write(piece); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" ")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// client returns an HTTP client with its own connection pool.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
}

func TestForwards(t *testing.T) {
	t.Parallel()
	p := newProxy(t, echo(t, nil).URL)
	c := client()
	big := make([]byte, 3<<20)
	rand.Read(big)
	for i, tc := range []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/a", nil},
		{"PUT", "/b", []byte("hello")},
		{"PUT", "/big", big},
		{"GET", "/c", nil}, // the same connection, reused
	} {
		req, _ := http.NewRequest(tc.method, p.URL()+tc.path, bytes.NewReader(tc.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := append([]byte(tc.method+" "+tc.path+" "), tc.body...)
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("request %d: status %d, %d bytes, err %v; want 200 and the echo (%d bytes)", i, resp.StatusCode, len(got), err, len(want))
		}
	}
	if s := p.Stats(); s.Requests != 4 || s.Connections != 1 {
		t.Errorf("stats %+v: want 4 requests on 1 connection", s)
	}
	if n := p.Open(); n != 1 {
		t.Errorf("%d connections open, want the client's 1", n)
	}
	c.CloseIdleConnections()
	for p.Open() != 0 {
		time.Sleep(10 * time.Millisecond) // until the proxy sees the close
	}
}

func TestSlowDown(t *testing.T) {
	t.Parallel()
	p := newProxy(t, echo(t, nil).URL)
	c := client()
	get := func() int {
		t.Helper()
		resp, err := c.Post(p.URL()+"/x", "text/plain", strings.NewReader("body the proxy must drain"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 503 && !strings.Contains(string(b), "<Code>SlowDown</Code>") {
			t.Fatalf("503 without the SlowDown code: %s", b)
		}
		return resp.StatusCode
	}
	p.SetSlowDown(1)
	for range 5 {
		if code := get(); code != 503 {
			t.Fatalf("slow-down 1: status %d, want 503", code)
		}
	}
	p.SetSlowDown(0.5)
	codes := map[int]int{}
	for range 60 {
		codes[get()]++
	}
	if codes[503] == 0 || codes[200] == 0 || len(codes) != 2 {
		t.Errorf("slow-down 0.5 over 60 requests: %v, want both 200 and 503", codes)
	}
	p.SetSlowDown(0)
	if code := get(); code != 200 {
		t.Errorf("slow-down off: status %d", code)
	}
	if s := p.Stats(); s.SlowDowns != 5+codes[503] {
		t.Errorf("stats %+v: want %d slow-downs", s, 5+codes[503])
	}
}

// TestSlowDownS3 checks that the AWS SDK reads the proxy's answer as S3's
// own SlowDown error (with retries off, to see it).
func TestSlowDownS3(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	p := newProxy(t, srv.Endpoint)
	proxied := *srv
	proxied.Endpoint = p.URL()
	bucket := srv.NewBucket(t)
	c := s3.New(proxied.Client(false, nil).Options(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := context.Background()
	p.SetSlowDown(1)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("v")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "SlowDown" {
		t.Fatalf("PutObject through slow-down: %v, want the SlowDown API error", err)
	}
	p.SetSlowDown(0)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject after slow-down: %v", err)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	p := newProxy(t, echo(t, nil).URL)
	c := client()
	const d = 300 * time.Millisecond
	p.SetLatency(d)
	start := time.Now()
	resp, err := c.Get(p.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); took < d {
		t.Errorf("request took %v with latency %v", took, d)
	}
}

// TestCut resets a connection in the middle of a response body.
func TestCut(t *testing.T) {
	t.Parallel()
	p := newProxy(t, echo(t, nil).URL)
	resp, err := client().Get(p.URL() + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatalf("first piece: %v", err)
	}
	p.Cut()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reading on after Cut: %v, want connection reset", err)
	}
	if s := p.Stats(); s.Resets < 2 {
		t.Errorf("stats %+v: want client and upstream connections reset", s)
	}
}

// TestStall holds a request while stalled and lets it through on Resume.
func TestStall(t *testing.T) {
	t.Parallel()
	arrived := make(chan string, 10)
	p := newProxy(t, echo(t, arrived).URL)
	c := client()
	p.Stall()
	done := make(chan error, 1)
	go func() {
		resp, err := c.Get(p.URL() + "/held")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case path := <-arrived:
		t.Fatalf("request %s reached the server during a stall", path)
	case err := <-done:
		t.Fatalf("request ended during a stall: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	p.Resume()
	if err := <-done; err != nil {
		t.Fatalf("request after Resume: %v", err)
	}
	if path := <-arrived; path != "/held" {
		t.Errorf("server got %s", path)
	}
}

// TestRefuse resets new connections while down and accepts them when up.
func TestRefuse(t *testing.T) {
	t.Parallel()
	p := newProxy(t, echo(t, nil).URL)
	c := client()
	p.Down()
	if resp, err := c.Get(p.URL() + "/x"); err == nil {
		resp.Body.Close()
		t.Fatalf("request while down: status %d, want an error", resp.StatusCode)
	}
	conn, err := net.Dial("tcp", p.Addr())
	if err == nil {
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("raw connection while down: %v, want connection reset", err)
	}
	p.Up()
	resp, err := c.Get(p.URL() + "/x")
	if err != nil {
		t.Fatalf("request after Up: %v", err)
	}
	resp.Body.Close()
	if s := p.Stats(); s.Refused < 2 {
		t.Errorf("stats %+v: want at least 2 refused", s)
	}
}

// TestRule resets or slows down the requests a rule picks.
func TestRule(t *testing.T) {
	t.Parallel()
	p := newProxy(t, echo(t, nil).URL)
	c := client()
	p.SetRule(func(r *http.Request) Fault {
		switch r.URL.Query().Get("fault") {
		case "reset":
			return Reset
		case "slow":
			return SlowDown
		}
		return Forward
	})
	for _, tc := range []struct {
		query string
		want  int // status; 0: a connection error
	}{{"", 200}, {"fault=reset", 0}, {"fault=slow", 503}, {"fault=none", 200}} {
		resp, err := c.Get(p.URL() + "/r?" + tc.query)
		got := 0
		if err == nil {
			got = resp.StatusCode
			resp.Body.Close()
		}
		if got != tc.want {
			t.Errorf("?%s: status %d (err %v), want %d", tc.query, got, err, tc.want)
		}
	}
}

// TestExpectContinue forwards and throttles requests whose client waits
// for "100 Continue" before sending the body (the AWS SDK does for large
// PUTs); a client that waited a minute for it would time out here.
func TestExpectContinue(t *testing.T) {
	t.Parallel()
	p := newProxy(t, echo(t, nil).URL)
	c := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}, Timeout: 20 * time.Second}
	put := func() (int, string, error) {
		req, _ := http.NewRequest("PUT", p.URL()+"/e", strings.NewReader("held body"))
		req.Header.Set("Expect", "100-continue")
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	if code, body, err := put(); err != nil || code != 200 || body != "PUT /e held body" {
		t.Fatalf("PUT with Expect: %d %q %v", code, body, err)
	}
	p.SetSlowDown(1)
	if code, _, err := put(); err != nil || code != 503 {
		t.Fatalf("throttled PUT with Expect: %d %v, want 503", code, err)
	}
	p.SetSlowDown(0)
	if code, _, err := put(); err != nil || code != 200 {
		t.Fatalf("PUT with Expect after throttling: %d %v", code, err)
	}
}
