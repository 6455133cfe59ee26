// Package bench measures what the FTP hop costs: the same work through the
// gateway and straight to the same S3 server with aws-sdk-go-v2, in the same
// run, reported as ratios, never against an absolute threshold.
// TestWorkloads (test/bench/run, docs/performance.md) drives the built
// binary with real FTP clients on the camera, large-file and listing
// workloads; the micro-benchmarks below (go test -bench) run the gateway in
// process on single uploads and downloads.
package bench

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway/gatewaytest"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// newRig starts a gateway in front of srv with one user, "bench", whose
// files go under "ftp/" in the rig's bucket.
func newRig(b *testing.B, srv *s3test.Server) *gatewaytest.Rig {
	b.Helper()
	return gatewaytest.Start(b, srv, gatewaytest.Config{
		Users: []gatewaytest.User{{Name: "bench", Prefix: "ftp/", Perms: auth.AllPermissions}},
	})
}

// servers are the S3 servers the benchmarks run against: the embedded
// store, and versitygw when installed.
func servers(b *testing.B) []*s3test.Server {
	out := []*s3test.Server{s3test.Embedded(b)}
	if s3test.VersityInstalled() {
		out = append(out, s3test.Versity(b))
	}
	return out
}

var sizes = []int{64 << 10, 32 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// eachCase runs bench once for every server and size, with the server's
// rig, a logged-in FTP client and that many random bytes; name is
// "SERVER/SIZE".
func eachCase(b *testing.B, bench func(b *testing.B, name string, r *gatewaytest.Rig, c *ftp.ServerConn, data []byte)) {
	for _, srv := range servers(b) {
		r := newRig(b, srv)
		c := r.Login(b, "bench")
		for _, size := range sizes {
			data := make([]byte, size)
			_, _ = rand.Read(data)
			bench(b, srv.Name+"/"+sizeName(size), r, c, data)
		}
	}
}

// BenchmarkUpload: the same bytes, once with PutObject straight to S3 (the
// baseline: one request from memory), once with FTP STOR through the
// gateway (streamed; multipart above 8 MiB).
func BenchmarkUpload(b *testing.B) {
	eachCase(b, func(b *testing.B, name string, r *gatewaytest.Rig, c *ftp.ServerConn, data []byte) {
		b.Run(name+"/direct", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				r.Objects.Put(b, fmt.Sprintf("direct/%d", i%4), data)
			}
		})
		b.Run(name+"/ftp", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				if err := c.Stor(fmt.Sprintf("f%d", i%4), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkDownload: GetObject straight from S3 against FTP RETR.
func BenchmarkDownload(b *testing.B) {
	eachCase(b, func(b *testing.B, name string, r *gatewaytest.Rig, c *ftp.ServerConn, data []byte) {
		file := sizeName(len(data))
		key := "ftp/" + file
		r.Objects.Put(b, key, data)
		b.Run(name+"/direct", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := r.Objects.Copy(key, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/ftp", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				resp, err := c.Retr(file)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp); err != nil {
					b.Fatal(err)
				}
				if err := resp.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
