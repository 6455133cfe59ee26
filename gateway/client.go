package gateway

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/storage"
)

// FileSystem is what a session works on: an afero.Fs plus streaming
// transfers with a start offset, listings page by page and whole, RMD,
// digests and object keys. *storage.Fs is one; the gateway adapts it to ftpserverlib.
type FileSystem interface {
	afero.Fs
	Download(name string, offset int64) (*storage.Download, error)
	Upload(name string, flags int, offset int64) (*storage.Upload, error)
	ListDir(name string) (*storage.Listing, error)
	ReadDir(name string) ([]fs.FileInfo, error)
	// StatFile describes the file at name, fs.ErrNotExist if there is
	// none (a directory included).
	StatFile(name string) (fs.FileInfo, error)
	// Chdir returns nil if a directory is at name, storage.ErrNotDir if
	// a file is, fs.ErrNotExist if nothing is (possibly from memory).
	Chdir(name string) error
	RemoveDir(name string) error
	ComputeHash(name string, algo crypto.Hash, start, end int64) (string, error)
	// Key returns the object key of the file at name.
	Key(name string) (string, error)
}

var _ FileSystem = (*storage.Fs)(nil)

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
	_ ftpserver.ClientDriverExtensionFileLister   = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionRemoveDir    = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionHasher       = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionAllocate     = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionChdir        = (*clientDriver)(nil)
)

// command says how run treats one FTP command.
type command struct {
	op       string           // its name in logs and replies
	need     auth.Permissions // the permissions the user must hold
	transfer bool             // refused while the server shuts down
	change   bool             // it changes the file system: one log line
	// check, when not nil, may refuse the command after the permissions
	// and before the call (the overwrite rule).
	check func(name string) error
}

// run is the one path of every command: the client's name decoded, the
// shutdown and the permissions checked, call made on the decoded name, a
// change logged (with logArgs), and its error turned into a reply.
func (d *clientDriver) run(c command, rawName string, call func(name string) error, logArgs ...any) error {
	name := d.names.decode(rawName)
	if c.transfer && d.srv.draining.Load() {
		return errShuttingDown
	}
	if err := d.require(name, c.need); err != nil {
		return err
	}
	if c.check != nil {
		if err := c.check(name); err != nil {
			return err
		}
	}
	err := call(name)
	if c.change {
		d.sess.logChange(err, c.op, name, logArgs...)
	}
	return d.reply(c.op, name, err)
}

// reply converts err for the client, logging it, with its S3 error code,
// when it is not the client's doing.
func (d *clientDriver) reply(op, name string, err error) error {
	r, report := toReply(err)
	if report {
		d.sess.log.Error("storage error", "op", op, "path", name, "s3_code", storage.ErrorCode(err), "err", err)
	}
	return r
}

// require returns a permission error unless the user holds every permission in want.
func (d *clientDriver) require(name string, want auth.Permissions) error {
	if d.perms.Has(want) {
		return nil
	}
	d.sess.log.Info("permission denied", "path", name, "need", (want &^ d.perms).String())
	return errPermission
}

// canSeeFiles reports whether the user may learn about existing files (their
// size and date). An upload-only account may not; it may still CWD.
func (d *clientDriver) canSeeFiles() bool {
	return d.perms&(auth.PermList|auth.PermDownload|auth.PermRename|auth.PermDelete|auth.PermOverwrite) != 0
}

// Name returns the underlying file system's name.
func (d *clientDriver) Name() string { return d.fs.Name() }

