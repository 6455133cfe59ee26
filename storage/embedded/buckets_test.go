package embedded

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rclone/gofakes3"
)

func TestBuckets(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t) // has "bkt"
	for _, tc := range []struct {
		name string
		code gofakes3.ErrorCode
	}{
		{"bkt", ""}, // exists: succeeds, as on S3 in us-east-1
		{"..", gofakes3.ErrInvalidBucketName},
		{".s3ftp", gofakes3.ErrInvalidBucketName},
		{"a/b", gofakes3.ErrInvalidBucketName},
		{"Upper", gofakes3.ErrInvalidBucketName},
		{"second", ""},
	} {
		if err := b.CreateBucket(ctx(t), tc.name); errCode(err) != tc.code {
			t.Errorf("CreateBucket(%q): %v, want %s", tc.name, err, tc.code)
		}
	}
	for name, want := range map[string]bool{"bkt": true, "second": true, "missing": false, "..": false, ".s3ftp": false, ".": false} {
		if got, err := b.BucketExists(ctx(t), name); got != want || err != nil {
			t.Errorf("BucketExists(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if err := b.root.WriteFile("a-file", nil, filePerm); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx(t), "a-file"); errCode(err) != gofakes3.ErrBucketAlreadyExists {
		t.Errorf("CreateBucket over a file: %v", err)
	}
	buckets, err := b.ListBuckets(ctx(t))
	if err != nil || len(buckets) != 2 || buckets[0].Name == buckets[1].Name {
		t.Errorf("ListBuckets = %+v, %v; want bkt and second", buckets, err)
	}
}

func TestDeleteBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		keys  []string
		ghost string // an empty directory left by hand
		code  gofakes3.ErrorCode
	}{
		{"empty", nil, "", ""},
		{"empty directories only", nil, "x/y/z", ""},
		{"object", []string{"a/b"}, "", gofakes3.ErrBucketNotEmpty},
		{"marker", []string{"m/"}, "", gofakes3.ErrBucketNotEmpty},
		{"deep marker", []string{"p/q/"}, "p/r", gofakes3.ErrBucketNotEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newTestBackend(t)
			for _, k := range tc.keys {
				mustPut(t, b, "bkt", k, nil)
			}
			if tc.ghost != "" {
				if err := b.root.MkdirAll("bkt/"+tc.ghost, dirPerm); err != nil {
					t.Fatal(err)
				}
			}
			err := b.DeleteBucket(ctx(t), "bkt")
			if errCode(err) != tc.code {
				t.Fatalf("DeleteBucket: %v, want %s", err, tc.code)
			}
			exists, _ := b.BucketExists(ctx(t), "bkt")
			if exists != (tc.code != "") {
				t.Errorf("bucket exists = %v after DeleteBucket: %v", exists, err)
			}
			if _, err := os.Stat(filepath.Join(b.root.Name(), metaDir, "bkt")); (err == nil) != (tc.code != "") {
				t.Errorf("bucket records: %v", err)
			}
		})
	}
	b := newTestBackend(t)
	if err := b.DeleteBucket(ctx(t), "missing"); errCode(err) != gofakes3.ErrNoSuchBucket {
		t.Errorf("DeleteBucket of a missing bucket: %v", err)
	}
}
