package embedded

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"syscall"

	"github.com/rclone/gofakes3"
)

// commitAttempts bounds how often a directory is made, or a file put in
// place, again when a concurrent delete removed a directory meanwhile, or an
// empty one is where the file goes.
const commitAttempts = 5

// GetObject opens the object key for reading, all of it or the range rng.
// The contents stream from the file: an object being replaced meanwhile is
// read as it was when opened. It fails with NoSuchBucket, NoSuchKey (also for
// a key that cannot be stored here) or InvalidRange.
func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	f, rec, err := b.openObject(ctx, bucket, key)
	if err != nil {
		return nil, s3Error(err)
	}
	r, err := rng.Range(rec.Size)
	if err != nil {
		closeFile(f)
		return nil, err
	}
	var contents io.ReadCloser = http.NoBody
	switch {
	case f != nil && r != nil:
		contents = sectionReadCloser{io.NewSectionReader(f, r.Start, r.Length), f}
	case f != nil:
		contents = f // lets net/http send it with sendfile(2)
	}
	return rec.object(contents, r), nil
}

// HeadObject returns the object key without its contents. It fails with
// NoSuchBucket or NoSuchKey.
func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (*gofakes3.Object, error) {
	f, rec, err := b.openObject(ctx, bucket, key)
	if err != nil {
		return nil, s3Error(err)
	}
	closeFile(f)
	return rec.object(http.NoBody, nil), nil
}

// PutObject streams input into a temporary file and renames it into place
// as key, so that readers see the old object or the new one, never a part.
// size is the length of input, or -1 if unknown. It fails with NoSuchBucket,
// InvalidArgument (a key that cannot be a file, or a directory marker with
// contents), InvalidBucketState (409: the key is a prefix of other keys, or
// one of its prefixes is a key) or IncompleteBody, and with the error input
// fails with (gofakes3's BadDigest for a checksum mismatch).
func (b *Backend) PutObject(ctx context.Context, bucket, key string, meta map[string]string, input io.Reader, size int64) (gofakes3.PutObjectResult, error) {
	rel, isMarker, err := b.place(ctx, bucket, key)
	if err != nil {
		return gofakes3.PutObjectResult{}, s3Error(err)
	}
	var rec *record
	if isMarker {
		rec, err = b.putMarker(bucket, key, rel, meta, input)
	} else {
		rec, err = b.putFile(ctx, bucket, key, rel, meta, input, size)
	}
	if err != nil {
		return gofakes3.PutObjectResult{}, s3Error(err)
	}
	return gofakes3.PutObjectResult{ETag: quote(rec.ETag)}, nil
}

// putFile stores input as the object key at rel.
func (b *Backend) putFile(ctx context.Context, bucket, key, rel string, meta map[string]string, input io.Reader, size int64) (*record, error) {
	f, tmp, err := b.createTemp("put")
	if err != nil {
		return nil, err
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, input})
	if err != nil {
		b.discard(f, tmp)
		return nil, fmt.Errorf("receive object: %w", err)
	}
	if size >= 0 && n != size {
		b.discard(f, tmp)
		return nil, gofakes3.ErrorMessagef(gofakes3.ErrIncompleteBody, "Received %d of the %d bytes announced.", n, size)
	}
	info, err := b.finish(f, tmp)
	if err != nil {
		return nil, err
	}
	rec := newRecord(key, info, h.Sum(nil), meta)
	if err := b.commit(bucket, rel, tmp, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// putMarker makes the directory marker key: the directory rel, and a record
// saying it is a marker. A marker has no contents, so input must be empty.
func (b *Backend) putMarker(bucket, key, rel string, meta map[string]string, input io.Reader) (*record, error) {
	// Reading to EOF lets gofakes3 check the body's checksum.
	if n, err := io.Copy(io.Discard, io.LimitReader(input, 1)); err != nil {
		return nil, fmt.Errorf("receive object: %w", err)
	} else if n > 0 {
		return nil, markerWithContents(key)
	}
	rec := &record{Key: key, Marker: true, ETag: emptyMD5, LastModified: lastModified(meta), Metadata: meta}
	recTmp, err := b.stageSynced(rec)
	if err != nil {
		return nil, err
	}
	l := b.locks.of(rel)
	l.Lock()
	changed, err := b.mkdirAll(rel, key)
	if err != nil {
		l.Unlock()
		b.discard(nil, recTmp)
		return nil, err
	}
	recChanged, err := b.install(recTmp, recordPath(bucket, key))
	l.Unlock()
	if err != nil {
		return nil, err
	}
	if err := b.syncAll(append(changed, recChanged...)...); err != nil {
		return nil, err
	}
	return rec, nil
}

// CopyObject copies the object srcKey of srcBucket to dstKey of dstBucket
// with the metadata meta, keeping the source's stored checksums (the
// contents are the same). The copy is a hard link to the source's file where
// the file system allows (files are never changed once in place, only
// replaced), otherwise a streaming copy. It fails as GetObject does for the
// source and as PutObject does for the destination.
func (b *Backend) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	rec, err := b.copyObject(ctx, srcBucket, srcKey, dstBucket, dstKey, meta)
	if err != nil {
		return gofakes3.CopyObjectResult{}, s3Error(err)
	}
	return gofakes3.CopyObjectResult{ETag: quote(rec.ETag), LastModified: gofakes3.NewContentTime(rec.LastModified)}, nil
}

