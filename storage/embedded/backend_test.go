package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rclone/gofakes3"
)

func TestNewBackendReaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := NewBackend(dir, discardLogger(), BackendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx(t), "bkt"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "bkt", "kept", []byte("kept"))
	id, err := b.CreateMultipartUpload(ctx(t), "bkt", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := b.createTemp("put")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = NewBackend(dir, discardLogger(), BackendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, d := range []string{tmpDir, uploadsDir} {
		if entries, err := os.ReadDir(filepath.Join(dir, d)); err != nil || len(entries) != 0 {
			t.Errorf("%s holds %v (%v)", d, entries, err)
		}
	}
	if _, err := b.UploadPart(ctx(t), "bkt", "k", id, 1, 0, nil); !errors.Is(err, gofakes3.ErrNoSuchUpload) {
		t.Errorf("UploadPart to an upload of the earlier run: %v", err)
	}
	if got := readObject(t, b, "bkt", "kept"); string(got) != "kept" {
		t.Errorf("object = %q", got)
	}
}

func TestNewBackendErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewBackend("", discardLogger(), BackendOptions{}); err == nil {
		t.Error("NewBackend without a directory succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBackend(file, discardLogger(), BackendOptions{}); err == nil {
		t.Error("NewBackend on a file succeeded")
	}
}

func TestS3Error(t *testing.T) {
	t.Parallel()
	plain := errors.New("disk on fire")
	tests := []struct {
		in   error
		want error
	}{
		{nil, nil},
		{plain, plain},
		{fmt.Errorf("wrapped: %w", gofakes3.ErrBadDigest), gofakes3.ErrBadDigest},
	}
	for _, tc := range tests {
		if got := s3Error(tc.in); got != tc.want {
			t.Errorf("s3Error(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	notFound := gofakes3.KeyNotFound("k")
	if got := s3Error(fmt.Errorf("x: %w", notFound)); got != notFound {
		t.Errorf("s3Error did not unwrap %v", notFound)
	}
}
