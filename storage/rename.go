package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Rename moves the file or directory at oldname to newname (FTP RNFR/RNTO).
//
// A file is copied server-side (CopyObject, or a multipart copy above 5 GiB)
// and then deleted; an existing file at newname is replaced, an existing
// directory is ErrIsDir. A directory is moved key by key: at most
// Settings.RenameLimit keys (ErrTooMany otherwise, before anything changes),
// newname must not exist (fs.ErrExist) and must not be inside oldname. A
// file above newname is ErrNotDir (see checkParent). If a copy fails, the copies already made are deleted and oldname is left whole.
// S3 has no atomic rename: a reader may see both names while a move runs.
func (f *Fs) Rename(oldname, newname string) error {
	if err := f.rename(oldname, newname); err != nil {
		return &fs.PathError{Op: "rename", Path: clean(oldname) + " -> " + clean(newname), Err: err}
	}
	f.dirs.forget(clean(oldname))
	f.dirs.forget(clean(newname))
	return nil
}

func (f *Fs) rename(oldname, newname string) error {
	if isRoot(oldname) || isRoot(newname) {
		return fs.ErrPermission
	}
	if clean(oldname) == clean(newname) {
		return nil
	}
	oldKey, err := f.jail.key(oldname)
	if err != nil {
		return err
	}
	newKey, err := f.jail.key(newname)
	if err != nil {
		return err
	}
	ctx := f.ctx // each request below gets its own deadline
	src, err := f.stat(ctx, oldname)
	if err != nil {
		return err
	}
	if err := f.checkParent(newname); err != nil {
		return err
	}
	if src.IsDir() {
		return f.renameDir(oldname, newname, oldKey+"/", newKey+"/")
	}
	if _, err := f.statDir(ctx, newname, newKey+"/"); err == nil {
		return ErrIsDir
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := f.copyObject(oldKey, newKey, src.Size()); err != nil {
		return err
	}
	if err := f.deleteKey(ctx, oldKey); err != nil {
		return err
	}
	return f.keepDir(ctx, dirOf(oldname))
}

// renameDir moves every key under oldPrefix to newPrefix.
func (f *Fs) renameDir(oldname, newname, oldPrefix, newPrefix string) error {
	if strings.HasPrefix(newPrefix, oldPrefix) {
		return fmt.Errorf("%w: cannot move a directory into itself", fs.ErrInvalid)
	}
	ctx := f.ctx // each request below gets its own deadline
	switch _, err := f.stat(ctx, newname); {
	case err == nil:
		return fs.ErrExist
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	keys, err := f.listKeys(ctx, oldPrefix)
	if err != nil {
		return err
	}
	for i, k := range keys {
		dst := newPrefix + strings.TrimPrefix(k.key, oldPrefix)
		var err error
		if strings.HasSuffix(k.key, "/") && k.size == 0 {
			// A marker is written afresh: it has no data to copy, and some
			// servers (versitygw) refuse to copy directory objects.
			err = f.putMarker(ctx, dst)
		} else {
			err = f.copyObject(k.key, dst, k.size)
		}
		if err != nil {
			f.undoCopies(keys[:i], oldPrefix, newPrefix)
			return err
		}
	}
	return f.deleteKeys(ctx, keys, dirOf(oldname))
}

// undoCopies deletes the copies made of keys by an interrupted directory move.
// It runs on a fresh context so a cancelled session still cleans up.
func (f *Fs) undoCopies(keys []entry, oldPrefix, newPrefix string) {
	for _, k := range keys {
		if err := f.deleteKey(context.Background(), newPrefix+strings.TrimPrefix(k.key, oldPrefix)); err != nil {
			f.log.Warn("could not delete copy after failed rename", "key", k.key, "err", err)
		}
	}
}

// copySource returns the x-amz-copy-source value of key: bucket and key,
// URL-escaped segment by segment ("+" too, which some servers decode as a
// space).
func (f *Fs) copySource(key string) string {
	segs := strings.Split(f.bucket+"/"+key, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
	}
	return strings.Join(segs, "/")
}

// copyObject copies srcKey (of size bytes) to dstKey server-side: one
// CopyObject up to the single-copy limit, a multipart copy above it.
func (f *Fs) copyObject(srcKey, dstKey string, size int64) error {
	if size > f.svc.copyLimit {
		return f.multipartCopy(srcKey, dstKey)
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.svc.set.PartTimeout)
	defer cancel()
	_, err := f.svc.api.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &f.bucket, Key: &dstKey, CopySource: aws.String(f.copySource(srcKey)),
	})
	return s3Error(err)
}
