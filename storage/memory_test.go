package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestUploadMemory: concurrent uploads, large and small, share the
// process-wide budget: the buffers in use never exceed it (uploads wait for
// one instead), every upload completes with its bytes, and every buffer is
// given back.
func TestUploadMemory(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	bucket := srv.NewBucket(t)
	const budget = 12 * mib // one upload's worth: (1+1) × 5 MiB + 1 MiB, and a little
	e := newEnv(t, srv, bucket, storage.ChecksumsRequired, storage.Settings{PartSize: 5 * mib, Concurrency: 1, UploadMemory: budget})

	var peak atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			peak.Store(max(peak.Load(), storage.UploadMemoryInUse(e.svc)))
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	files := map[string][]byte{}
	for i := range 6 {
		files[fmt.Sprintf("/big-%d.mp4", i)] = randBytes(11 * mib)
		files[fmt.Sprintf("/pic-%d.jpg", i)] = randBytes(200 << 10)
	}
	var wg sync.WaitGroup
	for name, data := range files {
		wg.Go(func() {
			if err := writeThrough(e.fs, name, data); err != nil {
				t.Errorf("upload %s: %v", name, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-watched
	if p := peak.Load(); p > budget {
		t.Errorf("upload buffers peaked at %d bytes, over the budget of %d", p, budget)
	}
	if n := storage.UploadMemoryInUse(e.svc); n != 0 {
		t.Errorf("%d bytes of upload buffers not given back", n)
	}
	for name, data := range files {
		if got, err := e.object(name[1:]); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: stored %d bytes (%v), want %d", name, len(got), err, len(data))
		}
	}
	t.Logf("peak %d of %d bytes", peak.Load(), budget)
}

// TestUploadMemoryWait: an upload that finds the budget spent waits at
// most PartTimeout, then fails and stores nothing; a budget below one
// upload's needs is refused.
func TestUploadMemoryWait(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	bucket := srv.NewBucket(t)
	set := storage.Settings{PartSize: 5 * mib, Concurrency: 1, UploadMemory: 11 * mib, PartTimeout: time.Second}
	e := newEnv(t, srv, bucket, storage.ChecksumsRequired, set)
	// Two uploads each hold a full part buffer (sent only when more data
	// comes): 10 of the 11 MiB.
	var holders []*storage.Upload
	for i := range 2 {
		h, err := e.fs.Upload(fmt.Sprintf("/holder-%d.bin", i), writeFlags, 0)
		must(t, "upload", err)
		_, err = h.Write(randBytes(5 * mib))
		must(t, "write", err)
		holders = append(holders, h)
	}

	waiter, err := e.fs.Upload("/waiter.bin", writeFlags, 0)
	must(t, "upload", err)
	_, err = waiter.Write(randBytes(6 * mib))
	if !errors.Is(err, storage.ErrBackend) {
		t.Errorf("write with the budget spent: %v, want ErrBackend after the wait", err)
	}
	waiter.Abort(err)
	if err := waiter.Close(); err == nil {
		t.Error("close of the upload that got no memory succeeded")
	}
	for _, h := range holders {
		must(t, "close holder", h.Close())
	}
	e.nothingAt(t, "waiter.bin")
	if n := storage.UploadMemoryInUse(e.svc); n != 0 {
		t.Errorf("%d bytes of upload buffers not given back", n)
	}

	set.UploadMemory = 10 * mib
	if err := set.Validate(); err == nil {
		t.Error("an upload-memory below one upload's needs was accepted")
	}
}

// TestUploadFirstBuffer: a session's upload starts with the buffer its
// last single-request upload needed (at most 1 MiB), instead of growing one
// from 64 KiB and copying it for every picture; a multipart or failed
// upload changes nothing.
func TestUploadFirstBuffer(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	bucket := srv.NewBucket(t)
	e := newEnv(t, srv, bucket, storage.ChecksumsRequired, storage.Settings{})
	for _, c := range []struct {
		last int   // bytes of the upload before, 0: none
		want int64 // the next upload's first buffer
	}{
		{0, 64 << 10},
		{200 << 10, 256 << 10},
		{9 << 20, 256 << 10}, // multipart: no change
		{3 << 20, 1 << 20},
		{10, 64 << 10},
	} {
		if c.last > 0 {
			if err := writeThrough(e.fs, "/last.jpg", randBytes(c.last)); err != nil {
				t.Fatal(err)
			}
		}
		u, err := e.fs.Upload("/next.jpg", writeFlags, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		got := storage.UploadMemoryInUse(e.svc)
		u.Abort(errors.New("test over"))
		_ = u.Close()
		if got != c.want {
			t.Errorf("after an upload of %d bytes: the next starts with %d bytes, want %d", c.last, got, c.want)
		}
	}
}
