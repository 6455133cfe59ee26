package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

// slowS3 starts a reverse proxy on 127.0.0.1 in front of the S3 endpoint
// target that holds the response to each PUT and POST (PutObject,
// UploadPart, CreateMultipartUpload, CompleteMultipartUpload) for delay, as
// a distant S3 does: a request whose body was received in full is carried
// out even if the client gives up waiting for the answer, one cut off
// before is not. Each such request is recorded in done ("METHOD
// /bucket/key?query") once S3 has carried it out, before the delay. It
// returns the proxy's URL and stops it when the test ends. The Host header
// is passed on unchanged, so SigV4 signatures made for the proxy's address
// stay valid.
func slowS3(t *testing.T, target string, delay time.Duration, done *requestLog) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = delayWrites{next: http.DefaultTransport, delay: delay, done: done}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// delayWrites is an http.RoundTripper that reads the body of a PUT or POST
// in full, sends it regardless of the client going away, and delays the
// response.
type delayWrites struct {
	next  http.RoundTripper
	delay time.Duration
	done  *requestLog
}

// RoundTrip sends r; a PUT or POST only once its body has been read in
// full, and then it waits delay before returning the response.
func (d delayWrites) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		return d.next.RoundTrip(r)
	}
	var body []byte
	if r.Body != nil { // nil for an empty body
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err // the client went away before sending everything
		}
	}
	out := r.Clone(context.WithoutCancel(r.Context()))
	out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp, err := d.next.RoundTrip(out)
	if err == nil {
		d.done.add(r.Method + " " + r.URL.RequestURI())
	}
	time.Sleep(d.delay)
	return resp, err
}

// requestLog records requests from several goroutines.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

// add records req.
func (l *requestLog) add(req string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, req)
}

// has reports whether a recorded request matches re.
func (l *requestLog) has(re *regexp.Regexp) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.reqs, re.MatchString)
}
