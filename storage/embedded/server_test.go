package embedded

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rclone/gofakes3"
)

func TestStartConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Dir: t.TempDir(), AccessKey: "a", SecretKey: "s"}, true},
		{"no dir", Config{AccessKey: "a", SecretKey: "s"}, false},
		{"no access key", Config{Dir: t.TempDir(), SecretKey: "s"}, false},
		{"no secret key", Config{Dir: t.TempDir(), AccessKey: "a"}, false},
		{"bad listen address", Config{Dir: t.TempDir(), AccessKey: "a", SecretKey: "s", Listen: "127.0.0.1:-1"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Start(ctx(t), tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("Start: %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				if tc.cfg.Dir != "" {
					// A failed start releases the directory.
					b, err := NewBackend(tc.cfg.Dir, discardLogger(), BackendOptions{})
					if err != nil {
						t.Fatalf("NewBackend after a failed Start: %v", err)
					}
					_ = b.Close()
				}
				return
			}
			if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+$`).MatchString(s.Endpoint()) {
				t.Errorf("Endpoint() = %q", s.Endpoint())
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	put(t, client(s, whenSupported), "auth", "k", []byte("v"))
	tests := []struct {
		name, access, secret string
	}{
		{"wrong secret", testAccessKey, "wrong-secret"},
		{"unknown access key", "someone-else", testSecretKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(s.Endpoint(), tc.access, tc.secret, whenSupported)
			_, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String("auth"), Key: aws.String("k")})
			if err == nil {
				t.Fatal("GetObject succeeded")
			}
			_, err = c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String("auth"), Key: aws.String("k2"), Body: strings.NewReader("x")})
			if err == nil {
				t.Fatal("PutObject succeeded")
			}
		})
	}
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Get(s.Endpoint() + "/auth/k")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous GET: %s, want 403", resp.Status)
		}
	})
}

func TestAutoBucket(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	c := client(s, whenRequired)
	put(t, c, "created-on-use", "k", []byte("v"))
	if info, err := os.Stat(filepath.Join(dir, "created-on-use")); err != nil || !info.IsDir() {
		t.Fatalf("bucket directory: %v", err)
	}
	out, err := c.ListBuckets(ctx(t), &s3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "created-on-use" {
		t.Errorf("ListBuckets = %+v, %v", out, err)
	}
}

func TestRestartReapsLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := func() *Server {
		s, err := Start(ctx(t), Config{Dir: dir, AccessKey: testAccessKey, SecretKey: testSecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	if _, err := Start(ctx(t), Config{Dir: dir, AccessKey: testAccessKey, SecretKey: testSecretKey}); !errors.Is(err, ErrInUse) {
		t.Errorf("second Start on the directory: %v, want ErrInUse", err)
	}
	c := client(s, whenSupported)
	bucket, key := "restart", "k"
	put(t, c, bucket, "kept", []byte("kept"))
	up, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")}); err != nil {
		t.Fatal(err)
	}
	// An upload cut off by the shutdown leaves a temporary file.
	s.shutdownTimeout = 100 * time.Millisecond
	body := &blockingBody{size: 1 << 20, release: make(chan struct{})}
	respErr := make(chan error, 1)
	go func() {
		_, err := s3.New(client(s, whenRequired).Options(), unsignedPayload).PutObject(ctx(t), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("cut"), Body: body})
		respErr <- err
	}()
	waitFor(t, func() bool { n, _ := os.ReadDir(filepath.Join(dir, tmpDir)); return len(n) > 0 })
	began := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	close(body.release)
	if err := <-respErr; err == nil {
		t.Error("the upload cut off succeeded")
	}

	s = start()
	defer s.Close()
	for _, d := range []string{tmpDir, uploadsDir} {
		if entries, err := os.ReadDir(filepath.Join(dir, d)); err != nil || len(entries) != 0 {
			t.Errorf("%s after restart holds %v (%v)", d, entries, err)
		}
	}
	c = client(s, whenSupported)
	listed, err := c.ListMultipartUploads(ctx(t), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil || len(listed.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after restart = %+v, %v", listed, err)
	}
	if got := get(t, c, bucket, "kept"); string(got) != "kept" {
		t.Errorf("object after restart = %q", got)
	}
	if _, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("cut")}); err == nil {
		t.Errorf("the upload cut off made an object")
	}
}

// blockingBody is a seekable body of size bytes that sends 4 KiB, then
// waits for release to fail.
type blockingBody struct {
	size    int64
	off     int64
	release chan struct{}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	if b.off >= 4096 {
		<-b.release
		return 0, io.ErrUnexpectedEOF
	}
	n := int(min(int64(len(p)), 4096-b.off))
	clear(p[:n])
	b.off += int64(n)
	return n, nil
}

func (b *blockingBody) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		b.off = offset
	case io.SeekCurrent:
		b.off += offset
	case io.SeekEnd:
		b.off = b.size + offset
	}
	return b.off, nil
}

// waitFor waits up to 10 s for cond.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}

func TestFakerLogLevels(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	l := fakerLog{slog.New(recordHandler(func(r slog.Record) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Level.String()+" "+r.Message)
	}))}
	l.Print(gofakes3.LogErr, "boom", 1)
	l.Print(gofakes3.LogWarn, "careful")
	l.Print(gofakes3.LogInfo, "GET", "b", "k")
	want := []string{"ERROR embedded store: boom 1", "WARN embedded store: careful", "DEBUG embedded store: GET b k"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logged %q, want %q", got, want)
	}
}

// recordHandler passes every record to a function.
type recordHandler func(slog.Record)

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h(r)
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func TestBucketNamesCannotEscape(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := NewBackend(filepath.Join(dir, "data"), discardLogger(), BackendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// No authentication, so that the requests reach the backend.
	ts := httptest.NewServer(gofakes3.New(b, gofakes3.WithAutoBucket(true)).Server())
	defer ts.Close()
	for _, p := range []string{"/../escape/k", "/..%2Fescape/k", "/.s3ftp/k", "/UPPER/k", "/x/k", "/%2e%2e/k"} {
		req, err := http.NewRequest(http.MethodPut, ts.URL+p, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("PUT %s: %s", p, resp.Status)
		}
	}
	assertOnlyUnder(t, filepath.Join(dir, "data"), stateDir)
}