// Stat describes the file or directory arg names. Directories are visible
// to every user (so CWD works for upload-only accounts); files only to users
// who may see files. For LIST and NLST, an arg that names nothing but ends
// in a pattern is a directory standing for the matches (see statPattern).
func (d *clientDriver) Stat(arg string) (fi fs.FileInfo, err error) {
	var pattern fs.FileInfo
	err = d.run(command{op: "stat"}, arg, func(name string) error {
		fi, err = d.stat(name)
		if err != nil {
			if dir, ok := d.statPattern(arg, name, err); ok {
				pattern = dir
				return nil
			}
		}
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case pattern != nil:
		return pattern, nil
	}
	return d.names.listing([]fs.FileInfo{fi})[0], nil
}

// Chdir answers CWD: nil if a directory is at arg. As for Stat,
// directories are visible to every user, and only users who may see files
// learn that a file is there.
func (d *clientDriver) Chdir(arg string) error {
	return d.run(command{op: "cwd"}, arg, func(name string) error {
		err := d.fs.Chdir(name)
		if errors.Is(err, storage.ErrNotDir) && !d.canSeeFiles() {
			return errPermission
		}
		return err
	})
}

// stat is Stat of a decoded name.
func (d *clientDriver) stat(name string) (fs.FileInfo, error) {
	fi, err := d.fs.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() && !d.canSeeFiles() {
		return nil, errPermission
	}
	return fi, nil
}

// ListDir lists a directory page by page (LIST, NLST, MLSD), or the
// entries that match a pattern Stat found; it needs the list permission.
// It reads the first page, so a directory that cannot be listed is refused
// before the data connection is used. Entries come in the order of
// storage.Fs.ListDir.
func (d *clientDriver) ListDir(arg string) (ftpserver.DirLister, error) {
	dir, pattern := d.listTarget(arg)
	var l *storage.Listing
	err := d.run(command{op: "list", need: auth.PermList}, dir, func(name string) (err error) {
		l, err = d.fs.ListDir(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &pageLister{d: d, l: l, pattern: pattern, name: dir}, nil
}

// pageLister hands ftpserverlib the pages of a storage listing, filtered
// by the pattern and with names encoded for the client.
type pageLister struct {
	d       *clientDriver
	l       *storage.Listing
	pattern *listPattern // nil: every entry
	name    string
}

// Next returns the next page; a failed page is a safe reply error.
func (p *pageLister) Next() ([]fs.FileInfo, error) {
	page, err := p.l.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, p.d.reply("list", p.name, err)
	}
	return p.d.names.listing(p.pattern.filter(page)), err
}

// Close ends the listing.
func (p *pageLister) Close() error { return p.l.Close() }

// ReadDir lists a directory whole (STAT of a directory), or the entries
// that match a pattern Stat found; it needs the list permission.
func (d *clientDriver) ReadDir(arg string) (infos []fs.FileInfo, err error) {
	dir, pattern := d.listTarget(arg)
	err = d.run(command{op: "list", need: auth.PermList}, dir, func(name string) error {
		infos, err = d.fs.ReadDir(name)
		return err
	})
	return d.names.listing(pattern.filter(infos)), err
}

// Open opens a directory for listing (list permission) or a file for download.
func (d *clientDriver) Open(name string) (afero.File, error) {
	return d.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile opens name with the rules of GetHandle (offset 0), or a
// directory for listing; the file is not accounted as a transfer.
func (d *clientDriver) OpenFile(name string, flag int, perm os.FileMode) (f afero.File, err error) {
	err = d.run(d.openCommand(flag, 0), name, func(name string) error {
		f, err = d.fs.OpenFile(name, flag, perm)
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Create starts an upload to name.
func (d *clientDriver) Create(name string) (afero.File, error) {
	return d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
}

// GetHandle opens a transfer (RETR, STOR, APPE) with the rules of
// openCommand.
func (d *clientDriver) GetHandle(name string, flags int, offset int64) (t ftpserver.FileTransfer, err error) {
	err = d.run(d.openCommand(flags, offset), name, func(name string) error {
		if flags&(os.O_WRONLY|os.O_RDWR) == 0 {
			h, err := d.fs.Download(name, offset)
			if err == nil {
				t = newTransfer(d, h, nil, name, offset)
			}
			return err
		}
		h, err := d.fs.Upload(name, flags, offset)
		if err == nil {
			t = newTransfer(d, h, h, name, offset)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// openCommand is the command that opens a file with flags at offset. It is
// refused during a shutdown. A download needs the download permission; an
// upload needs upload, and overwrite for APPE or a REST offset, or when a
// file is already there (checked only for users without the overwrite
// permission, so the usual upload costs no extra S3 request).
func (d *clientDriver) openCommand(flags int, offset int64) command {
	c := command{op: "open", need: auth.PermDownload, transfer: true}
	if flags&(os.O_WRONLY|os.O_RDWR) == 0 {
		return c
	}
	c.need = auth.PermUpload
	switch {
	case flags&os.O_APPEND != 0 || offset > 0:
		c.need |= auth.PermOverwrite
	case !d.perms.Has(auth.PermOverwrite):
		c.check = d.refuseOverwrite
	}
	return c
}

// refuseOverwrite returns a permission error if a file exists at name (one
// HeadObject; a directory there is the upload's own conflict).
func (d *clientDriver) refuseOverwrite(name string) error {
	switch _, err := d.fs.StatFile(name); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return d.reply("stat", name, err)
	}
	d.sess.log.Info("permission denied", "path", name, "need", "overwrite")
	return errPermission
}

// Mkdir creates a directory; it needs the mkdir permission.
func (d *clientDriver) Mkdir(name string, perm os.FileMode) error {
	return d.run(command{op: "mkdir", need: auth.PermMkdir, change: true}, name, func(name string) error {
		return d.fs.Mkdir(name, perm)
	})
}

// MkdirAll creates a directory unless it exists; it needs the mkdir permission.
func (d *clientDriver) MkdirAll(name string, perm os.FileMode) error {
	return d.run(command{op: "mkdir", need: auth.PermMkdir, change: true}, name, func(name string) error {
		return d.fs.MkdirAll(name, perm)
	})
}

// Remove deletes a file (DELE); it needs the delete permission.
func (d *clientDriver) Remove(name string) error {
	return d.run(command{op: "delete", need: auth.PermDelete, change: true}, name, func(name string) error {
		if err := d.fs.Remove(name); err != nil {
			return err
		}
		key, _ := d.fs.Key(name)
		d.srv.events.Publish(d.event(events.TypeDelete, name, key))
		return nil
	})
}

// RemoveDir deletes an empty directory (RMD); it needs the rmdir permission.
func (d *clientDriver) RemoveDir(name string) error {
	return d.run(command{op: "rmdir", need: auth.PermRmdir, change: true}, name, d.fs.RemoveDir)
}

// RemoveAll deletes a tree (SITE RMDIR); it needs both delete and rmdir.
func (d *clientDriver) RemoveAll(name string) error {
	return d.run(command{op: "rmtree", need: auth.PermDelete | auth.PermRmdir, change: true}, name, d.fs.RemoveAll)
}

// Rename moves a file or directory (RNFR/RNTO); it needs the rename
// permission, and overwrite when it would replace a file.
func (d *clientDriver) Rename(oldname, newname string) error {
	newname = d.names.decode(newname)
	c := command{op: "rename", need: auth.PermRename, change: true}
	if !d.perms.Has(auth.PermOverwrite) {
		c.check = func(string) error { return d.refuseOverwrite(newname) }
	}
	return d.run(c, oldname, func(oldname string) error {
		if err := d.fs.Rename(oldname, newname); err != nil {
			return err
		}
		oldKey, _ := d.fs.Key(oldname)
		newKey, _ := d.fs.Key(newname)
		e := d.event(events.TypeRename, newname, newKey)
		e.OldKey, e.OldPath = oldKey, path.Clean("/"+oldname)
		d.srv.events.Publish(e)
		return nil
	}, "to", path.Clean(newname))
}

// Chmod accepts SITE CHMOD as a no-op on an existing file or directory the
// user may see.
func (d *clientDriver) Chmod(name string, mode os.FileMode) error {
	return d.run(command{op: "chmod"}, name, func(name string) error {
		if _, err := d.stat(name); err != nil {
			return err
		}
		return d.fs.Chmod(name, mode)
	})
}

// Chown accepts SITE CHOWN as a no-op on an existing file or directory the
// user may see.
func (d *clientDriver) Chown(name string, uid, gid int) error {
	return d.run(command{op: "chown"}, name, func(name string) error {
		if _, err := d.stat(name); err != nil {
			return err
		}
		return d.fs.Chown(name, uid, gid)
	})
}

// Chtimes (MFMT) needs the overwrite permission; S3 itself refuses it.
func (d *clientDriver) Chtimes(name string, atime, mtime time.Time) error {
	return d.run(command{op: "chtimes", need: auth.PermOverwrite}, name, func(name string) error {
		return d.fs.Chtimes(name, atime, mtime)
	})
}

// ComputeHash answers HASH, XSHA256, XCRC, MD5...: it needs the download
// permission, as the digest tells about the content.
func (d *clientDriver) ComputeHash(name string, algo ftpserver.HASHAlgo, start, end int64) (sum string, err error) {
	err = d.run(command{op: "hash", need: auth.PermDownload}, name, func(name string) error {
		h, ok := hashAlgos[algo]
		if !ok {
			return fmt.Errorf("%w: hash algorithm %d", storage.ErrUnsupported, algo)
		}
		sum, err = d.fs.ComputeHash(name, h, start, end)
		return err
	})
	return sum, err
}

// hashAlgos maps ftpserverlib's HASH algorithms to storage's.
var hashAlgos = map[ftpserver.HASHAlgo]crypto.Hash{
	ftpserver.HASHAlgoCRC32:  storage.CRC32,
	ftpserver.HASHAlgoMD5:    crypto.MD5,
	ftpserver.HASHAlgoSHA1:   crypto.SHA1,
	ftpserver.HASHAlgoSHA256: crypto.SHA256,
	ftpserver.HASHAlgoSHA512: crypto.SHA512,
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
