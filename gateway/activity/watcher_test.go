package activity_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/gateway/activity"
	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/gateway/metrics"
)

const secret = "webhook-secret"

// receiver is a webhook endpoint that refuses the first attempt of every
// event (so each is retried) and keeps the verified events it accepted.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	tried  map[string]bool // delivery ids refused once
	events []events.Event
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := events.Verify(secret, r.Header, body, time.Now(), time.Minute); err != nil {
		rc.t.Errorf("webhook signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e events.Event
	if err := json.Unmarshal(body, &e); err != nil {
		rc.t.Errorf("webhook body %q: %v", body, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.tried[e.ID] {
		rc.tried[e.ID] = true
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rc.events = append(rc.events, e)
}

func (rc *receiver) received() []events.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.events)
}

func newNotifier(t *testing.T, url string) *events.Notifier {
	t.Helper()
	n, err := events.New(events.Config{URLs: []string{url}, Secret: secret, Backoff: 10 * time.Millisecond,
		MaxAttempts: 3, Types: []string{events.TypeUserSilent, events.TypeUserResumed}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWatcherAnnouncesOnce runs two gateways' watchers (each with its own
// store handle and notifier) on one SQLite file: a silent device is
// announced once, signed, after a retry; its next upload once as resumed;
// the metric names it while it is silent.
func TestWatcherAnnouncesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	rc := &receiver{t: t, tried: map[string]bool{}}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)

	type gw struct {
		store    *sqlite.Store
		notifier *events.Notifier
		stats    *metrics.Metrics
		watcher  *activity.Watcher
	}
	var gws []*gw
	for range 2 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		g := &gw{store: s, notifier: newNotifier(t, hook.URL), stats: metrics.New("test")}
		g.watcher, err = activity.NewWatcher(s, activity.WatcherConfig{Events: g.notifier, Gauge: g.stats})
		if err != nil {
			t.Fatal(err)
		}
		gws = append(gws, g)
	}
	cam := &auth.User{Name: "cam17", PasswordHash: "$2a$04$.7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S",
		Bucket: "cams", ExpectUploadEvery: time.Second}
	if err := cam.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := gws[0].store.CreateUser(t.Context(), cam); err != nil {
		t.Fatal(err)
	}
	quiet := &auth.User{Name: "no-expectation", PasswordHash: cam.PasswordHash, Bucket: "cams"}
	if err := quiet.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := gws[0].store.CreateUser(t.Context(), quiet); err != nil {
		t.Fatal(err)
	}

	// scanBoth scans with both watchers at once and returns what each saw.
	scanBoth := func() [2][]string {
		var got [2][]string
		var wg sync.WaitGroup
		for i, g := range gws {
			wg.Go(func() {
				s, err := g.watcher.Scan(t.Context())
				if err != nil {
					t.Errorf("Scan: %v", err)
				}
				got[i] = s
			})
		}
		wg.Wait()
		return got
	}
	if got := scanBoth(); len(got[0])+len(got[1]) != 0 {
		t.Fatalf("silent right after creation: %v", got)
	}
	// The expectation (1 s) passes.
	for got := scanBoth(); len(got[0]) == 0; got = scanBoth() {
		select {
		case <-t.Context().Done():
			t.Fatal("cam17 never became silent")
		case <-time.After(100 * time.Millisecond):
		}
	}
	scanBoth() // again: nothing new to announce
	scrape := metricsText(t, gws[1].stats)
	if !strings.Contains(scrape, `s3ftp_user_silent{user="cam17"} 1`) || !strings.Contains(scrape, "s3ftp_users_silent 1") ||
		strings.Contains(scrape, `user="no-expectation"`) {
		t.Errorf("metrics of a silent cam17:\n%s", grep(scrape, "silent"))
	}

	// It uploads again: resumed.
	now := time.Now()
	if err := gws[1].store.RecordActivity(t.Context(), []auth.ActivityUpdate{{Name: "cam17",
		Uploads: []auth.Upload{{Time: now, Path: "/back.jpg", Size: 9}}, UploadCount: 1, UploadBytes: 9}}); err != nil {
		t.Fatal(err)
	}
	if got := scanBoth(); len(got[0])+len(got[1]) != 0 {
		t.Errorf("silent after an upload: %v", got)
	}
	scanBoth()
	if scrape := metricsText(t, gws[0].stats); !strings.Contains(scrape, "s3ftp_users_silent 0") || strings.Contains(scrape, `user="cam17"`) {
		t.Errorf("metrics after the upload:\n%s", grep(scrape, "silent"))
	}

	for _, g := range gws {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if err := g.notifier.Close(ctx); err != nil {
			t.Errorf("notifier Close: %v", err)
		}
		cancel()
	}
	got := rc.received()
	var types []string
	for _, e := range got {
		types = append(types, e.Type)
		if e.User != "cam17" || e.Bucket != "cams" || e.ExpectUploadEvery != "1s" {
			t.Errorf("event %+v", e)
		}
	}
	if want := []string{events.TypeUserSilent, events.TypeUserResumed}; !slices.Equal(types, want) {
		t.Fatalf("delivered %v, want %v, each once", types, want)
	}
	if r := got[1]; r.Path != "/back.jpg" || r.Size != 9 || r.LastUpload == "" {
		t.Errorf("user.resumed = %+v, want the upload that ended the silence", r)
	}
	if !rc.tried[got[0].ID] || !rc.tried[got[1].ID] {
		t.Errorf("events were not retried")
	}
}

func metricsText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func grep(text, word string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
