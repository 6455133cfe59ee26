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