// copyObject does the work of CopyObject.
func (b *Backend) copyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (*record, error) {
	dstRel, dstMarker, err := b.place(ctx, dstBucket, dstKey)
	if err != nil {
		return nil, err
	}
	src, srcRec, err := b.openObject(ctx, srcBucket, srcKey)
	if err != nil {
		return nil, err
	}
	defer closeFile(src)
	if meta == nil {
		meta = map[string]string{}
	}
	for k, v := range srcRec.Metadata {
		if strings.HasPrefix(textproto.CanonicalMIMEHeaderKey(k), "X-Amz-Checksum-") {
			meta[k] = v
		}
	}
	if dstMarker {
		var contents io.Reader = http.NoBody
		if src != nil {
			contents = src
		}
		return b.putMarker(dstBucket, dstKey, dstRel, meta, contents)
	}
	srcRel, _, _ := objectPath(srcBucket, srcKey) // valid: it was opened
	tmp, err := b.copyToTemp(srcRel, src)
	if err != nil {
		return nil, err
	}
	info, err := b.root.Stat(tmp)
	if err != nil {
		b.discard(nil, tmp)
		return nil, fmt.Errorf("stat copy: %w", err)
	}
	rec := newRecord(dstKey, info, nil, meta)
	rec.ETag, rec.PartSizes = srcRec.ETag, srcRec.PartSizes
	if err := b.commit(dstBucket, dstRel, tmp, rec); err != nil {
		return nil, err
	}
	// Renaming a link onto the file it links to (a copy onto itself, to
	// change metadata) does nothing and leaves the link.
	b.discard(nil, tmp)
	return rec, nil
}

// copyToTemp returns a temporary file with the contents of src, the file at
// srcRel (nil for no contents): a hard link to it if possible, else a copy.
func (b *Backend) copyToTemp(srcRel string, src *os.File) (string, error) {
	if src != nil {
		if tmp, ok := b.linkToTemp(srcRel, src); ok {
			return tmp, nil
		}
	}
	f, tmp, err := b.createTemp("copy")
	if err != nil {
		return "", err
	}
	if src != nil {
		// Between two files io.Copy uses copy_file_range(2).
		if _, err := io.Copy(f, src); err != nil {
			b.discard(f, tmp)
			return "", fmt.Errorf("copy object: %w", err)
		}
	}
	if _, err := b.finish(f, tmp); err != nil {
		return "", err
	}
	return tmp, nil
}

// linkToTemp makes a temporary hard link to the file at rel, open as src,
// reporting false if it cannot (another file system, no hard links, or the
// file was replaced since src was opened).
func (b *Backend) linkToTemp(rel string, src *os.File) (string, bool) {
	want, err := src.Stat()
	if err != nil {
		return "", false
	}
	tmp := tmpDir + "/link-" + randomHex(12)
	if err := b.disk.Link(rel, tmp); err != nil {
		return "", false
	}
	if got, err := b.root.Stat(tmp); err != nil || !os.SameFile(got, want) {
		b.discard(nil, tmp)
		return "", false
	}
	return tmp, true
}

