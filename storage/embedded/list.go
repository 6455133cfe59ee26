package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/rclone/gofakes3"
)

// ListBucket lists the objects and directory markers of bucket whose keys
// start with prefix.Prefix, in byte order of key, after page.Marker (if
// page.HasMarker), at most page.MaxKeys (all if 0) keys and common prefixes
// together, setting IsTruncated and NextMarker if there are more. Keys whose
// rest after the prefix holds prefix.Delimiter are rolled up into one
// common prefix.
//
// With the delimiter "/" it reads just the directory the prefix names;
// without a delimiter, or with another, it walks the tree under it. A
// directory is listed (as a common prefix, or by its keys) only if it is a
// directory marker or holds one or an object, so listings never show a
// directory nobody wrote. It fails with NoSuchBucket.
func (b *Backend) ListBucket(ctx context.Context, bucket string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if err := b.mustExist(ctx, bucket); err != nil {
		return nil, err
	}
	l := &lister{b: b, ctx: ctx, bucket: bucket, max: page.MaxKeys, out: gofakes3.NewObjectList()}
	if prefix != nil {
		l.prefix = prefix.Prefix
		if prefix.HasDelimiter {
			l.delim = prefix.Delimiter
		}
	}
	if page.HasMarker {
		l.marker = page.Marker
	}
	if err := l.run(); err != nil {
		return nil, s3Error(err)
	}
	return l.out, nil
}

// lister is one ListBucket call.
type lister struct {
	b                     *Backend
	ctx                   context.Context
	bucket                string
	prefix, delim, marker string
	max                   int64

	out        *gofakes3.ObjectList
	n          int64  // keys and common prefixes in out
	last       string // the last of them
	lastPrefix string // the last common prefix in out
	done       bool   // out is full and there are more
}

// run lists the directory named by the prefix.
func (l *lister) run() error {
	// The prefix names a directory (dirKey, "" for the bucket) and the
	// start of names in it (filter).
	dirKey, filter := "", l.prefix
	if i := strings.LastIndexByte(l.prefix, '/'); i >= 0 {
		dirKey, filter = l.prefix[:i+1], l.prefix[i+1:]
	}
	dir := l.bucket
	if dirKey != "" {
		if checkSegments(strings.TrimSuffix(dirKey, "/")) != nil {
			return nil // no key stored here has this prefix
		}
		dir += "/" + strings.TrimSuffix(dirKey, "/")
		if filter == "" {
			// The directory's own marker has the prefix
			if rec := l.b.markerRecord(l.bucket, dirKey); rec != nil {
				l.addKey(dirKey, func() (*record, error) { return rec, nil })
			}
		}
	}
	return l.walk(dir, dirKey, filter)
}

// walk lists the keys under the directory dir, whose keys start with
// dirKey, and whose names in dir start with filter.
func (l *lister) walk(dir, dirKey, filter string) error {
	entries, err := readDirSorted(l.b, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if l.done {
			return nil
		}
		if err := l.ctx.Err(); err != nil {
			return err
		}
		if !strings.HasPrefix(e.name, filter) {
			continue
		}
		path := dir + "/" + e.name
		if !e.dir {
			key := dirKey + e.name
			l.addKey(key, func() (*record, error) { return l.b.describe(l.bucket, key, path) })
			continue
		}
		sub := dirKey + e.name + "/"
		if l.marker > sub && !strings.HasPrefix(l.marker, sub) {
			continue // every key under it is before the marker
		}
		if l.delim == "/" {
			// Every key under it rolls up into the common prefix sub.
			if sub <= l.marker || sub == l.lastPrefix {
				continue
			}
			full, err := l.b.hasContent(l.ctx, l.bucket, path, sub)
			if err != nil {
				return err
			}
			if full {
				l.addPrefix(sub)
			}
			continue
		}
		if rec := l.b.markerRecord(l.bucket, sub); rec != nil {
			l.addKey(sub, func() (*record, error) { return rec, nil })
		}
		if err := l.walk(path, sub, ""); err != nil {
			return err
		}
	}
	return nil
}

// addKey lists key, as itself or rolled up into a common prefix, unless it
// is not after the marker. describe returns its record, or nil if it has
// gone since its directory was read.
func (l *lister) addKey(key string, describe func() (*record, error)) {
	if l.done || key <= l.marker {
		return
	}
	if cp := l.commonPrefix(key); cp != "" {
		if cp != l.lastPrefix && cp > l.marker {
			l.addPrefix(cp)
		}
		return
	}
	rec, err := describe()
	if err != nil {
		l.b.log.Warn("embedded store: cannot list key", "bucket", l.bucket, "key", key, "err", err)
		return
	}
	if rec == nil {
		return
	}
	if l.full() {
		return
	}
	l.out.Add(rec.content())
	l.n, l.last = l.n+1, key
}

