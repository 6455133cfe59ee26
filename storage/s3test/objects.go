package s3test

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Objects reads and writes the objects of one bucket under a key prefix
// straight through S3, for tests to set up and check what a gateway or an
// Fs stored. Keys given to its methods are relative to Prefix.
type Objects struct {
	API    *s3.Client
	Bucket string
	Prefix string // "" for the whole bucket
}

// Objects returns the helpers for bucket under prefix, with a client of s
// that sends checksums only when required.
func (s *Server) Objects(bucket, prefix string) Objects {
	return Objects{API: s.Client(false, nil), Bucket: bucket, Prefix: prefix}
}

// Copy writes the object at key to w and returns its size.
func (o Objects) Copy(key string, w io.Writer) (int64, error) {
	k := o.Prefix + key
	out, err := o.API.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &o.Bucket, Key: &k})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return io.Copy(w, out.Body)
}

// Get returns the bytes of the object at key, or an error.
func (o Objects) Get(key string) ([]byte, error) {
	var b bytes.Buffer
	_, err := o.Copy(key, &b)
	return b.Bytes(), err
}

// Put stores data at key with one PutObject, failing the test on error.
func (o Objects) Put(t testing.TB, key string, data []byte) {
	t.Helper()
	k := o.Prefix + key
	_, err := o.API.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &o.Bucket, Key: &k, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
}

// Keys returns every key under the prefix, relative to it, sorted.
func (o Objects) Keys(t testing.TB) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(o.API, &s3.ListObjectsV2Input{Bucket: &o.Bucket, Prefix: o.prefix()})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, obj := range out.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(obj.Key), o.Prefix))
		}
	}
	sort.Strings(keys)
	return keys
}

// Uploads returns the keys of the multipart uploads in progress under the
// prefix.
func (o Objects) Uploads(t testing.TB) []string {
	t.Helper()
	out, err := o.API.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &o.Bucket, Prefix: o.prefix()})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// NothingAt fails the test if an object exists at key or a multipart upload
// is in progress under the prefix: what a failed or aborted upload leaves.
func (o Objects) NothingAt(t testing.TB, key string) {
	t.Helper()
	if _, err := o.Get(key); err == nil {
		t.Errorf("object %s exists, want none", o.Prefix+key)
	}
	if u := o.Uploads(t); len(u) != 0 {
		t.Errorf("multipart uploads left: %v", u)
	}
}

// prefix returns the prefix of a listing request: none for the whole bucket.
func (o Objects) prefix() *string {
	if o.Prefix == "" {
		return nil
	}
	return &o.Prefix
}
