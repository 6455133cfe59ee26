package gateway

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway/events"
)

// FileSystem is what a session works on: an afero.Fs plus the ftpserverlib
// extensions for streaming transfers, listings, RMD and HASH. *storage.Fs is
// one.
type FileSystem interface {
	afero.Fs
	GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error)
	ReadDir(name string) ([]fs.FileInfo, error)
	RemoveDir(name string) error
	ComputeHash(name string, algo ftpserver.HASHAlgo, start, end int64) (string, error)
	// Key returns the object key of the file at name.
	Key(name string) (string, error)
}

// clientDriver is the ftpserverlib ClientDriver of one logged-in session. It
// checks the user's permissions before any storage call, converts errors into
// safe replies (see toReply) and accounts for transfers.
type clientDriver struct {
	srv   *Server
	fs    FileSystem
	perms auth.Permissions
	sess  *session
	names *names // legacy charset translation; nil: UTF-8 only

	pattern pendingPattern // a LIST/NLST pattern between Stat and ReadDir (pattern.go)
}

var (
	_ ftpserver.ClientDriver                      = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtentionFileTransfer = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionFileList     = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionRemoveDir    = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionHasher       = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionAllocate     = (*clientDriver)(nil)
)

// reply converts err for the client, logging it when it is not the client's doing.
func (d *clientDriver) reply(op, name string, err error) error {
	r, report := toReply(err)
	if report {
		d.sess.log.Error("storage error", "op", op, "path", name, "err", err)
	}
	return r
}

// require returns a permission error unless the user holds every permission in want.
func (d *clientDriver) require(name string, want auth.Permissions) error {
	if d.perms.Has(want) {
		return nil
	}
	d.sess.log.Info("permission denied", "path", name, "need", want.String())
	return errPermission
}

// canSeeFiles reports whether the user may learn about existing files (their
// size and date). An upload-only account may not; it may still CWD.
func (d *clientDriver) canSeeFiles() bool {
	return d.perms&(auth.PermList|auth.PermDownload|auth.PermRename|auth.PermDelete|auth.PermOverwrite) != 0
}

// Name returns the underlying file system's name.
func (d *clientDriver) Name() string { return d.fs.Name() }

// Stat describes name. Directories are visible to every user (so CWD works
// for upload-only accounts); files only to users who may see files.
func (d *clientDriver) Stat(name string) (fs.FileInfo, error) {
	arg := name
	name = d.names.decode(name)
	fi, err := d.fs.Stat(name)
	if err != nil {
		if dir, ok := d.statPattern(arg, name, err); ok {
			return dir, nil
		}
		return nil, d.reply("stat", name, err)
	}
	if !fi.IsDir() && !d.canSeeFiles() {
		return nil, errPermission
	}
	return d.names.listing([]fs.FileInfo{fi})[0], nil
}

// ReadDir lists a directory, or the entries that match a pattern Stat
// found; it needs the list permission.
func (d *clientDriver) ReadDir(name string) ([]fs.FileInfo, error) {
	name, pattern := d.listTarget(name)
	name = d.names.decode(name)
	if err := d.require(name, auth.PermList); err != nil {
		return nil, err
	}
	infos, err := d.fs.ReadDir(name)
	return d.names.listing(pattern.filter(infos)), d.reply("list", name, err)
}

// Open opens a directory for listing (list permission) or a file for download.
func (d *clientDriver) Open(name string) (afero.File, error) {
	return d.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile opens name like GetHandle, or a directory for listing.
func (d *clientDriver) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	name = d.names.decode(name)
	want := auth.PermDownload
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		want = auth.PermUpload
	}
	if err := d.require(name, want); err != nil {
		return nil, err
	}
	f, err := d.fs.OpenFile(name, flag, perm)
	return f, d.reply("open", name, err)
}

// Create starts an upload to name.
func (d *clientDriver) Create(name string) (afero.File, error) {
	return d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
}

// GetHandle opens a transfer: RETR needs download; STOR needs upload, and
// overwrite when a file is already there (checked only for users without the
// overwrite permission, so the usual upload costs no extra S3 request).
func (d *clientDriver) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	name = d.names.decode(name)
	if d.srv.draining.Load() {
		return nil, errShuttingDown
	}
	upload := flags&(os.O_WRONLY|os.O_RDWR) != 0
	if !upload {
		if err := d.require(name, auth.PermDownload); err != nil {
			return nil, err
		}
	} else {
		if err := d.require(name, auth.PermUpload); err != nil {
			return nil, err
		}
		if flags&os.O_APPEND != 0 || offset > 0 {
			if err := d.require(name, auth.PermOverwrite); err != nil {
				return nil, err
			}
		} else if !d.perms.Has(auth.PermOverwrite) {
			if err := d.refuseOverwrite(name); err != nil {
				return nil, err
			}
		}
	}
	h, err := d.fs.GetHandle(name, flags, offset)
	if err != nil {
		return nil, d.reply("open", name, err)
	}
	return newTransfer(d, h, name, upload, offset), nil
}

// refuseOverwrite returns a permission error if a file exists at name.
func (d *clientDriver) refuseOverwrite(name string) error {
	fi, err := d.fs.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return d.reply("stat", name, err)
	case fi.IsDir():
		return nil // the upload itself reports the conflict
	}
	d.sess.log.Info("permission denied", "path", name, "need", "overwrite")
	return errPermission
}

