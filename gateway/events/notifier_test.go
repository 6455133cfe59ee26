package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// start returns a Notifier for cfg with test defaults (Backoff 10ms,
// Timeout 2s), recording metrics and debug logs, closed at the end of t.
func start(t *testing.T, cfg Config) (*Notifier, *recorder, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := newRecorder()
	cfg.Metrics = rec
	if cfg.Backoff == 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n, rec, logs
}

// eventually fails t unless cond becomes true within 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNoURLs(t *testing.T) {
	t.Parallel()
	n, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	n.Publish(Event{Type: TypeUpload})
	if n.Pending() != 0 || n.Close(t.Context()) != nil {
		t.Fatal("a Notifier without URLs did something")
	}
	var none *Notifier
	none.Publish(Event{Type: TypeUpload})
	if none.Pending() != 0 || none.Close(t.Context()) != nil {
		t.Fatal("nil Notifier")
	}
}

// With the receiver hanging and the queue full, Publish still returns at
// once; what does not fit is dropped, logged and counted.
func TestQueueFullDoesNotBlock(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, hang)
	n, rec, logs := start(t, Config{URLs: []string{rc.URL}, QueueSize: 3, Workers: 1, Timeout: time.Minute})
	began := time.Now()
	for i := range 100 {
		n.Publish(Event{Type: TypeUpload, ID: fmt.Sprintf("ev-%03d", i), Key: fmt.Sprintf("k%03d", i)})
	}
	if took := time.Since(began); took > time.Second {
		t.Fatalf("100 Publish calls took %v", took)
	}
	if n.Pending() != 3 || rec.nQueued(TypeUpload) != 3 || rec.nDropped(DropQueueFull) != 97 {
		t.Fatalf("pending %d, queued %d, dropped %d; want 3, 3, 97",
			n.Pending(), rec.nQueued(TypeUpload), rec.nDropped(DropQueueFull))
	}
	if l := logs.String(); !strings.Contains(l, `"id":"ev-099"`) || !strings.Contains(l, `"key":"k099"`) ||
		strings.Count(l, `"reason":"queue_full"`) != 97 {
		t.Fatalf("drops not logged with id, key and reason: %s", l)
	}
}

func TestCloseDelivers(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) { time.Sleep(10 * time.Millisecond) })
	n, rec, logs := start(t, Config{URLs: []string{rc.URL}})
	for range 5 {
		n.Publish(Event{Type: TypeUpload})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := rec.deliveries(rc.URL); len(d) != 5 || n.Pending() != 0 {
		t.Fatalf("%d delivered, %d pending; want 5, 0", len(d), n.Pending())
	}
	n.Publish(Event{Type: TypeUpload, ID: "late"})
	if rec.nDropped(DropClosed) != 1 || !strings.Contains(logs.String(), `"id":"late"`) {
		t.Fatal("Publish after Close not dropped, counted and logged")
	}
	if err := n.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Close with a deadline drops what is left: in flight (a hanging receiver)
// or waiting for a retry.
func TestCloseDeadlineDrops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request)
		backoff time.Duration
		ready   string // in the logs once the events are where the test wants them
	}{
		{"in flight", hang, 0, ""},
		{"waiting for a retry", status(500), time.Minute, "will retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tt.respond)
			n, rec, logs := start(t, Config{URLs: []string{rc.URL}, Backoff: tt.backoff, Timeout: time.Minute})
			for i := range 5 {
				n.Publish(Event{Type: TypeUpload, ID: fmt.Sprintf("ev-%d", i)})
			}
			eventually(t, "events under way", func() bool {
				return len(rc.requests()) >= 2 && (tt.ready == "" || strings.Count(logs.String(), tt.ready) >= 2)
			})
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			began := time.Now()
			err := n.Close(ctx)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "5 events") {
				t.Fatalf("Close: %v", err)
			}
			if took := time.Since(began); took > 2*time.Second {
				t.Errorf("Close took %v", took)
			}
			if got := rec.nDropped(DropShutdown); got != 5 || n.Pending() != 0 {
				t.Fatalf("dropped %d, pending %d; want 5, 0", got, n.Pending())
			}
			for i := range 5 {
				if !strings.Contains(logs.String(), fmt.Sprintf(`"id":"ev-%d","type":"upload","key":"","reason":"shutdown"`, i)) {
					t.Errorf("drop of ev-%d not logged: %s", i, logs)
				}
			}
			if len(rec.failures(rc.URL)) != 0 {
				t.Error("a shutdown counted as a failed delivery")
			}
		})
	}
}

func TestTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		types []string
		want  []string
	}{
		{nil, []string{TypeUpload}},
		{[]string{TypeUpload, TypeDelete}, []string{TypeDelete, TypeUpload}},
		{[]string{TypeRename}, []string{TypeRename}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.types), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, ok)
			n, _, _ := start(t, Config{URLs: []string{rc.URL}, Types: tt.types})
			for _, typ := range []string{TypeUpload, TypeDelete, TypeRename, "mkdir", ""} {
				n.Publish(Event{Type: typ})
			}
			if err := n.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rc.requests() {
				got = append(got, r.header.Get("X-S3ftp-Event"))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("sent %v, want %v", got, tt.want)
			}
		})
	}
}

// One URL failing, hanging or down does not hold up another.
func TestURLsIndependent(t *testing.T) {
	t.Parallel()
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		return "http://" + ln.Addr().String()
	}
	hanging := func(t *testing.T) string { return newReceiver(t, hang).URL }
	tests := []struct {
		name string
		bad  []func(t *testing.T) string
	}{
		{"hanging", []func(t *testing.T) string{hanging}},
		{"failing", []func(t *testing.T) string{func(t *testing.T) string { return newReceiver(t, status(500)).URL }}},
		{"down", []func(t *testing.T) string{refused}},
		{"two of three hanging", []func(t *testing.T) string{hanging, hanging}}, // default workers: one per URL
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			good := newReceiver(t, ok)
			var urls []string
			for _, bad := range tt.bad {
				urls = append(urls, bad(t))
			}
			n, rec, _ := start(t, Config{URLs: append(urls, good.URL), MaxAttempts: 1000, Timeout: time.Minute})
			for range 10 {
				n.Publish(Event{Type: TypeUpload})
			}
			eventually(t, "all events at the good URL", func() bool { return len(rec.deliveries(good.URL)) == 10 })
			for _, bad := range urls {
				if len(rec.deliveries(bad)) != 0 || n.Pending() != 10 {
					t.Fatalf("bad URL: %d delivered, pending %d", len(rec.deliveries(bad)), n.Pending())
				}
			}
		})
	}
}

// Logs and metrics never show the secret, a URL's credentials or query, or
// the body beyond the id, type and key.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, status(500))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	urls := []string{
		strings.Replace(rc.URL, "http://", "http://alice:hunter2@", 1) + "/hook?token=qwerty",
		"http://bob:pa55word@" + ln.Addr().String() + "/x?k=zzzsecret",
	}
	n, rec, logs := start(t, Config{URLs: urls, Secret: "s3cr3t-hmac-key", MaxAttempts: 2})
	n.Publish(Event{Type: TypeUpload, Key: "k", SHA256: "feedfacefeedface", Session: "sess-marker"})
	redacted := []string{
		strings.Replace(rc.URL, "http://", "http://xxxxx@", 1) + "/hook?xxxxx",
		"http://xxxxx@" + ln.Addr().String() + "/x?xxxxx",
	}
	eventually(t, "both URLs given up", func() bool {
		return len(rec.failures(redacted[0])) == 1 && len(rec.failures(redacted[1])) == 1
	})
	if got := rc.requests()[0].header.Get("Authorization"); got == "" {
		t.Error("credentials in the URL not sent as basic auth")
	}
	l := logs.String()
	for _, secret := range []string{"s3cr3t", "alice", "hunter2", "qwerty", "bob", "pa55word", "zzzsecret",
		"feedface", "sess-marker", "sha256="} {
		if strings.Contains(l, secret) {
			t.Errorf("logs contain %q: %s", secret, l)
		}
	}
	for _, u := range redacted {
		if !strings.Contains(l, `"url":"`+u+`"`) {
			t.Errorf("logs do not name %s: %s", u, l)
		}
	}
}
