package activity_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/authtest"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/gateway/activity"
)

func openStore(t *testing.T, users ...string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, name := range users {
		if err := s.CreateUser(t.Context(), authtest.MinimalUser(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func closeRecorder(t *testing.T, r *activity.Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // also in a Cleanup, after t.Context ends
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestRecorderWritesMergedBatches(t *testing.T) {
	t.Parallel()
	store := openStore(t, "cam1", "cam2")
	counting := &countingWriter{next: store}
	// A long interval: everything is written by Close, in one batch.
	r, err := activity.New(counting, activity.Config{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	addr := netip.MustParseAddr("::ffff:192.0.2.9")
	r.Login("cam1", addr, now)
	const uploads = auth.RecentUploads + 5
	for i := range uploads {
		r.Upload("cam1", fmt.Sprintf("/img%02d.jpg", i), 100, now.Add(time.Duration(i)*time.Millisecond))
	}
	r.Failure("cam2", "upload /x\x00\xff: failed", now)
	r.Upload("ghost", "/deleted-user", 1, now) // skipped by the store
	closeRecorder(t, r)
	if counting.batches() != 1 {
		t.Errorf("%d batches written, want 1", counting.batches())
	}
	a, err := store.GetActivity(t.Context(), "cam1", now)
	if err != nil {
		t.Fatal(err)
	}
	if a.LastLogin == nil || a.LastLogin.Addr.String() != "192.0.2.9" {
		t.Errorf("LastLogin = %+v, want the unmapped IPv4 address", a.LastLogin)
	}
	if a.Uploads24h != uploads || a.Bytes24h != 100*uploads || len(a.Recent) != auth.RecentUploads ||
		a.LastUpload == nil || a.LastUpload.Path != fmt.Sprintf("/img%02d.jpg", uploads-1) {
		t.Errorf("activity = %+v", a)
	}
	b, err := store.GetActivity(t.Context(), "cam2", now)
	if err != nil || b.LastError == nil || b.LastError.Message != "upload /x\uFFFD: failed" {
		t.Errorf("cam2 LastError = %+v, %v; want the message without NUL, as valid UTF-8", b.LastError, err)
	}
}

func TestRecorderFlushesOnInterval(t *testing.T) {
	t.Parallel()
	store := openStore(t, "cam")
	r, err := activity.New(store, activity.Config{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeRecorder(t, r) })
	r.Upload("cam", "/a", 1, time.Now())
	for {
		a, err := store.GetActivity(t.Context(), "cam", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if a.LastUpload != nil {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatal("the upload was never written")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestRecorderNeverBlocks fills the queue while the store hangs: every
// call returns, and what does not fit is dropped and counted.
func TestRecorderNeverBlocks(t *testing.T) {
	t.Parallel()
	w := &blockingWriter{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	const queue = 8
	r, err := activity.New(w, activity.Config{QueueSize: queue, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Upload("cam", "/first", 1, time.Now()) // taken by the loop, which then hangs in the store
	<-w.entered
	const extra = 5
	for i := range queue + extra {
		r.Upload("cam", fmt.Sprintf("/%d", i), 1, time.Now())
	}
	if got := r.Dropped(); got != extra {
		t.Errorf("Dropped = %d, want %d", got, extra)
	}
	close(w.release)
	closeRecorder(t, r)
}

func TestRecorderCountsFailedBatches(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	store.Close() // every write fails
	r, err := activity.New(store, activity.Config{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.Login("cam", netip.Addr{}, time.Now())
	closeRecorder(t, r)
	if r.FailedBatches() != 1 {
		t.Errorf("FailedBatches = %d, want 1", r.FailedBatches())
	}
}

// countingWriter counts the batches it passes on.
type countingWriter struct {
	next activity.Writer
	mu   sync.Mutex
	n    int
}

func (c *countingWriter) RecordActivity(ctx context.Context, u []auth.ActivityUpdate) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.next.RecordActivity(ctx, u)
}

func (c *countingWriter) batches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// blockingWriter hangs until release is closed, as a store that does not answer.
type blockingWriter struct {
	release chan struct{}
	entered chan struct{}
}

func (b *blockingWriter) RecordActivity(ctx context.Context, _ []auth.ActivityUpdate) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
