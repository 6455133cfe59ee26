package storage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/afero"
)

// Fs is an afero.Fs over the objects of one bucket under one key prefix.
// Paths are FTP paths: "/" is the prefix, "/a/b" is the object prefix+"a/b",
// and a directory is a marker object "a/" or any key starting with "a/". No
// path reaches outside the prefix: ".." stops at "/".
//
// Beyond afero, Fs gives streaming handles with a start offset (Download,
// Upload), whole-directory listings (ReadDir), RemoveDir and digests
// (ComputeHash); it knows nothing of FTP's protocol.
//
// An Fs keeps the context of the session it serves (afero's methods take
// none); every S3 request derives its context from it.
type Fs struct {
	svc    *Service
	ctx    context.Context
	bucket string
	jail   jail
	log    *slog.Logger
	dirs   dirMemory // the directories this session knows of, for a short time (dirs.go)
	// firstBuf is the capacity the session's next upload starts with: the
	// buffer its last single-request upload needed (a camera's pictures
	// are alike), so that it is not grown and copied each time.
	firstBuf atomic.Int64
}

var _ afero.Fs = (*Fs)(nil)

// Name returns "s3".
func (f *Fs) Name() string { return "s3" }

// reqCtx returns the context for one metadata request of the session.
func (f *Fs) reqCtx() (context.Context, context.CancelFunc) {
	return f.request(f.ctx)
}

// request returns the context of one S3 request made under parent (the
// session's context, or a fresh one for cleanup): parent with its own
// deadline. Functions that send several requests pass parent down, never a
// context with a deadline, so a long sequence cannot run out of time after
// doing its work.
func (f *Fs) request(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, f.svc.set.RequestTimeout)
}

// Stat describes the file or directory at name. A key that is both an object
// and a prefix is reported as the file.
func (f *Fs) Stat(name string) (fs.FileInfo, error) {
	if fi, ok := f.dirs.dir(clean(name)); ok {
		return fi, nil
	}
	fi, err := f.stat(f.ctx, name)
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	if fi.IsDir() {
		f.dirs.rememberDir(clean(name), fi.ModTime(), nil)
	}
	return fi, nil
}

// Chdir returns nil if a directory is at name (FTP's CWD), ErrNotDir if a
// file is, fs.ErrNotExist if nothing is. It answers from what the session
// remembers (dirs.go) where it can, a name missing from a remembered
// listing included, and otherwise with findDir: one listing of the
// directory, whose names it then remembers, and a HeadObject only when the
// listing is empty; where it found nothing is remembered too. So a
// camera's CWD into a folder costs one listing per session, and its CWD
// into each new directory it then makes, and that MKD's check, nothing.
func (f *Fs) Chdir(name string) error {
	if err := f.chdir(f.ctx, name); err != nil {
		return pathError("chdir", name, err)
	}
	return nil
}

func (f *Fs) chdir(ctx context.Context, name string) error {
	p := clean(name)
	if _, ok := f.dirs.dir(p); ok || isRoot(p) {
		return nil
	}
	switch exists, dir, known := f.dirs.child(p); {
	case dir:
		return nil
	case exists:
		return ErrNotDir
	case known || f.dirs.absent(p):
		return fs.ErrNotExist
	}
	prefix, err := f.jail.dirPrefix(name)
	if err != nil {
		return err
	}
	switch err := f.findDir(ctx, name, prefix); {
	case errors.Is(err, fs.ErrExist):
		if _, ok := f.dirs.dir(p); ok {
			return nil
		}
		return ErrNotDir
	case err != nil:
		return err
	}
	f.dirs.rememberAbsent(p)
	return fs.ErrNotExist
}

// StatFile describes the file at name with one HeadObject: fs.ErrNotExist
// when no object is there, a directory included.
func (f *Fs) StatFile(name string) (fs.FileInfo, error) {
	key, err := f.jail.key(name)
	if err == nil && isRoot(name) {
		err = fs.ErrNotExist
	}
	var fi fileInfo
	if err == nil {
		fi, err = f.headFile(f.ctx, name, key)
	}
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	return fi, nil
}

// LstatIfPossible is Stat: S3 has no symbolic links.
func (f *Fs) LstatIfPossible(name string) (fs.FileInfo, bool, error) {
	fi, err := f.Stat(name)
	return fi, false, err
}

