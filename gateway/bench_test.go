package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// BenchmarkRetr256MiB downloads a 256 MiB file from versitygw straight
// with one GetObject (direct) and through the gateway with RETR (ftp),
// with the default download settings (one streaming GET) and parallel
// ranges (concurrency × chunk size). Figures: docs/performance.md, Downloads.
func BenchmarkRetr256MiB(b *testing.B) {
	srv := s3test.Versity(b)
	data := bytes.Repeat([]byte("0123456789abcdef"), 16<<20)
	c := srv.Client(false, nil)
	put := func(bucket string) {
		if _, err := c.PutObject(b.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("alice/big.bin"), Body: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
	bucket := srv.NewBucket(b)
	put(bucket)
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			out, err := c.GetObject(b.Context(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("alice/big.bin")})
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, out.Body); err != nil || n != int64(len(data)) {
				b.Fatal(n, err)
			}
			out.Body.Close()
		}
	})
	for _, set := range []storage.Settings{{}, {DownloadConcurrency: 1}, {DownloadConcurrency: 4, DownloadChunkSize: 4 << 20}, {DownloadConcurrency: 4, DownloadChunkSize: 16 << 20}} {
		name := "ftp-default"
		switch {
		case set.DownloadConcurrency == 1:
			name = "ftp-one-stream"
		case set.DownloadConcurrency != 0:
			name = fmt.Sprintf("ftp-%dx%dMiB", set.DownloadConcurrency, set.DownloadChunkSize>>20)
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, srv, envOptions{storage: set})
			put(e.bucket)
			fc := e.dial(b, "alice", true)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := fc.Retr("big.bin")
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(data)) {
					b.Fatal(n, err)
				}
				if err := r.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkList10000 lists a directory of 10,000 objects on versitygw
// straight with ListObjectsV2 pages (direct) and through the gateway
// with LIST (ftp). Figures: docs/performance.md, Listings.
func BenchmarkList10000(b *testing.B) {
	srv := s3test.Versity(b)
	e := newEnv(b, srv, envOptions{})
	want := len(fillDir(b, srv, e.bucket, 10000))
	c := srv.Client(false, nil)
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			n := 0
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &e.bucket, Prefix: aws.String("alice/big/"), Delimiter: aws.String("/")})
			for p.HasMorePages() {
				out, err := p.NextPage(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				n += len(out.Contents) + len(out.CommonPrefixes)
			}
			if n != want {
				b.Fatalf("%d entries, want %d", n, want)
			}
		}
	})
	b.Run("ftp", func(b *testing.B) {
		fc := e.dial(b, "alice", true)
		for b.Loop() {
			entries, err := fc.List("big")
			if err != nil || len(entries) != want {
				b.Fatalf("%d entries, want %d: %v", len(entries), want, err)
			}
		}
	})
}