// DeleteObject deletes the object or directory marker key; deleting a key
// that does not exist (or cannot exist here) succeeds. Deleting a marker
// keeps the keys under it and deleting a key keeps its directories' markers;
// directories left empty and not markers are removed. It fails with
// NoSuchBucket.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	if err := b.deleteObject(ctx, bucket, key); err != nil {
		return gofakes3.ObjectDeleteResult{}, s3Error(err)
	}
	return gofakes3.ObjectDeleteResult{}, nil
}

// deleteObject does the work of DeleteObject.
func (b *Backend) deleteObject(ctx context.Context, bucket, key string) error {
	if err := b.mustExist(ctx, bucket); err != nil {
		return err
	}
	rel, isMarker, err := objectPath(bucket, key)
	if err != nil {
		return nil
	}
	l := b.locks.of(rel)
	l.Lock()
	changed, err := b.deleteLocked(bucket, key, rel, isMarker)
	l.Unlock()
	if err != nil {
		return err
	}
	// Synced before pruning, which may remove the directory: the key
	// must not come back after a crash.
	if err := b.syncAll(changed...); err != nil {
		return err
	}
	b.prune(bucket, parentDir(rel))
	return nil
}

// deleteLocked deletes the object or marker key at rel, under the lock of
// rel, returning the directory whose entries changed so that the key is
// gone (none if there was nothing to delete): the file's, or for a marker
// its record's (a directory without a record is no marker).
func (b *Backend) deleteLocked(bucket, key, rel string, isMarker bool) ([]string, error) {
	info, err := b.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	if isMarker {
		if !info.IsDir() {
			return nil, nil
		}
		if rec := b.readRecord(bucket, key); rec == nil || !rec.Marker {
			return nil, nil
		}
		dir, err := b.removeRecord(bucket, key)
		if err != nil {
			return nil, err
		}
		_ = b.disk.Remove(rel) // only if empty: the keys under a marker stay
		return []string{dir}, nil
	}
	if !info.Mode().IsRegular() {
		return nil, nil
	}
	if err := b.disk.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("delete object: %w", err)
	}
	// A record left by a crash describes no file, and is ignored.
	if _, err := b.removeRecord(bucket, key); err != nil {
		return nil, err
	}
	return []string{parentDir(rel)}, nil
}

// prune removes dir, a directory in bucket whose last key may just have
// been deleted, and then its parents, for as long as they are empty and not
// directory markers, so that listings show no directories without keys.
func (b *Backend) prune(bucket, dir string) {
	for dir != bucket && dir != "" {
		if !b.pruneOne(bucket, dir) {
			return
		}
		dir = parentDir(dir)
	}
}

// pruneTree removes the directory dir of bucket if it holds nothing but
// directories, none of them a marker, reporting whether it did.
func (b *Backend) pruneTree(bucket, dir string) bool {
	if entries, err := readDirSorted(b, dir); err == nil {
		for _, e := range entries {
			if e.dir {
				b.pruneTree(bucket, dir+"/"+e.name)
			}
		}
	}
	return b.pruneOne(bucket, dir)
}

// pruneOne removes the directory dir of bucket if it is empty and not a
// directory marker, reporting whether it did.
func (b *Backend) pruneOne(bucket, dir string) bool {
	l := b.locks.of(dir)
	l.Lock()
	defer l.Unlock()
	if info, err := b.root.Lstat(dir); err != nil || !info.IsDir() {
		return false
	}
	if rec := b.readRecord(bucket, dir[len(bucket)+1:]+"/"); rec != nil && rec.Marker {
		return false
	}
	return b.disk.Remove(dir) == nil
}

// DeleteMulti deletes each of keys as DeleteObject does, reporting the
// outcome for each. It fails with NoSuchBucket.
func (b *Backend) DeleteMulti(ctx context.Context, bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var result gofakes3.MultiDeleteResult
	if err := b.mustExist(ctx, bucket); err != nil {
		return result, err
	}
	for _, key := range keys {
		if err := b.deleteObject(ctx, bucket, key); err != nil {
			er := gofakes3.ErrorResultFromError(s3Error(err))
			er.Key = key
			result.Error = append(result.Error, er)
			continue
		}
		result.Deleted = append(result.Deleted, gofakes3.ObjectID{Key: key})
	}
	return result, nil
}