// stat returns the file or directory at name: HEAD of the key, then a
// one-key listing of "key/" when the HEAD found nothing. Each request gets
// its own deadline under ctx.
func (f *Fs) stat(ctx context.Context, name string) (fileInfo, error) {
	if isRoot(name) {
		return newDirInfo("/", time.Time{}), nil
	}
	key, err := f.jail.key(name)
	if err != nil {
		return fileInfo{}, err
	}
	fi, err := f.headFile(ctx, name, key)
	if !errors.Is(err, fs.ErrNotExist) {
		return fi, err
	}
	return f.statDir(ctx, name, key+"/")
}

// headFile returns the object at key as a file.
func (f *Fs) headFile(ctx context.Context, name, key string) (fileInfo, error) {
	ctx, cancel := f.request(ctx)
	defer cancel()
	out, err := f.svc.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	if err != nil {
		return fileInfo{}, s3Error(err)
	}
	return newFileInfo(name, aws.ToInt64(out.ContentLength), aws.ToTime(out.LastModified)), nil
}

// statDir returns the directory whose listing prefix is prefix, using the
// marker's date when the first key is the marker.
func (f *Fs) statDir(ctx context.Context, name, prefix string) (fileInfo, error) {
	ctx, cancel := f.request(ctx)
	defer cancel()
	out, err := f.svc.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: &f.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return fileInfo{}, s3Error(err)
	}
	if len(out.Contents) == 0 {
		return fileInfo{}, fs.ErrNotExist
	}
	var mod time.Time
	if first := out.Contents[0]; aws.ToString(first.Key) == prefix {
		mod = aws.ToTime(first.LastModified)
	}
	return newDirInfo(name, mod), nil
}

// putMarker writes the empty marker object of the directory with listing
// prefix prefix.
func (f *Fs) putMarker(ctx context.Context, prefix string) error {
	ctx, cancel := f.request(ctx)
	defer cancel()
	_, err := f.svc.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &f.bucket, Key: &prefix, Body: bytes.NewReader(nil), ContentLength: aws.Int64(0),
	})
	return s3Error(err)
}

// Mkdir creates the directory at name by writing its marker object. Parents
// need not exist (S3 directories are implied by their keys), but none may be
// a file (ErrNotDir). It returns fs.ErrExist if a file or directory is there.
//
// What the session remembers (dirs.go) answers without S3 requests: a
// directory it has seen is there, a name missing from a listing of the
// parent it made in the last dirMemoryTTL is not, nor one where a CWD found
// nothing (then only the parents are checked). Otherwise one listing
// of the directory answers (and is remembered), with a HeadObject when it
// is empty, as for a new directory.
func (f *Fs) Mkdir(name string, _ os.FileMode) error {
	if err := f.mkdir(f.ctx, name); err != nil {
		return pathError("mkdir", name, err)
	}
	f.dirs.added(clean(name), true)
	return nil
}

func (f *Fs) mkdir(ctx context.Context, name string) error {
	if isRoot(name) {
		return fs.ErrExist
	}
	prefix, err := f.jail.dirPrefix(name)
	if err != nil {
		return err
	}
	p := clean(name)
	if _, ok := f.dirs.dir(p); ok {
		return fs.ErrExist
	}
	switch exists, _, known := f.dirs.child(p); {
	case exists:
		return fs.ErrExist
	case !known:
		if !f.dirs.absent(p) { // nothing there when a CWD looked
			if err := f.findDir(ctx, name, prefix); err != nil {
				return err
			}
		}
		if err := f.checkParent(name); err != nil {
			return err
		}
	}
	return f.putMarker(ctx, prefix)
}

// MkdirAll creates the directory at name unless it already exists. Only the
// last directory gets a marker: the ones above it are implied by its key.
func (f *Fs) MkdirAll(name string, perm os.FileMode) error {
	err := f.Mkdir(name, perm)
	if errors.Is(err, fs.ErrExist) {
		fi, statErr := f.Stat(name)
		if statErr != nil {
			return statErr
		}
		if !fi.IsDir() {
			return pathError("mkdir", name, ErrNotDir)
		}
		return nil
	}
	return err
}

// Remove deletes the file at name (FTP DELE). It returns ErrIsDir for a
// directory (use RemoveDir) and fs.ErrNotExist when there is nothing. If the
// file was the last entry of its directory, the directory keeps existing.
func (f *Fs) Remove(name string) error {
	if err := f.removeFile(f.ctx, name); err != nil {
		return pathError("remove", name, err)
	}
	f.dirs.forget(clean(name))
	return nil
}

