package bench

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"
)

const listDir = "list" // the listed directory, at the FTP user's root

// listWorkload: jlaffaye/ftp listing the directory of -bench.objects files
// with command (LIST or MLSD), timed from the command to its 226, against
// ListObjectsV2 pages (delimiter "/") straight from S3. The figure is the
// listing's time in seconds.
func listWorkload(name, command string) workload {
	return workload{
		Name: name, Unit: "s",
		Setup: fillListDir,
		FTP: func(t *testing.T, r *rig, rep int) run {
			var d time.Duration
			err := r.gw.session(func(c *ftp.ServerConn) error {
				t0 := time.Now()
				entries, err := c.List(listDir)
				d = time.Since(t0)
				if err == nil && len(entries) != r.sz.Objects {
					err = fmt.Errorf("%s listed %d entries of %d", command, len(entries), r.sz.Objects)
				}
				return err
			}, ftp.DialWithDisabledMLSD(command == "LIST"))
			if err != nil {
				return run{Failed: []error{err}}
			}
			return run{Value: d.Seconds(), Items: 1}
		},
		Direct: func(t *testing.T, r *rig, rep int) run {
			t0 := time.Now()
			n, err := listAll(r.direct, r.bucket, ftpPrefix+listDir+"/")
			d := time.Since(t0)
			if err == nil && n != r.sz.Objects {
				err = fmt.Errorf("ListObjectsV2 listed %d objects of %d", n, r.sz.Objects)
			}
			if err != nil {
				return run{Failed: []error{err}}
			}
			return run{Value: d.Seconds(), Items: 1}
		},
	}
}

// fillListDir puts -bench.objects small objects in the listed directory
// (16 at a time), unless it holds them already.
func fillListDir(t *testing.T, r *rig) {
	t.Helper()
	prefix := ftpPrefix + listDir + "/"
	if n, err := listAll(r.check, r.bucket, prefix); err != nil || n == r.sz.Objects {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				key := fmt.Sprintf("%simg%05d.jpg", prefix, i)
				_, err := r.check.PutObject(ctx, &s3.PutObjectInput{Bucket: &r.bucket, Key: &key, Body: bytes.NewReader([]byte(key))})
				cancel()
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range r.sz.Objects {
		work <- i
	}
	close(work)
	wg.Wait()
	if first != nil {
		t.Fatalf("fill %s: %v", prefix, first)
	}
}

// listAll lists prefix page by page (delimiter "/") and returns the number
// of objects.
func listAll(c *s3.Client, bucket, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := 0
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, Delimiter: aws.String("/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("ListObjectsV2 %s: %w", prefix, err)
		}
		n += len(page.Contents)
	}
	return n, nil
}
