package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a webhook receiver on 127.0.0.1:0 that records requests and
// answers with respond(n), n counting requests from 1.
type receiver struct {
	*httptest.Server
	respond func(n int, w http.ResponseWriter, r *http.Request)
	mu      sync.Mutex
	reqs    []request
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(rc)
	t.Cleanup(func() {
		rc.CloseClientConnections() // ends hanging handlers
		rc.Close()
	})
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, request{header: r.Header.Clone(), body: body, at: time.Now()})
	n := len(rc.reqs)
	rc.mu.Unlock()
	rc.respond(n, w, r)
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// Answers.
func ok(int, http.ResponseWriter, *http.Request)         {}
func hang(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// sequence answers codes[n-1], then the last code forever.
func sequence(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(n, len(codes))-1])
	}
}

// checkSignature verifies a request the way docs/events.md tells receivers
// to, without Sign or Verify.
func checkSignature(t *testing.T, secret string, r request) {
	t.Helper()
	ts := r.header.Get("X-S3ftp-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Second {
		t.Errorf("timestamp %q is not now in Unix seconds", ts)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(r.body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := r.header.Get("X-S3ftp-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("signature %q, want %q", got, want)
	}
}

func TestDeliveryRequest(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"", "a shared secret"} {
		t.Run("secret="+strconv.Quote(secret), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, ok)
			n, rec, _ := start(t, Config{URLs: []string{rc.URL + "/hook"}, Secret: secret})
			n.Publish(Event{Type: TypeUpload, User: "scanner1", Bucket: "docs", Key: "scanner1/a.pdf",
				Path: "/a.pdf", Size: 3, ClientIP: "192.0.2.7", Session: "s1"})
			eventually(t, "delivery", func() bool { return len(rec.deliveries(rc.URL+"/hook")) == 1 })

			r := rc.requests()[0]
			var ev map[string]any
			if err := json.Unmarshal(r.body, &ev); err != nil {
				t.Fatalf("body %s: %v", r.body, err)
			}
			id, _ := ev["id"].(string)
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
				t.Errorf("id %q", id)
			}
			when, _ := ev["time"].(string)
			if at, err := time.Parse(time.RFC3339, when); err != nil || !strings.HasSuffix(when, "Z") ||
				time.Since(at).Abs() > 5*time.Second {
				t.Errorf("time %q: want RFC 3339 UTC, now", when)
			}
			if ev["key"] != "scanner1/a.pdf" || ev["user"] != "scanner1" || ev["size"] != 3.0 {
				t.Errorf("body %s", r.body)
			}
			for k, want := range map[string]string{
				"Content-Type": "application/json", "User-Agent": "s3ftp",
				"X-S3ftp-Event": "upload", "X-S3ftp-Delivery": id,
			} {
				if got := r.header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if secret == "" {
				if sig := r.header.Get("X-S3ftp-Signature"); sig != "" {
					t.Errorf("unsigned config sent signature %q", sig)
				}
				return
			}
			checkSignature(t, secret, r)
			if err := Verify(secret, r.header, r.body, time.Now(), time.Minute); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestDeliveryStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		respond       func(int, http.ResponseWriter, *http.Request)
		maxAttempts   int
		wantRequests  int
		wantDelivered bool
		wantPermanent bool
	}{
		{"200", status(200), 5, 1, true, false},
		{"204", status(204), 5, 1, true, false},
		{"500 twice then 200", sequence(500, 500, 200), 5, 3, true, false},
		{"408 then 202", sequence(408, 202), 5, 2, true, false},
		{"429 then 200", sequence(429, 200), 5, 2, true, false},
		{"503 until attempts run out", status(503), 3, 3, false, false},
		{"400 not retried", status(400), 5, 1, false, true},
		{"404 not retried", status(404), 5, 1, false, true},
		{"redirect not followed", func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, 5, 1, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tt.respond)
			n, rec, logs := start(t, Config{URLs: []string{rc.URL}, Secret: "k", MaxAttempts: tt.maxAttempts})
			n.Publish(Event{Type: TypeUpload, Key: "k1"})
			eventually(t, "an outcome", func() bool {
				return len(rec.deliveries(rc.URL))+len(rec.failures(rc.URL)) > 0
			})
			time.Sleep(50 * time.Millisecond) // room for a wrong retry (backoff is 10ms)

			reqs := rc.requests()
			if len(reqs) != tt.wantRequests {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantRequests)
			}
			for _, r := range reqs {
				checkSignature(t, "k", r) // fresh timestamp and valid signature every time
				if r.header.Get("X-S3ftp-Delivery") != reqs[0].header.Get("X-S3ftp-Delivery") ||
					string(r.body) != string(reqs[0].body) {
					t.Error("a retry changed the id or the body")
				}
			}
			if tt.wantDelivered {
				if d := rec.deliveries(rc.URL); len(d) != 1 || d[0] != tt.wantRequests {
					t.Errorf("deliveries %v, want [%d]", d, tt.wantRequests)
				}
			} else if f := rec.failures(rc.URL); len(f) != 1 || f[0] != tt.wantPermanent {
				t.Errorf("failures %v, want [permanent=%v]", f, tt.wantPermanent)
			}
			if tt.wantRequests > 1 && !strings.Contains(logs.String(), `"attempt":1`) {
				t.Errorf("failed attempt not logged: %s", logs)
			}
			if n.Pending() != 0 {
				t.Errorf("Pending = %d after the outcome", n.Pending())
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	n, rec, _ := start(t, Config{URLs: []string{rc.URL}}) // Backoff 10ms
	n.Publish(Event{Type: TypeUpload})
	eventually(t, "delivery", func() bool { return len(rec.deliveries(rc.URL)) == 1 })
	reqs := rc.requests()
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Fatalf("retried after %v, want Retry-After's 1s", gap)
	}
}

// A receiver that is down (connection refused) then comes back on the
// same address gets the event.
func TestReceiverDownThenBack(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "http://" + addr + "/hook"
	n, rec, logs := start(t, Config{URLs: []string{url}, MaxAttempts: 20})
	n.Publish(Event{Type: TypeUpload, ID: "ev-down", Key: "k"})
	eventually(t, "two refused attempts", func() bool {
		return strings.Count(logs.String(), "will retry") >= 2
	})
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("logs do not say why: %s", logs)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	rc := &receiver{respond: ok}
	rc.Server = httptest.NewUnstartedServer(rc)
	rc.Listener.Close()
	rc.Listener = ln
	rc.Start()
	t.Cleanup(rc.Close)

	eventually(t, "delivery after the receiver returned", func() bool { return len(rec.deliveries(url)) == 1 })
	if reqs := rc.requests(); len(reqs) != 1 || reqs[0].header.Get("X-S3ftp-Delivery") != "ev-down" {
		t.Fatalf("receiver got %d requests", len(reqs))
	}
	if d := rec.deliveries(url)[0]; d < 3 {
		t.Errorf("delivered at attempt %d, want > 2", d)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, hang)
	const timeout = 500 * time.Millisecond // long enough for a loaded machine to deliver each attempt
	n, rec, logs := start(t, Config{URLs: []string{rc.URL}, Timeout: timeout, MaxAttempts: 2})
	began := time.Now()
	n.Publish(Event{Type: TypeUpload})
	// eventually bounds how long giving up may take; each attempt must have
	// waited its whole timeout, so the second began after the first timed out.
	eventually(t, "giving up", func() bool { return len(rec.failures(rc.URL)) == 1 })
	if took := time.Since(began); took < 2*timeout {
		t.Errorf("gave up after %v, before two attempts of %v each timed out", took, timeout)
	}
	if f := rec.failures(rc.URL); f[0] {
		t.Error("a timeout counted as permanent")
	}
	if got := len(rc.requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
	if !strings.Contains(logs.String(), "timeout") {
		t.Errorf("logs do not say timeout: %s", logs)
	}
}
