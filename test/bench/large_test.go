package bench

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jlaffaye/ftp"
)

// The direct baseline's multipart upload and ranged GETs: parts of
// directPart bytes, directConcurrency at a time.
const (
	directPart        = 8 << 20
	directConcurrency = 4
)

const largeName = "big.bin" // the large file, at the FTP user's root

// largeFile is the large file's local copy (pseudo-random bytes).
type largeFile struct {
	Path string
	Size int64
	Sum  [sha256.Size]byte
}

// largeLocal writes the large file on first use.
func (r *rig) largeLocal(t *testing.T) *largeFile {
	t.Helper()
	if r.large != nil {
		return r.large
	}
	f, err := os.Create(filepath.Join(r.tmp, largeName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(io.MultiWriter(f, h), src, r.sz.Large); err != nil {
		t.Fatal(err)
	}
	r.large = &largeFile{Path: f.Name(), Size: r.sz.Large, Sum: [sha256.Size]byte(h.Sum(nil))}
	return r.large
}

// mbps is a run of n bytes in d as MB/s (10⁶ bytes).
func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// storWorkload: STOR of the large file with jlaffaye/ftp (passive), timed
// from the STOR to its 226, against a multipart upload straight to S3.
func storWorkload() workload {
	return workload{
		Name: "stor", Unit: "MB/s",
		Setup: func(t *testing.T, r *rig) { r.largeLocal(t) },
		FTP: func(t *testing.T, r *rig, rep int) run {
			l := r.largeLocal(t)
			var d time.Duration
			err := r.gw.session(func(c *ftp.ServerConn) error {
				f, err := os.Open(l.Path)
				if err != nil {
					return err
				}
				defer f.Close()
				t0 := time.Now()
				err = c.Stor(largeName, f)
				d = time.Since(t0)
				return err
			})
			if err != nil {
				return run{Failed: []error{err}}
			}
			return run{Value: mbps(l.Size, d), Items: 1, Acked: []file{{Key: ftpPrefix + largeName, Size: l.Size, Sum: l.Sum}}}
		},
		Direct: func(t *testing.T, r *rig, rep int) run {
			l := r.largeLocal(t)
			key := directPrefix + largeName
			t0 := time.Now()
			err := multipartUpload(r.direct, r.bucket, key, l)
			d := time.Since(t0)
			if err != nil {
				return run{Failed: []error{err}}
			}
			return run{Value: mbps(l.Size, d), Items: 1, Acked: []file{{Key: key, Size: l.Size, Sum: l.Sum}}}
		},
		Cleanup: []string{directPrefix},
	}
}

// retrWorkload: RETR of the large file with jlaffaye/ftp (passive), timed
// from the RETR to its 226, against ranged GETs of the same object
// straight from S3.
func retrWorkload() workload {
	return workload{
		Name: "retr", Unit: "MB/s",
		Setup: func(t *testing.T, r *rig) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			key := ftpPrefix + largeName
			if _, err := r.check.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.bucket, Key: &key}); err == nil {
				return // left by stor
			}
			if err := multipartUpload(r.check, r.bucket, key, r.largeLocal(t)); err != nil {
				t.Fatal(err)
			}
		},
		FTP: func(t *testing.T, r *rig, rep int) run {
			var d time.Duration
			err := r.gw.session(func(c *ftp.ServerConn) error {
				t0 := time.Now()
				resp, err := c.Retr(largeName)
				if err != nil {
					return err
				}
				n, err := io.Copy(io.Discard, resp)
				if err := cmp.Or(err, resp.Close()); err != nil {
					return err
				}
				d = time.Since(t0)
				if n != r.sz.Large {
					return fmt.Errorf("RETR %s: %d bytes of %d", largeName, n, r.sz.Large)
				}
				return nil
			})
			if err != nil {
				return run{Failed: []error{err}}
			}
			return run{Value: mbps(r.sz.Large, d), Items: 1}
		},
		Direct: func(t *testing.T, r *rig, rep int) run {
			t0 := time.Now()
			err := rangedGet(r.direct, r.bucket, ftpPrefix+largeName, r.sz.Large)
			d := time.Since(t0)
			if err != nil {
				return run{Failed: []error{err}}
			}
			return run{Value: mbps(r.sz.Large, d), Items: 1}
		},
		Cleanup: []string{ftpPrefix + largeName},
	}
}

// parallel calls do(offset, length) for each directPart of size bytes,
// directConcurrency at a time, and returns the first error.
func parallel(size int64, do func(part int32, off, n int64) error) error {
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, directConcurrency)
	var wg sync.WaitGroup
	for part, off := int32(1), int64(0); off < size; part, off = part+1, off+directPart {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := do(part, off, min(directPart, size-off)); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// multipartUpload uploads l as key with parts sent in parallel.
func multipartUpload(c *s3.Client, bucket, key string, l *largeFile) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	f, err := os.Open(l.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("CreateMultipartUpload: %w", err)
	}
	parts := make([]types.CompletedPart, (l.Size+directPart-1)/directPart)
	err = parallel(l.Size, func(part int32, off, n int64) error {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(part), Body: io.NewSectionReader(f, off, n)})
		if err != nil {
			return fmt.Errorf("UploadPart %d: %w", part, err)
		}
		parts[part-1] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(part)}
		return nil
	})
	if err == nil {
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	if err != nil {
		_, _ = c.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId})
		return fmt.Errorf("multipart upload of %s: %w", key, err)
	}
	return nil
}

// rangedGet reads key's size bytes with ranged GETs in parallel and
// discards them.
func rangedGet(c *s3.Client, bucket, key string, size int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	return parallel(size, func(_ int32, off, n int64) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))})
		if err != nil {
			return fmt.Errorf("GetObject %s at %d: %w", key, off, err)
		}
		defer out.Body.Close()
		got, err := io.Copy(io.Discard, out.Body)
		if err == nil && got != n {
			err = fmt.Errorf("GetObject %s at %d: %d bytes of %d", key, off, got, n)
		}
		return err
	})
}
