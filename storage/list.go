package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
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

// pager reads a listing one ListObjectsV2 page at a time.
type pager struct {
	f    *Fs
	in   *s3.ListObjectsV2Input
	done bool // the last page has been read
}

// newPager lists the objects under prefix; with delimited, keys are
// grouped at the next "/" into common prefixes, as for one directory level.
func (f *Fs) newPager(prefix string, delimited bool) *pager {
	in := &s3.ListObjectsV2Input{
		Bucket:  &f.bucket,
		Prefix:  &prefix,
		MaxKeys: aws.Int32(f.svc.set.ListPageSize),
	}
	if delimited {
		in.Delimiter = aws.String("/")
	}
	return &pager{f: f, in: in}
}

// next returns the next page's objects and common prefixes, merged in the
// byte order of their keys (S3 returns each kind in that order), with its
// own request deadline. It must not be called once done is set.
func (p *pager) next() ([]entry, error) {
	ctx, cancel := p.f.reqCtx()
	out, err := p.f.svc.api.ListObjectsV2(ctx, p.in)
	cancel()
	if err != nil {
		return nil, s3Error(err)
	}
	page := make([]entry, 0, len(out.Contents)+len(out.CommonPrefixes))
	objs, cps := out.Contents, out.CommonPrefixes
	for len(objs) > 0 || len(cps) > 0 {
		if len(cps) > 0 && (len(objs) == 0 || aws.ToString(cps[0].Prefix) < aws.ToString(objs[0].Key)) {
			page = append(page, entry{key: aws.ToString(cps[0].Prefix), dir: true})
			cps = cps[1:]
			continue
		}
		obj := objs[0]
		page = append(page, entry{key: aws.ToString(obj.Key), size: aws.ToInt64(obj.Size), modTime: aws.ToTime(obj.LastModified)})
		objs = objs[1:]
	}
	if !aws.ToBool(out.IsTruncated) {
		p.done = true
		return page, nil
	}
	token := aws.ToString(out.NextContinuationToken)
	if token == "" {
		return nil, fmt.Errorf("%w: truncated listing without a continuation token", ErrBackend)
	}
	p.in.ContinuationToken = &token
	return page, nil
}

// list calls fn for every object and common prefix under prefix (see
// newPager), page by page; fn returning an error stops the listing with
// that error.
func (f *Fs) list(prefix string, delimited bool, fn func(entry) error) error {
	p := f.newPager(prefix, delimited)
	for !p.done {
		page, err := p.next()
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// Listing is a directory listing read page by page (see Fs.ListDir).
type Listing struct {
	pager
	name    string // the directory's FTP path
	prefix  string
	lastDir string        // the last directory returned, to skip a repeat
	first   []fs.FileInfo // the first page, read by ListDir
}

// ListDir starts listing the directory at name, one ListObjectsV2 page
// (Settings.ListPageSize keys) at a time, with delimiter "/" so only this
// level is read. It reads the first page, so it returns fs.ErrNotExist
// when nothing is at or under name before any entry is handed out.
//
// Entries come in the byte order of their keys, a directory as its name
// followed by "/" (so "a-b" < "a/" < "a0"): the order S3 lists keys in.
// The directory's own marker and keys that no FTP path could name (an
// empty, "." or ".." segment, invalid UTF-8) are skipped; a subdirectory
// that a server lists both as a marker object and as a common prefix
// appears once.
func (f *Fs) ListDir(name string) (*Listing, error) {
	l, err := f.listDir(name)
	if err != nil {
		return nil, pathError("readdir", name, err)
	}
	f.dirs.remember(clean(name))
	return l, nil
}

func (f *Fs) listDir(name string) (*Listing, error) {
	prefix, err := f.jail.dirPrefix(name)
	if err != nil {
		return nil, err
	}
	l := &Listing{pager: *f.newPager(prefix, true), name: clean(name), prefix: prefix}
	page, err := l.pager.next()
	if err != nil {
		return nil, err
	}
	if len(page) == 0 && !isRoot(name) {
		return nil, fs.ErrNotExist
	}
	l.first = l.infos(page)
	return l, nil
}

// Next returns the next page of entries, io.EOF after the last. A page
// may be empty (every key on it skipped).
func (l *Listing) Next() ([]fs.FileInfo, error) {
	if l.first != nil {
		page := l.first
		l.first = nil
		return page, nil
	}
	if l.done {
		return nil, io.EOF
	}
	page, err := l.pager.next()
	if err != nil {
		return nil, pathError("readdir", l.name, err)
	}
	return l.infos(page), nil
}

// infos describes the entries of a page.
func (l *Listing) infos(page []entry) []fs.FileInfo {
	infos := make([]fs.FileInfo, 0, len(page))
	for _, e := range page {
		rel := strings.TrimPrefix(e.key, l.prefix)
		base := strings.TrimSuffix(rel, "/")
		if base == "" || base == "." || base == ".." || checkName(base) != nil {
			continue // the directory's own marker, or a key FTP cannot name
		}
		if !e.dir && !strings.HasSuffix(rel, "/") {
			infos = append(infos, newFileInfo(base, e.size, e.modTime))
			continue
		}
		// Some servers list a subdirectory's marker "sub/" as an object as
		// well as a common prefix: both have the key "sub/", so come
		// together, and are the one directory.
		if base != l.lastDir {
			l.lastDir = base
			infos = append(infos, newDirInfo(base, time.Time{}))
		}
	}
	return infos
}

// Close ends the listing.
func (l *Listing) Close() error {
	l.first, l.done = nil, true
	return nil
}

// ReadDir returns every entry of the directory at name, in the order and
// with the rules of ListDir.
func (f *Fs) ReadDir(name string) ([]fs.FileInfo, error) {
	l, err := f.ListDir(name)
	if err != nil {
		return nil, err
	}
	var infos []fs.FileInfo
	for {
		page, err := l.Next()
		if errors.Is(err, io.EOF) {
			return infos, nil
		}
		if err != nil {
			return nil, err
		}
		infos = append(infos, page...)
	}
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