func (f *Fs) removeFile(ctx context.Context, name string) error {
	if isRoot(name) {
		return ErrIsDir
	}
	key, err := f.jail.key(name)
	if err != nil {
		return err
	}
	if _, err := f.headFile(ctx, name, key); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, dirErr := f.statDir(ctx, name, key+"/"); dirErr == nil {
				return ErrIsDir
			}
		}
		return err
	}
	if err := f.deleteKey(ctx, key); err != nil {
		return err
	}
	return f.keepDir(ctx, dirOf(name))
}

// deleteKey deletes one object.
func (f *Fs) deleteKey(ctx context.Context, key string) error {
	ctx, cancel := f.request(ctx)
	defer cancel()
	_, err := f.svc.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &key})
	return s3Error(err)
}

// keepDir writes the marker of the directory at dir if nothing is left under
// it, so that deleting or moving away a directory's last entry does not make
// the directory itself vanish, as it would in plain S3.
func (f *Fs) keepDir(ctx context.Context, dir string) error {
	if isRoot(dir) {
		return nil
	}
	prefix, err := f.jail.dirPrefix(dir)
	if err != nil {
		return err
	}
	if _, err := f.statDir(ctx, dir, prefix); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return f.putMarker(ctx, prefix)
}

// RemoveDir deletes the empty directory at name (FTP RMD). It returns
// ErrNotEmpty if entries remain, ErrNotDir for a file and fs.ErrPermission
// for the root.
func (f *Fs) RemoveDir(name string) error {
	if err := f.removeDir(f.ctx, name); err != nil {
		return pathError("rmdir", name, err)
	}
	f.dirs.forget(clean(name))
	return nil
}

func (f *Fs) removeDir(ctx context.Context, name string) error {
	if isRoot(name) {
		return fs.ErrPermission
	}
	prefix, err := f.jail.dirPrefix(name)
	if err != nil {
		return err
	}
	lctx, cancel := f.request(ctx)
	out, err := f.svc.api.ListObjectsV2(lctx, &s3.ListObjectsV2Input{
		Bucket: &f.bucket, Prefix: &prefix, MaxKeys: aws.Int32(2),
	})
	cancel()
	if err != nil {
		return s3Error(err)
	}
	marker := false
	for _, obj := range out.Contents {
		if aws.ToString(obj.Key) != prefix {
			return ErrNotEmpty
		}
		marker = true
	}
	if !marker {
		if _, err := f.stat(ctx, name); err != nil {
			return err
		}
		return ErrNotDir
	}
	if err := f.deleteKey(ctx, prefix); err != nil {
		return err
	}
	return f.keepDir(ctx, dirOf(name))
}

// RemoveAll deletes the directory tree at name (FTP SITE RMDIR). It refuses
// the root (fs.ErrPermission), a file (ErrNotDir: DELE removes files), a
// missing name (fs.ErrNotExist), and trees of more than
// Settings.RenameLimit keys (ErrTooMany), each before deleting anything.
func (f *Fs) RemoveAll(name string) error {
	if err := f.removeAll(name); err != nil {
		return pathError("removeall", name, err)
	}
	f.dirs.forget(clean(name))
	return nil
}

func (f *Fs) removeAll(name string) error {
	if isRoot(name) {
		return fs.ErrPermission
	}
	fi, err := f.stat(f.ctx, name)
	switch {
	case err != nil:
		return err
	case !fi.IsDir():
		return ErrNotDir
	}
	prefix, err := f.jail.dirPrefix(name)
	if err != nil {
		return err
	}
	keys, err := f.listKeys(f.ctx, prefix)
	if err != nil {
		return err
	}
	return f.deleteKeys(f.ctx, keys, dirOf(name))
}

// deleteKeys deletes keys, each with its own request deadline, then keeps
// the directory dir (see keepDir).
func (f *Fs) deleteKeys(ctx context.Context, keys []entry, dir string) error {
	for _, k := range keys {
		if err := f.deleteKey(ctx, k.key); err != nil {
			return err
		}
	}
	return f.keepDir(ctx, dir)
}

// Chmod checks that name exists and otherwise does nothing: S3 objects have
// no mode bits.
func (f *Fs) Chmod(name string, _ os.FileMode) error {
	_, err := f.Stat(name)
	return err
}

// Chown checks that name exists and otherwise does nothing.
func (f *Fs) Chown(name string, _, _ int) error {
	_, err := f.Stat(name)
	return err
}

// Chtimes returns ErrUnsupported: S3 sets LastModified itself and it cannot
// be changed without rewriting the object.
func (f *Fs) Chtimes(name string, _, _ time.Time) error {
	return pathError("chtimes", name, ErrUnsupported)
}
