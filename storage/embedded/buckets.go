package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/rclone/gofakes3"
)

// ListBuckets returns the buckets: the directories of Dir whose names are
// valid bucket names, with their modification time as creation date (file
// systems do not portably keep a birth time).
func (b *Backend) ListBuckets(ctx context.Context) ([]gofakes3.BucketInfo, error) {
	f, err := b.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	var buckets []gofakes3.BucketInfo
	for _, e := range entries {
		if !e.IsDir() || gofakes3.ValidateBucketName(e.Name()) != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since it was read
		}
		buckets = append(buckets, gofakes3.BucketInfo{Name: e.Name(), CreationDate: gofakes3.NewContentTime(info.ModTime())})
	}
	return buckets, nil
}

// CreateBucket creates the bucket directory; creating a bucket that exists
// succeeds, as S3 does in us-east-1 for a bucket of one's own. (gofakes3's
// Backend contract asks for BucketAlreadyExists, but gofakes3 creates
// buckets on first use by calling CreateBucket when BucketExists said no, and
// answers NoSuchBucket if that fails: concurrent first uses of a bucket
// would fail all but one.) It fails with InvalidBucketName if name is not a
// valid bucket name and with BucketAlreadyExists if a file has the name.
func (b *Backend) CreateBucket(ctx context.Context, name string) error {
	if err := gofakes3.ValidateBucketName(name); err != nil {
		return err
	}
	err := b.disk.Mkdir(name)
	if errors.Is(err, fs.ErrExist) {
		if info, serr := b.root.Stat(name); serr == nil && info.IsDir() {
			return nil
		}
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	if err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	return b.syncAll("")
}

// BucketExists reports whether the bucket exists; an invalid name never does.
func (b *Backend) BucketExists(ctx context.Context, name string) (bool, error) {
	// gofakes3 does not check the names of buckets it is asked about, nor
	// of those it creates on first use.
	if gofakes3.ValidateBucketName(name) != nil {
		return false, nil
	}
	info, err := b.root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat bucket: %w", err)
	}
	return info.IsDir(), nil
}

// DeleteBucket deletes an empty bucket and its bookkeeping. It fails with
// NoSuchBucket if there is no such bucket and with BucketNotEmpty if it holds
// an object or directory marker.
func (b *Backend) DeleteBucket(ctx context.Context, name string) error {
	if err := b.mustExist(ctx, name); err != nil {
		return err
	}
	full, err := b.hasContent(ctx, name, name, "")
	if err != nil {
		return s3Error(err)
	}
	if full {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	// What is left are empty directories that are not markers.
	if err := b.root.RemoveAll(name); err != nil {
		return fmt.Errorf("delete bucket: %w", err)
	}
	if err := b.root.RemoveAll(metaDir + "/" + name); err != nil {
		return fmt.Errorf("delete bucket records: %w", err)
	}
	return nil
}

// mustExist fails with NoSuchBucket unless the bucket name exists.
func (b *Backend) mustExist(ctx context.Context, name string) error {
	ok, err := b.BucketExists(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return gofakes3.BucketNotFound(name)
	}
	return nil
}
