package storage_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// headerRecorder records the X-Amz-Content-Sha256 header of each PutObject.
type headerRecorder struct {
	mu     sync.Mutex
	hashes []string
}

func (r *headerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if s3test.Operation(req) == "PutObject" {
		r.mu.Lock()
		r.hashes = append(r.hashes, req.Header.Get("X-Amz-Content-Sha256"))
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *headerRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hashes) == 0 {
		return ""
	}
	return r.hashes[len(r.hashes)-1]
}

// TestPayloadHash: a single-request upload is signed with the SHA-256 the
// writer computed, which the SDK then does not compute again (a value given
// to the request is the one sent, even a wrong one), and a plain upload
// sends its body's true SHA-256.
func TestPayloadHash(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	bucket := srv.NewBucket(t)
	rec := &headerRecorder{}
	client := srv.Client(false, rec)

	given := strings.Repeat("ab", 32)
	_, _ = client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &bucket, Key: aws.String("given"), Body: bytes.NewReader([]byte("picture")), ContentLength: aws.Int64(7),
	}, storage.WithPayloadHash(given))
	if got := rec.last(); got != given {
		t.Errorf("payload hash sent %q, want the one given %q: the SDK hashed the body itself", got, given)
	}

	svc, err := storage.NewService(client, storage.Settings{})
	must(t, "new service", err)
	fsys := svc.NewFs(context.Background(), bucket, "u/", nil)
	data := randBytes(200 << 10)
	must(t, "upload", writeThrough(fsys, "/cam.jpg", data))
	if got := rec.last(); got != sum(data) {
		t.Errorf("upload signed with payload hash %q, want the body's SHA-256 %s", got, sum(data))
	}
}