// openObject opens the object key: its file (nil for a directory marker)
// and its record, of the same version of the object.
func (b *Backend) openObject(ctx context.Context, bucket, key string) (*os.File, *record, error) {
	if err := b.mustExist(ctx, bucket); err != nil {
		return nil, nil, err
	}
	rel, isMarker, err := objectPath(bucket, key)
	if err != nil {
		return nil, nil, gofakes3.KeyNotFound(key)
	}
	l := b.locks.of(rel)
	l.RLock()
	f, info, rec, err := b.openLocked(bucket, key, rel, isMarker)
	l.RUnlock()
	if err != nil || isMarker || (rec != nil && rec.describes(info)) {
		return f, rec, err
	}
	rec, err = b.repair(bucket, key, rel, f)
	if err != nil {
		closeFile(f)
		return nil, nil, err
	}
	return f, rec, nil
}

// openLocked does the work of openObject under the lock of rel. The record
// it returns for a file may not describe it.
func (b *Backend) openLocked(bucket, key, rel string, isMarker bool) (*os.File, fs.FileInfo, *record, error) {
	if isMarker {
		info, err := b.root.Lstat(rel)
		if err != nil || !info.IsDir() {
			return nil, nil, nil, gofakes3.KeyNotFound(key)
		}
		rec := b.readRecord(bucket, key)
		if rec == nil || !rec.Marker {
			return nil, nil, nil, gofakes3.KeyNotFound(key)
		}
		return nil, info, rec, nil
	}
	f, err := b.root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return nil, nil, nil, gofakes3.KeyNotFound(key)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open object: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		closeFile(f)
		return nil, nil, nil, fmt.Errorf("stat object: %w", err)
	}
	if !info.Mode().IsRegular() {
		closeFile(f)
		return nil, nil, nil, gofakes3.KeyNotFound(key)
	}
	return f, info, b.readRecord(bucket, key), nil
}

// place checks that key can be written to bucket, returning its path and
// whether it is a directory marker. It fails with NoSuchBucket,
// InvalidArgument or InvalidBucketState as PutObject documents; commit checks
// again, as the tree can change meanwhile, but failing here fails an upload
// before its data is sent.
func (b *Backend) place(ctx context.Context, bucket, key string) (string, bool, error) {
	if err := b.mustExist(ctx, bucket); err != nil {
		return "", false, err
	}
	rel, isMarker, err := objectPath(bucket, key)
	if err != nil {
		return "", false, err
	}
	// No prefix of the key may be an object.
	for i := len(bucket) + 1; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		info, err := b.root.Lstat(rel[:i])
		if errors.Is(err, fs.ErrNotExist) {
			return rel, isMarker, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("stat %s: %w", rel[:i], err)
		}
		if !info.IsDir() {
			return "", false, conflict(key)
		}
	}
	info, err := b.root.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return rel, isMarker, nil
	case err != nil:
		return "", false, fmt.Errorf("stat %s: %w", rel, err)
	case isMarker && !info.IsDir():
		return "", false, conflict(key)
	case !isMarker && info.IsDir():
		// The key is a prefix of other keys, unless the directory holds
		// only empty directories (left by a crash or by hand), which
		// commit removes.
		full, err := b.hasContent(ctx, bucket, rel, key+"/")
		if err != nil {
			return "", false, err
		}
		if full {
			return "", false, conflict(key)
		}
	}
	return rel, isMarker, nil
}

