package embedded

// Measurements for docs/embedded-store.md: memory while streaming a big
// multipart upload, this store against the two alternatives it was chosen
// over, and what fsync costs a camera's burst of pictures. Reproduce with:
//
//	go test ./storage/embedded/ -run '^TestLargeUploadMemory$' -v
//	go test ./storage/embedded/ -run '^$' -bench 'Concurrent|PeakHeap' -benchtime 1x -count 3
//	go test ./storage/embedded/ -run '^$' -bench CameraBurst -benchtime 1x -count 6

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	jfakes3 "github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
	"github.com/spf13/afero"
)

const (
	bigObject = 256 << 20 // the multipart upload measured
	bigPart   = 8 << 20
	// heapBound is how much the heap may grow while bigObject streams
	// through the embedded store.
	heapBound = 48 << 20
)

// TestLargeUploadMemory uploads a 256 MiB object in 8 MiB parts, generated
// as they are sent, and reads it back, checking that the heap does not grow
// with the object. It does not run in parallel with other tests, whose
// allocations would count.
func TestLargeUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 256 MiB")
	}
	s, _ := startServer(t)
	c := client(s, whenSupported)
	data := newPattern(42)
	_, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("memory")})
	if err != nil {
		t.Fatal(err)
	}

	peak := startHeapPeak()
	began := time.Now()
	if err := uploadMultipart(ctx(t), c, "memory", "big", data, bigObject, bigPart); err != nil {
		t.Fatal(err)
	}
	uploaded := time.Since(began)
	out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String("memory"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	same := sameReader(t, out.Body, data.section(0, bigObject))
	out.Body.Close()
	growth := peak.stop()

	t.Logf("256 MiB multipart upload (8 MiB parts) in %v and read back: peak heap growth %.1f MiB (bound %d MiB)",
		uploaded.Round(time.Millisecond), float64(growth)/(1<<20), heapBound>>20)
	if !same {
		t.Error("the object read back differs")
	}
	if growth > heapBound {
		t.Errorf("heap grew by %.1f MiB, more than %d MiB", float64(growth)/(1<<20), heapBound>>20)
	}
}

// heapPeak samples the heap in use until stopped.
type heapPeak struct {
	base uint64
	done chan struct{}
	max  chan uint64
}

// startHeapPeak starts sampling, from a collected heap.
func startHeapPeak() *heapPeak {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h := &heapPeak{base: m.HeapInuse, done: make(chan struct{}), max: make(chan uint64)}
	go func() {
		peak := m.HeapInuse
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				h.max <- peak
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	return h
}

// stop returns the peak growth of the heap in use since the start.
func (h *heapPeak) stop() uint64 {
	close(h.done)
	return <-h.max - h.base
}

// uploadMultipart uploads size bytes of data as key in parts of partSize.
func uploadMultipart(ctx context.Context, c *s3.Client, bucket, key string, data pattern, size, partSize int64) error {
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+partSize {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(n),
			Body: data.section(off, min(partSize, size-off)),
		})
		if err != nil {
			return fmt.Errorf("part %d: %w", n, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	return nil
}

// store is an S3 server under measurement, with a client for it that
// sends unsigned payloads and no checksums, so as to cost little.
type store struct {
	name   string
	client *s3.Client
}

// stores starts the three stores compared, stopped when b ends.
func stores(b *testing.B) []store {
	b.Helper()
	embedded, _ := startServer(b)

	mem := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server())
	b.Cleanup(mem.Close)

	fs := afero.NewBasePathFs(afero.NewOsFs(), b.TempDir())
	afs, err := s3afero.MultiBucket(fs)
	if err != nil {
		b.Fatal(err)
	}
	aferoSrv := httptest.NewServer(jfakes3.New(afs, jfakes3.WithAutoBucket(true)).Server())
	b.Cleanup(aferoSrv.Close)

	fast := func(endpoint string) *s3.Client {
		return s3.New(newClient(endpoint, testAccessKey, testSecretKey, whenRequired).Options(), unsignedPayload)
	}
	return []store{
		{"embedded", fast(embedded.Endpoint())},
		{"rclone-s3mem", fast(mem.URL)},
		{"johannesboyne-s3afero", fast(aferoSrv.URL)},
	}
}

// BenchmarkConcurrentUploads puts 8 distinct 32 MiB objects one after the
// other, then all at once, and reports how much faster all at once is
// ("speedup"; about 1 for a store that serialises uploads). Clients send as
// fast as they can ("unpaced": client and server share the CPU), or each at
// 64 MiB/s ("paced"), as clients behind a network do.
func BenchmarkConcurrentUploads(b *testing.B) {
	const n, size = 8, 32 << 20
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for _, st := range stores(b) {
		for _, pace := range []struct {
			name string
			rate float64 // bytes per second, 0 for no limit
		}{{"unpaced", 0}, {"paced", 64 << 20}} {
			b.Run(st.name+"/"+pace.name, func(b *testing.B) {
				bucket := "bench" // created on first use
				putOne := func(key string) {
					in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: &pacedReader{r: bytes.NewReader(body), rate: pace.rate}, ContentLength: aws.Int64(size)}
					if _, err := st.client.PutObject(ctx(b), in); err != nil {
						b.Error(err)
					}
				}
				var seq, conc time.Duration
				b.SetBytes(2 * n * size)
				for i := range b.N {
					began := time.Now()
					for j := range n {
						putOne(fmt.Sprintf("seq/%d/%d", i, j))
					}
					seq += time.Since(began)

					began = time.Now()
					var wg sync.WaitGroup
					for j := range n {
						wg.Go(func() { putOne(fmt.Sprintf("conc/%d/%d", i, j)) })
					}
					wg.Wait()
					conc += time.Since(began)
				}
				mb := float64(n*size*b.N) / (1 << 20)
				b.ReportMetric(mb/seq.Seconds(), "seq-MiB/s")
				b.ReportMetric(mb/conc.Seconds(), "conc-MiB/s")
				b.ReportMetric(seq.Seconds()/conc.Seconds(), "speedup")
			})
		}
	}
}

