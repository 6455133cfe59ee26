package storage

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// entry is one result of a listing: an object, or (with a delimiter) a
// common prefix, which has dir set and no size or date.
type entry struct {
	key     string
	size    int64
	modTime time.Time
	dir     bool
}

// list calls fn for every object and common prefix under prefix, draining
// every page of ListObjectsV2. With delimited, keys are grouped at the next
// "/" into common prefixes, as for one directory level. Each page gets its own
// request deadline; fn returning an error stops the listing with that error.
func (f *Fs) list(prefix string, delimited bool, fn func(entry) error) error {
	in := &s3.ListObjectsV2Input{
		Bucket:  &f.bucket,
		Prefix:  &prefix,
		MaxKeys: aws.Int32(f.svc.set.ListPageSize),
	}
	if delimited {
		in.Delimiter = aws.String("/")
	}
	for {
		ctx, cancel := f.reqCtx()
		out, err := f.svc.api.ListObjectsV2(ctx, in)
		cancel()
		if err != nil {
			return s3Error(err)
		}
		for _, cp := range out.CommonPrefixes {
			if err := fn(entry{key: aws.ToString(cp.Prefix), dir: true}); err != nil {
				return err
			}
		}
		for _, obj := range out.Contents {
			e := entry{key: aws.ToString(obj.Key), size: aws.ToInt64(obj.Size), modTime: aws.ToTime(obj.LastModified)}
			if err := fn(e); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		token := aws.ToString(out.NextContinuationToken)
		if token == "" {
			return fmt.Errorf("%w: truncated listing without a continuation token", ErrBackend)
		}
		in.ContinuationToken = &token
	}
}

// ReadDir lists the directory at name, sorted by name. It pages through the
// listing with delimiter "/", so only this level is read. Keys that no FTP
// path could name (an empty, "." or ".." segment, invalid UTF-8) are skipped.
// It returns fs.ErrNotExist when nothing is at or under name.
func (f *Fs) ReadDir(name string) ([]fs.FileInfo, error) {
	infos, err := f.readDir(name)
	if err != nil {
		return nil, pathError("readdir", name, err)
	}
	f.dirs.remember(clean(name))
	return infos, nil
}

func (f *Fs) readDir(name string) ([]fs.FileInfo, error) {
	prefix, err := f.jail.dirPrefix(name)
	if err != nil {
		return nil, err
	}
	found := isRoot(name)
	var infos []fs.FileInfo
	dirs := map[string]bool{}
	err = f.list(prefix, true, func(e entry) error {
		found = true
		rel := strings.TrimPrefix(e.key, prefix)
		base := strings.TrimSuffix(rel, "/")
		if base == "" || base == "." || base == ".." || checkName(base) != nil {
			return nil // the directory's own marker, or a key FTP cannot name
		}
		// Some servers list a subdirectory's marker "sub/" as an object as
		// well as a common prefix: both are the one directory.
		if e.dir || strings.HasSuffix(rel, "/") {
			if !dirs[base] {
				dirs[base] = true
				infos = append(infos, newDirInfo(base, time.Time{}))
			}
			return nil
		}
		infos = append(infos, newFileInfo(base, e.size, e.modTime))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fs.ErrNotExist
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name() < infos[j].Name() })
	return infos, nil
}

// listKeys returns every object under prefix (markers included), refusing
// with ErrTooMany when there are more than Settings.RenameLimit.
func (f *Fs) listKeys(ctx context.Context, prefix string) ([]entry, error) {
	limit := f.svc.set.RenameLimit
	var keys []entry
	err := f.list(prefix, false, func(e entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(keys) == limit {
			return fmt.Errorf("%w: more than %d objects under %s", ErrTooMany, limit, f.jail.name(prefix))
		}
		keys = append(keys, e)
		return nil
	})
	return keys, err
}

// dirOf returns the FTP path of the directory holding name.
func dirOf(name string) string { return path.Dir(clean(name)) }
