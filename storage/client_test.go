package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// recorder is a RequestObserver that keeps what it is told.
type recorder struct {
	mu  sync.Mutex
	ops []string // "Operation:code"
}

func (r *recorder) S3Request(op string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op+":"+storage.ErrorCode(err))
}

// TestNewClient: the client NewClient builds (with AWS_CA_BUNDLE possibly
// set in the environment) talks to a real server, resolves the checksum
// mode, and reports every operation to its observer.
func TestNewClient(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	bucket := srv.NewBucket(t)
	rec := &recorder{}
	client, mode, err := storage.NewClient(context.Background(), storage.ClientConfig{
		Endpoint: srv.Endpoint, PathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Observer: rec,
	})
	must(t, "new client", err)
	if mode != storage.ChecksumsRequired {
		t.Errorf("auto mode with a custom endpoint = %s, want when_required", mode)
	}
	_, err = client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("missing")})
	if err == nil {
		t.Fatal("HEAD of a missing key succeeded")
	}
	_, err = client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket})
	must(t, "list", err)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ops) != 2 || rec.ops[0] != "HeadObject:NotFound" || rec.ops[1] != "ListObjectsV2:" {
		t.Errorf("observed %v, want [HeadObject:NotFound ListObjectsV2:]", rec.ops)
	}
	for _, bad := range []storage.ClientConfig{
		{Endpoint: srv.Endpoint, AccessKey: "only-half"},
		{Endpoint: srv.Endpoint, Checksums: "sometimes"},
	} {
		if _, _, err := storage.NewClient(context.Background(), bad); err == nil {
			t.Errorf("NewClient(%+v) succeeded", bad)
		}
	}
}
