package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// chunked makes downloads use ranged GETs of 256 KiB, 3 at once.
var chunked = storage.Settings{DownloadConcurrency: 3, DownloadChunkSize: 256 << 10}

const chunk = 256 << 10

// TestDownloadRanges: downloads in parallel ranges give the object's bytes
// (SHA-256) from every offset, through Read and WriteTo, on every server.
func TestDownloadRanges(t *testing.T) {
	for _, srv := range s3test.All(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, srv.NewBucket(t), storage.ChecksumsRequired, chunked)
			for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 7*chunk + 123} {
				data := randBytes(size)
				name := fmt.Sprintf("/f%d.bin", size)
				e.upload(t, name, data)
				for _, off := range []int{0, 1, chunk, size - 1, size} {
					if off < 0 || off > size {
						continue
					}
					if got := e.download(t, name, int64(off)); sum(got) != sum(data[off:]) {
						t.Errorf("%s from %d, Read: %d bytes, want %d (SHA-256 differs)", name, off, len(got), size-off)
					}
					var buf bytes.Buffer
					h, err := e.fs.Download(name, int64(off))
					must(t, "open", err)
					n, err := h.WriteTo(&buf)
					must(t, "write to", err)
					must(t, "close", h.Close())
					if n != int64(size-off) || sum(buf.Bytes()) != sum(data[off:]) {
						t.Errorf("%s from %d, WriteTo: %d bytes, want %d (SHA-256 differs)", name, off, n, size-off)
					}
				}
			}
		})
	}
}

// inFlight counts the GETs whose answer is being read, and the most at once.
type inFlight struct {
	next     http.RoundTripper
	mu       sync.Mutex
	now, max int
}

func (f *inFlight) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || req.Header.Get("Range") == "" {
		return resp, err
	}
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
	resp.Body = &countedBody{ReadCloser: resp.Body, f: f}
	return resp, nil
}

type countedBody struct {
	io.ReadCloser
	f    *inFlight
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() {
		b.f.mu.Lock()
		b.f.now--
		b.f.mu.Unlock()
	})
	return b.ReadCloser.Close()
}

// TestDownloadMemoryBound: a download of 20 chunks, read in small pieces,
// never has more than DownloadConcurrency ranged GETs open and never
// makes more than DownloadConcurrency chunk buffers.
func TestDownloadMemoryBound(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	e := newEnv(t, srv, srv.NewBucket(t), storage.ChecksumsRequired, chunked)
	data := randBytes(20 * chunk)
	e.upload(t, "/big.bin", data)
	count := &inFlight{next: http.DefaultTransport}
	svc, err := storage.NewService(srv.Client(false, count), chunked)
	must(t, "service", err)
	fsys := svc.NewFs(t.Context(), e.bucket, e.prefix, nil)
	h, err := fsys.Download("/big.bin", 0)
	must(t, "open", err)
	got, err := io.ReadAll(io.LimitReader(struct{ io.Reader }{h}, int64(len(data)))) // small reads
	must(t, "read", err)
	buffers := storage.DownloadBuffers(h)
	must(t, "close", h.Close())
	if sum(got) != sum(data) {
		t.Fatalf("downloaded %d bytes, SHA-256 differs", len(got))
	}
	if buffers > 3*chunk || buffers == 0 {
		t.Errorf("buffers made: %d bytes, want at most 3 × %d", buffers, chunk)
	}
	count.mu.Lock()
	defer count.mu.Unlock()
	if count.max > 3 || count.now != 0 {
		t.Errorf("ranged GETs open: at most %d at once (want ≤ 3), %d left open", count.max, count.now)
	}
	t.Logf("20 chunks of %d bytes: %d bytes of buffers, at most %d GETs at once", chunk, buffers, count.max)
}

// TestDownloadMemoryShared: downloads take their chunk buffers from the
// process-wide budget (UploadMemory) only while they hold at most half of
// it: of many downloads open at once, those that find no room are read
// with one GET, every one gives the object's bytes, and all the memory
// comes back when they are closed.
func TestDownloadMemoryShared(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	set := storage.Settings{PartSize: 5 << 20, Concurrency: 1, UploadMemory: 12 << 20, DownloadConcurrency: 3, DownloadChunkSize: chunk}
	e := newEnv(t, srv, srv.NewBucket(t), storage.ChecksumsRequired, set)
	data := randBytes(8 * chunk)
	e.upload(t, "/big.bin", data)
	var open []*storage.Download
	var inRanges, streamed int
	for range 12 { // 12 × 3 chunks of 256 KiB: 9 MiB, where downloads may take 6
		h, err := e.fs.Download("/big.bin", 0)
		must(t, "open", err)
		open = append(open, h)
		if storage.DownloadBuffers(h) > 0 {
			inRanges++
		} else {
			streamed++
		}
		if used := storage.UploadMemoryInUse(e.svc); used > 6<<20 {
			t.Fatalf("%d downloads open hold %d bytes, more than half of the 12 MiB budget", len(open), used)
		}
	}
	if inRanges == 0 || streamed == 0 {
		t.Errorf("%d downloads in ranges, %d streamed: want both once the budget's half is taken", inRanges, streamed)
	}
	for i, h := range open {
		got, err := io.ReadAll(h)
		must(t, "read", err)
		must(t, "close", h.Close())
		if sum(got) != sum(data) {
			t.Errorf("download %d: %d bytes, SHA-256 differs", i, len(got))
		}
	}
	if used := storage.UploadMemoryInUse(e.svc); used != 0 {
		t.Errorf("%d bytes still in use after every download was closed", used)
	}
	t.Logf("12 downloads of 8 chunks opened at once: %d in ranges, %d streamed", inRanges, streamed)
}

// TestDownloadRangeFails: a range that S3 fails, or that finds the object
// replaced, fails the download after the bytes before it: never a silent
// truncation or a mix of two versions.
func TestDownloadRangeFails(t *testing.T) {
	for _, srv := range s3test.All(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, srv.NewBucket(t), storage.ChecksumsRequired, storage.Settings{DownloadConcurrency: 2, DownloadChunkSize: chunk})
			data := randBytes(10 * chunk)
			e.upload(t, "/f.bin", data)
			check := func(what string, got []byte, err, want error) {
				t.Helper()
				if !errors.Is(err, want) {
					t.Errorf("%s: error %v, want %v", what, err, want)
				}
				if len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
					t.Errorf("%s: got %d bytes, want a prefix of the object's %d", what, len(got), len(data))
				}
			}

			e.rt.reset(func(op string, n int) bool { return op == "GetObject" && n >= 4 })
			h, err := e.fs.Download("/f.bin", 0)
			must(t, "open", err)
			got, err := io.ReadAll(h)
			must(t, "close", h.Close())
			check("GETs failing from the 4th", got, err, storage.ErrBackend)
			e.rt.reset(nil)

			h, err = e.fs.Download("/f.bin", chunk/2)
			must(t, "open", err)
			buf := make([]byte, chunk)
			n, err := io.ReadFull(h, buf) // the first range read; the next two requested
			must(t, "read", err)
			e.put(t, "f.bin", randBytes(len(data)))
			rest, err := io.ReadAll(h)
			must(t, "close", h.Close())
			check("object replaced", append(append(data[:chunk/2:chunk/2], buf[:n]...), rest...), err, storage.ErrChanged)
		})
	}
}
