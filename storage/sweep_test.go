package storage_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestSweep leaves multipart uploads behind, as a gateway killed mid-upload
// or an abort refused by S3 does, and checks that Service.Sweep aborts them
// (and only this instance's).
func TestSweep(t *testing.T) {
	for _, srv := range s3test.All(t) {
		t.Run(srv.Name, func(t *testing.T) {
			bucket := srv.NewBucket(t)
			t.Run("failed abort retried", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, srv, bucket, storage.ChecksumsRequired, storage.Settings{PartSize: 5 * mib})
				e.rt.reset(func(op string, _ int) bool { return op == "AbortMultipartUpload" })
				startUpload(t, e.fs, "/big.bin", 11*mib, func(h *storage.Upload) {
					h.Abort(errors.New("client gone"))
					if err := h.Close(); err == nil {
						t.Fatal("Close after Abort succeeded")
					}
				})
				if u := e.Uploads(t); len(u) != 1 {
					t.Fatalf("uploads after a refused abort: %v, want one", u)
				}
				// S3 still refuses: the upload is kept for the next sweep.
				if n, err := e.svc.Sweep(context.Background()); n != 0 || err == nil {
					t.Fatalf("Sweep while S3 refuses = %d, %v; want 0 and an error", n, err)
				}
				if u := e.Uploads(t); len(u) != 1 {
					t.Fatalf("uploads: %v, want one", u)
				}
				e.rt.reset(nil)
				if n, err := e.svc.Sweep(context.Background()); n != 1 || err != nil {
					t.Fatalf("Sweep once S3 answers = %d, %v; want 1, nil", n, err)
				}
				e.nothingAt(t, "big.bin")
				if n, err := e.svc.Sweep(context.Background()); n != 0 || err != nil {
					t.Fatalf("second Sweep = %d, %v; want 0, nil", n, err)
				}
			})
			t.Run("killed gateway", func(t *testing.T) {
				t.Parallel()
				prefix := "u-" + randHex(6) + "/"
				objects := srv.Objects(bucket, prefix)
				journal := filepath.Join(t.TempDir(), "uploads.json")
				instance := func(journal string, rt http.RoundTripper) *storage.Service {
					svc, err := storage.NewService(srv.Client(false, rt), storage.Settings{PartSize: 5 * mib, UploadJournal: journal})
					must(t, "NewService", err)
					t.Cleanup(func() { _ = svc.Close() })
					return svc
				}
				// The killed gateway: its upload started, its parts never
				// arrive (refused by the transport, so none lands late), and
				// nothing closes or aborts it.
				dead := &transport{next: http.DefaultTransport, counts: map[string]int{},
					fail: func(op string, _ int) bool { return op == "UploadPart" }}
				killed := instance(journal, dead)
				startUpload(t, killed.NewFs(context.Background(), bucket, prefix, nil), "/killed.bin", 6*mib, func(*storage.Upload) {})
				if _, err := storage.NewService(srv.Client(false, nil), storage.Settings{UploadJournal: journal}); !errors.Is(err, storage.ErrJournalInUse) {
					t.Fatalf("second Service on a journal in use: %v, want ErrJournalInUse", err)
				}
				must(t, "Close", killed.Close()) // the process dies: its lock goes
				// Another gateway's upload in flight, which must survive.
				other := instance(filepath.Join(t.TempDir(), "uploads.json"), nil).NewFs(context.Background(), bucket, prefix, nil)
				var live *storage.Upload
				startUpload(t, other, "/live.bin", 6*mib, func(h *storage.Upload) { live = h })
				t.Cleanup(func() { live.Abort(errors.New("test over")); _ = live.Close() })

				if u := objects.Uploads(t); len(u) != 2 {
					t.Fatalf("uploads before the restart: %v, want two", u)
				}
				restarted := instance(journal, nil)
				if n, err := restarted.Sweep(context.Background()); n != 1 || err != nil {
					t.Fatalf("Sweep after the restart = %d, %v; want 1, nil", n, err)
				}
				if u := objects.Uploads(t); !slices.Equal(u, []string{prefix + "live.bin"}) {
					t.Fatalf("uploads after the sweep: %v, want only the other gateway's live.bin", u)
				}
				must(t, "Close", restarted.Close())
				if n, err := instance(journal, nil).Sweep(context.Background()); n != 0 || err != nil {
					t.Fatalf("Sweep of an emptied journal = %d, %v; want 0, nil", n, err)
				}
			})
		})
	}
}

// startUpload writes size random bytes to name (enough for a multipart
// upload to start) and hands the open upload to then.
func startUpload(t *testing.T, fsys *storage.Fs, name string, size int, then func(*storage.Upload)) {
	t.Helper()
	h, err := fsys.Upload(name, writeFlags, 0)
	must(t, "Upload", err)
	if _, err := h.Write(randBytes(size)); err != nil {
		t.Fatalf("write: %v", err)
	}
	then(h)
}
