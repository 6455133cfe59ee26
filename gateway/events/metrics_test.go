package events

import (
	"sync"
	"testing"
	"time"
)

// recorder is a Metrics that remembers every call.
type recorder struct {
	mu        sync.Mutex
	queued    map[string]int    // by event type
	dropped   map[string]int    // by reason
	delivered map[string][]int  // attempts of each delivery, by URL
	failed    map[string][]bool // permanent of each failure, by URL
}

var _ Metrics = (*recorder)(nil)

func newRecorder() *recorder {
	return &recorder{queued: map[string]int{}, dropped: map[string]int{},
		delivered: map[string][]int{}, failed: map[string][]bool{}}
}

func (r *recorder) EventQueued(typ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queued[typ]++
}

func (r *recorder) EventDropped(_, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped[reason]++
}

func (r *recorder) EventDelivered(url string, attempts int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered[url] = append(r.delivered[url], attempts)
}

func (r *recorder) EventFailed(url string, permanent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed[url] = append(r.failed[url], permanent)
}

func (r *recorder) nQueued(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queued[typ]
}

func (r *recorder) nDropped(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped[reason]
}

// deliveries returns the attempts of each delivery to url.
func (r *recorder) deliveries(url string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.delivered[url]...)
}

// failures returns whether each failure for url was permanent.
func (r *recorder) failures(url string) []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bool(nil), r.failed[url]...)
}

// A Notifier without Metrics delivers all the same.
func TestNilMetrics(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, ok)
	n, err := New(Config{URLs: []string{rc.URL}, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n.Publish(Event{Type: TypeUpload, Key: "k"})
	if err := n.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(rc.requests()); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
}