// pacedReader reads r at most at rate bytes per second (0: no limit), like
// a client behind a link of that speed: time spent blocked is not made up
// for later. It can be rewound, as the SDK requires of bodies sent over
// plain HTTP.
type pacedReader struct {
	r    *bytes.Reader
	rate float64
	next time.Time // when what was read has gone through the link
}

// Read implements io.Reader.
func (p *pacedReader) Read(b []byte) (int, error) {
	if p.rate == 0 {
		return p.r.Read(b)
	}
	n, err := p.r.Read(b)
	now := time.Now()
	if p.next.Before(now) {
		p.next = now // the link was idle: no credit for it
	}
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	if wait := p.next.Sub(now); wait > 2*time.Millisecond {
		time.Sleep(wait) // in steps of 2 ms or more: sleeps overshoot
	}
	return n, err
}

// Seek implements io.Seeker.
func (p *pacedReader) Seek(offset int64, whence int) (int64, error) {
	return p.r.Seek(offset, whence)
}

// BenchmarkMultipartPeakHeap uploads a 256 MiB object in 8 MiB parts and
// reports the peak growth of the heap (of client and server together).
func BenchmarkMultipartPeakHeap(b *testing.B) {
	data := newPattern(1)
	for _, st := range stores(b) {
		b.Run(st.name, func(b *testing.B) {
			bucket := "bench" // created on first use
			b.SetBytes(bigObject)
			var peak uint64
			for i := range b.N {
				h := startHeapPeak()
				if err := uploadMultipart(ctx(b), st.client, bucket, fmt.Sprintf("big%d", i), data, bigObject, bigPart); err != nil {
					b.Fatal(err)
				}
				peak = max(peak, h.stop())
				// Let the in-memory stores drop the object before the next
				// round.
				if _, err := st.client.DeleteObject(ctx(b), &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(fmt.Sprintf("big%d", i))}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// BenchmarkCameraBurst puts a camera's burst of 50 pictures of 100 to
// 300 KiB into a new directory, one after the other as one FTP session
// sends them, with fsync on (the default: each picture and its record
// fsynced, and their directories) and off (NoSync), and reports pictures
// per second: over S3 (HTTP on loopback, as the gateway sends them) and
// straight to the Backend (the store's own cost: no HTTP, no client). It
// also reports the wall time per picture during which an fsync was in
// flight ("fsync-ms/picture"), which depends on the disk, not on the CPU
// time that other programs leave. Compare fsync and nosync in the same run:
// the ratio, not the figures.
func BenchmarkCameraBurst(b *testing.B) {
	const pictures = 50
	data := newPattern(7)
	size := func(j int) int64 { return 100<<10 + int64(j)*(200<<10)/(pictures-1) }
	var total int64
	for j := range pictures {
		total += size(j)
	}
	burst := func(b *testing.B, be *Backend, put func(key string, body *io.SectionReader) error) {
		timed := &syncTimer{disk: be.disk}
		be.disk = timed
		b.SetBytes(total)
		for i := range b.N {
			for j := range pictures {
				if err := put(fmt.Sprintf("burst%d/pic%02d.jpg", i, j), data.section(int64(j)<<20, size(j))); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(pictures*b.N)/b.Elapsed().Seconds(), "pictures/s")
		b.ReportMetric(float64(timed.total.Milliseconds())/float64(pictures*b.N), "fsync-ms/picture")
	}
	for _, mode := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run("s3/"+mode.name, func(b *testing.B) {
			s, _ := startServerWith(b, Config{NoSync: mode.noSync})
			c := s3.New(newClient(s.Endpoint(), testAccessKey, testSecretKey, whenRequired).Options(), unsignedPayload)
			bucket := "cameras" // created on first use
			burst(b, s.backend, func(key string, body *io.SectionReader) error {
				_, err := c.PutObject(ctx(b), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body, ContentLength: aws.Int64(body.Size())})
				return err
			})
		})
		b.Run("backend/"+mode.name, func(b *testing.B) {
			be := newTestBackendWith(b, BackendOptions{NoSync: mode.noSync})
			burst(b, be, func(key string, body *io.SectionReader) error {
				_, err := be.PutObject(ctx(b), "bkt", key, map[string]string{}, body, body.Size())
				return err
			})
		})
	}
}

// syncTimer is a disk that adds up the wall time during which at least one
// Sync is in flight (concurrent ones count once).
type syncTimer struct {
	disk
	mu       sync.Mutex
	inFlight int
	since    time.Time
	total    time.Duration
}

// Sync implements disk.
func (d *syncTimer) Sync(name string) error {
	d.mu.Lock()
	if d.inFlight == 0 {
		d.since = time.Now()
	}
	d.inFlight++
	d.mu.Unlock()
	err := d.disk.Sync(name)
	d.mu.Lock()
	if d.inFlight--; d.inFlight == 0 {
		d.total += time.Since(d.since)
	}
	d.mu.Unlock()
	return err
}