// addPrefix lists the common prefix cp.
func (l *lister) addPrefix(cp string) {
	if l.full() {
		return
	}
	l.out.AddPrefix(cp)
	l.n, l.last, l.lastPrefix = l.n+1, cp, cp
}

// full reports whether out has all it can take, marking it truncated (one
// more entry was found) if so.
func (l *lister) full() bool {
	if l.max <= 0 || l.n < l.max {
		return false
	}
	l.out.IsTruncated, l.out.NextMarker, l.done = true, l.last, true
	return true
}

// commonPrefix returns the common prefix key rolls up into, or "".
func (l *lister) commonPrefix(key string) string {
	if l.delim == "" {
		return ""
	}
	i := strings.Index(key[len(l.prefix):], l.delim)
	if i < 0 {
		return ""
	}
	return key[:len(l.prefix)+i+len(l.delim)]
}

// dirEntry is an entry of a directory of a bucket: a file or a directory.
type dirEntry struct {
	name string
	dir  bool
}

// readDirFromDisk reads the files and directories in the directory dir and
// sorts them in the byte order of the keys they hold: a directory named d
// holds keys starting with d+"/", so sorts as d+"/" ("a-b" < "a/" <
// "a0"). A directory that does not exist (deleted meanwhile) is empty.
func readDirFromDisk(b *Backend, dir string) ([]dirEntry, error) {
	f, err := b.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if isNotDir(err) {
		return nil, nil // a file: the prefix "file/" holds no keys
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	entries := make([]dirEntry, 0, len(des))
	for _, de := range des {
		// Anything else (a symlink an operator made) is not an object.
		if de.IsDir() || de.Type().IsRegular() {
			entries = append(entries, dirEntry{name: de.Name(), dir: de.IsDir()})
		}
	}
	slices.SortFunc(entries, compareEntries)
	return entries, nil
}

// compareEntries orders x and y as the keys they hold.
func compareEntries(x, y dirEntry) int {
	n := min(len(x.name), len(y.name))
	if c := strings.Compare(x.name[:n], y.name[:n]); c != 0 {
		return c
	}
	// One name starts the other: compare the next byte, "/" after a
	// directory's name.
	return nextByte(x, n) - nextByte(y, n)
}

// nextByte returns the byte at i of the keys e holds, -1 past their end.
func nextByte(e dirEntry, i int) int {
	switch {
	case i < len(e.name):
		return int(e.name[i])
	case e.dir:
		return '/'
	default:
		return -1
	}
}

// describe returns the record of the object key at rel for a listing, or
// nil if it has gone.
func (b *Backend) describe(bucket, key, rel string) (*record, error) {
	l := b.locks.of(rel)
	l.RLock()
	info, err := b.root.Lstat(rel)
	var rec *record
	if err == nil {
		rec = b.readRecord(bucket, key)
	}
	l.RUnlock()
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil
	}
	if rec != nil && rec.describes(info) {
		return rec, nil
	}
	f, err := b.root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rel, err)
	}
	defer f.Close()
	return b.repair(bucket, key, rel, f)
}

// markerRecord returns the record of the directory marker key (ending in
// "/"), whose directory exists, or nil if it is not a marker.
func (b *Backend) markerRecord(bucket, key string) *record {
	if rec := b.readRecord(bucket, key); rec != nil && rec.Marker {
		return rec
	}
	return nil
}

// hasContent reports whether the directory dir of bucket, holding the keys
// starting with key ("" for the bucket), is a directory marker or holds an
// object or a marker.
func (b *Backend) hasContent(ctx context.Context, bucket, dir, key string) (bool, error) {
	f, err := b.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("list %s: %w", dir, err)
	}
	defer f.Close()
	markerChecked := key == ""
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		des, rerr := f.ReadDir(64)
		for _, de := range des {
			if de.Type().IsRegular() {
				return true, nil
			}
		}
		if !markerChecked {
			if b.markerRecord(bucket, key) != nil {
				return true, nil
			}
			markerChecked = true
		}
		for _, de := range des {
			if !de.IsDir() {
				continue
			}
			full, err := b.hasContent(ctx, bucket, dir+"/"+de.Name(), key+de.Name()+"/")
			if err != nil || full {
				return full, err
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && len(des) == 0) {
			return false, nil
		}
		if rerr != nil {
			return false, fmt.Errorf("list %s: %w", dir, rerr)
		}
	}
}