// Mkdir creates a directory; it needs the mkdir permission.
func (d *clientDriver) Mkdir(name string, perm os.FileMode) error {
	name = d.names.decode(name)
	if err := d.require(name, auth.PermMkdir); err != nil {
		return err
	}
	err := d.fs.Mkdir(name, perm)
	d.sess.logChange(err, "mkdir", name)
	return d.reply("mkdir", name, err)
}

// MkdirAll creates a directory unless it exists; it needs the mkdir permission.
func (d *clientDriver) MkdirAll(name string, perm os.FileMode) error {
	name = d.names.decode(name)
	if err := d.require(name, auth.PermMkdir); err != nil {
		return err
	}
	err := d.fs.MkdirAll(name, perm)
	d.sess.logChange(err, "mkdir", name)
	return d.reply("mkdir", name, err)
}

// Remove deletes a file (DELE); it needs the delete permission.
func (d *clientDriver) Remove(name string) error {
	name = d.names.decode(name)
	if err := d.require(name, auth.PermDelete); err != nil {
		return err
	}
	err := d.fs.Remove(name)
	d.sess.logChange(err, "delete", name)
	if err == nil {
		key, _ := d.fs.Key(name)
		d.srv.events.Publish(d.event(events.TypeDelete, name, key))
	}
	return d.reply("delete", name, err)
}

// RemoveDir deletes an empty directory (RMD); it needs the rmdir permission.
func (d *clientDriver) RemoveDir(name string) error {
	name = d.names.decode(name)
	if err := d.require(name, auth.PermRmdir); err != nil {
		return err
	}
	err := d.fs.RemoveDir(name)
	d.sess.logChange(err, "rmdir", name)
	return d.reply("rmdir", name, err)
}

// RemoveAll deletes a tree (SITE RMDIR); it needs both delete and rmdir.
func (d *clientDriver) RemoveAll(name string) error {
	name = d.names.decode(name)
	if err := d.require(name, auth.PermDelete|auth.PermRmdir); err != nil {
		return err
	}
	err := d.fs.RemoveAll(name)
	d.sess.logChange(err, "rmtree", name)
	return d.reply("rmtree", name, err)
}

// Rename moves a file or directory (RNFR/RNTO); it needs the rename
// permission, and overwrite when it would replace a file.
func (d *clientDriver) Rename(oldname, newname string) error {
	oldname = d.names.decode(oldname)
	newname = d.names.decode(newname)
	if err := d.require(oldname, auth.PermRename); err != nil {
		return err
	}
	if !d.perms.Has(auth.PermOverwrite) {
		if err := d.refuseOverwrite(newname); err != nil {
			return err
		}
	}
	err := d.fs.Rename(oldname, newname)
	d.sess.logChange(err, "rename", oldname, "to", path.Clean(newname))
	if err == nil {
		oldKey, _ := d.fs.Key(oldname)
		newKey, _ := d.fs.Key(newname)
		e := d.event(events.TypeRename, newname, newKey)
		e.OldKey, e.OldPath = oldKey, path.Clean("/"+oldname)
		d.srv.events.Publish(e)
	}
	return d.reply("rename", oldname, err)
}

// Chmod accepts SITE CHMOD as a no-op on an existing file or directory.
func (d *clientDriver) Chmod(name string, mode os.FileMode) error {
	name = d.names.decode(name)
	if _, err := d.Stat(name); err != nil {
		return err
	}
	return d.reply("chmod", name, d.fs.Chmod(name, mode))
}

// Chown accepts SITE CHOWN as a no-op on an existing file or directory.
func (d *clientDriver) Chown(name string, uid, gid int) error {
	name = d.names.decode(name)
	if _, err := d.Stat(name); err != nil {
		return err
	}
	return d.reply("chown", name, d.fs.Chown(name, uid, gid))
}

// Chtimes (MFMT) needs the overwrite permission; S3 itself refuses it.
func (d *clientDriver) Chtimes(name string, atime, mtime time.Time) error {
	name = d.names.decode(name)
	if err := d.require(name, auth.PermOverwrite); err != nil {
		return err
	}
	return d.reply("chtimes", name, d.fs.Chtimes(name, atime, mtime))
}

// ComputeHash answers HASH, XSHA256, XCRC, MD5...: it needs the download
// permission, as the digest tells about the content.
func (d *clientDriver) ComputeHash(name string, algo ftpserver.HASHAlgo, start, end int64) (string, error) {
	name = d.names.decode(name)
	if err := d.require(name, auth.PermDownload); err != nil {
		return "", err
	}
	sum, err := d.fs.ComputeHash(name, algo, start, end)
	return sum, d.reply("hash", name, err)
}

// AllocateSpace accepts ALLO: S3 needs no space reserved.
func (d *clientDriver) AllocateSpace(int) error { return nil }

// event returns an event of type typ about the file at name (key in S3),
// with the session's user, bucket, client and id.
func (d *clientDriver) event(typ, name, key string) events.Event {
	return events.Event{
		Type: typ, User: d.sess.user, Bucket: d.sess.bucket, Key: key, Path: path.Clean("/" + name),
		ClientIP: d.sess.client.String(), Session: d.sess.id,
	}
}