// commit puts the finished temporary file tmp in place at rel as the object
// rec.Key of bucket, with rec as its record, removing tmp if it fails. The
// file and its record change together under the lock of rel. Both are
// synced before, and the directories whose entries changed after, so that
// the object is durable, with its record, when commit returns.
func (b *Backend) commit(bucket, rel, tmp string, rec *record) error {
	recTmp, err := b.stageJSON(rec)
	if err != nil {
		b.discard(nil, tmp)
		return err
	}
	if err := b.syncAll(tmp, recTmp); err != nil {
		b.discard(nil, tmp)
		b.discard(nil, recTmp)
		return err
	}
	changed := []string{parentDir(rel)}
	for attempt := 1; ; attempt++ {
		made, err := b.mkdirAll(parentDir(rel), rec.Key)
		changed = append(changed, made...)
		if err != nil {
			b.discard(nil, tmp)
			b.discard(nil, recTmp)
			return err
		}
		l := b.locks.of(rel)
		l.Lock()
		err = b.disk.Rename(tmp, rel)
		if err == nil {
			var recChanged []string
			recChanged, err = b.install(recTmp, recordPath(bucket, rec.Key))
			l.Unlock()
			if err != nil {
				return err // the new contents are in place
			}
			return b.syncAll(append(changed, recChanged...)...)
		}
		l.Unlock()
		// A delete may have removed the (empty) directory meanwhile, or
		// empty directories, not markers, may be in the way.
		if attempt < commitAttempts && (errors.Is(err, fs.ErrNotExist) || (isDirectory(err) && b.pruneTree(bucket, rel))) {
			continue
		}
		b.discard(nil, tmp)
		b.discard(nil, recTmp)
		if isNotDir(err) || isDirectory(err) {
			return conflict(rec.Key)
		}
		return fmt.Errorf("put object in place: %w", err)
	}
}

// mkdirAll makes the directory rel and its parents for the key, retrying
// when a concurrent delete removes one of them meanwhile (mkdirs then fails
// with ENOENT, or with EEXIST for a directory that vanished as it looked at
// it). It returns the parent of each directory it made, whose entries
// changed, also when it fails. It fails with InvalidBucketState if an object
// is in the way.
func (b *Backend) mkdirAll(rel, key string) ([]string, error) {
	var changed []string
	for attempt := 1; ; attempt++ {
		made, err := b.mkdirs(rel)
		changed = append(changed, made...)
		switch {
		case err == nil:
			return changed, nil
		case attempt < commitAttempts && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)):
			continue
		case isNotDir(err) || errors.Is(err, fs.ErrExist):
			return changed, conflict(key)
		}
		return changed, fmt.Errorf("create directory %s: %w", rel, err)
	}
}

// mkdirs makes the directory rel and its missing parents, as os.MkdirAll
// does, returning the parent of each directory it made, deepest first. It
// fails with ENOTDIR if rel or one of its parents is a file.
func (b *Backend) mkdirs(rel string) ([]string, error) {
	info, err := b.root.Lstat(dirName(rel))
	switch {
	case err == nil && info.IsDir():
		return nil, nil
	case err == nil:
		return nil, &fs.PathError{Op: "mkdir", Path: rel, Err: syscall.ENOTDIR}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	var made []string
	if parent := parentDir(rel); parent != "" {
		if made, err = b.mkdirs(parent); err != nil {
			return made, err
		}
	}
	if err := b.disk.Mkdir(rel); err != nil {
		if errors.Is(err, fs.ErrExist) {
			if info, serr := b.root.Lstat(rel); serr == nil && info.IsDir() {
				return made, nil // made meanwhile by another request
			}
		}
		return made, err
	}
	return append([]string{parentDir(rel)}, made...), nil
}

// finish closes the finished temporary file f at tmp, returning its
// description; commit makes it durable. It removes the file if it fails.
func (b *Backend) finish(f diskFile, tmp string) (fs.FileInfo, error) {
	info, err := f.Stat()
	if err != nil {
		b.discard(f, tmp)
		return nil, fmt.Errorf("stat: %w", err)
	}
	if err := f.Close(); err != nil {
		b.discard(nil, tmp)
		return nil, fmt.Errorf("close: %w", err)
	}
	return info, nil
}

// conflict is the error for the key that cannot be stored because it is a
// prefix of existing keys, or one of its prefixes is an existing key.
func conflict(key string) error {
	return gofakes3.ErrorMessagef(gofakes3.ErrInvalidBucketState,
		"The key %q conflicts with an existing key: the embedded store keeps keys as files, so a key cannot also be a prefix of other keys, as \"a\" and \"a/b\" would be.", key)
}

// isNotDir reports whether err says a component of a path is not a directory.
func isNotDir(err error) bool {
	return errors.Is(err, syscall.ENOTDIR)
}

// isDirectory reports whether err says a file cannot replace a directory.
func isDirectory(err error) bool {
	return errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY)
}

// closeFile closes f, if any, after reading.
func closeFile(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}

// sectionReadCloser reads a range of a file and closes the file.
type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}

// ctxReader reads from r until ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
