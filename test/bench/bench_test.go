// Package bench measures what the FTP hop costs: uploading and downloading
// through the gateway against the same bytes sent straight to the same S3
// server with aws-sdk-go-v2, in the same run. Report the ratio of the two
// (see docs/performance.md and test/bench/run); never an absolute threshold.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

const benchPassword = "bench-password"

// rig is a gateway in front of one S3 server, with one user, and a direct
// client of that server.
type rig struct {
	direct *s3.Client
	bucket string
	addr   string
}

func newRig(b *testing.B, srv *s3test.Server) *rig {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	bucket := srv.NewBucket(b)
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "users.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	hash, err := auth.HashPassword(benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	u := &auth.User{Name: "bench", PasswordHash: hash, Bucket: bucket, Prefix: "ftp/", Permissions: auth.AllPermissions}
	if err := u.Validate(); err != nil {
		b.Fatal(err)
	}
	if err := store.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	authn, err := auth.NewAuthenticator(store, auth.AuthenticatorConfig{})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := storage.NewService(srv.Client(false, nil), storage.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gw, err := gateway.New(gateway.Config{
		Settings:      gateway.Settings{Listener: l},
		Authenticator: authn,
		NewFs: func(ctx context.Context, bucket, prefix string, log *slog.Logger) gateway.FileSystem {
			return svc.NewFs(ctx, bucket, prefix, log)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Listen(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return &rig{direct: srv.Client(false, nil), bucket: bucket, addr: gw.Addr()}
}

func (r *rig) login(b *testing.B) *ftp.ServerConn {
	b.Helper()
	c, err := ftp.Dial(r.addr, ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Login("bench", benchPassword); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Quit() })
	return c
}

func (r *rig) putDirect(b *testing.B, key string, data []byte) {
	b.Helper()
	_, err := r.direct.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &r.bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		b.Fatal(err)
	}
}

func (r *rig) getDirect(b *testing.B, key string) int64 {
	b.Helper()
	out, err := r.direct.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &r.bucket, Key: &key})
	if err != nil {
		b.Fatal(err)
	}
	defer out.Body.Close()
	n, err := io.Copy(io.Discard, out.Body)
	if err != nil {
		b.Fatal(err)
	}
	return n
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

// BenchmarkUpload: the same bytes, once with PutObject straight to S3 (the
// baseline: one request from memory), once with FTP STOR through the
// gateway (streamed; multipart above 8 MiB).
func BenchmarkUpload(b *testing.B) {
	for _, srv := range servers(b) {
		r := newRig(b, srv)
		c := r.login(b)
		for _, size := range sizes {
			data := make([]byte, size)
			_, _ = rand.Read(data)
			b.Run(srv.Name+"/"+sizeName(size)+"/direct", func(b *testing.B) {
				b.SetBytes(int64(size))
				for i := 0; b.Loop(); i++ {
					r.putDirect(b, fmt.Sprintf("direct/%d", i%4), data)
				}
			})
			b.Run(srv.Name+"/"+sizeName(size)+"/ftp", func(b *testing.B) {
				b.SetBytes(int64(size))
				for i := 0; b.Loop(); i++ {
					if err := c.Stor(fmt.Sprintf("f%d", i%4), bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDownload: GetObject straight from S3 against FTP RETR.
func BenchmarkDownload(b *testing.B) {
	for _, srv := range servers(b) {
		r := newRig(b, srv)
		c := r.login(b)
		for _, size := range sizes {
			data := make([]byte, size)
			_, _ = rand.Read(data)
			key := "ftp/" + sizeName(size)
			r.putDirect(b, key, data)
			b.Run(srv.Name+"/"+sizeName(size)+"/direct", func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					r.getDirect(b, key)
				}
			})
			b.Run(srv.Name+"/"+sizeName(size)+"/ftp", func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					resp, err := c.Retr(sizeName(size))
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
		}
	}
}
