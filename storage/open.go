package storage

import (
	"errors"
	"io/fs"
	"os"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
)

// GetHandle opens the file at name for an FTP transfer (ftpserverlib's
// ClientDriverExtentionFileTransfer). os.O_RDONLY opens a download starting
// at offset (the REST offset); a write flag starts an upload that replaces
// the file when the returned handle's Close succeeds; with os.O_APPEND (APPE)
// or a non-zero offset (REST before STOR) it keeps the start of the existing
// file and writes after it (see newAppender).
func (f *Fs) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	h, err := f.open(name, flags, offset)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return h, nil
}

// OpenFile opens the file or directory at name, as GetHandle with offset 0;
// a directory opened read-only can be listed with Readdir.
func (f *Fs) OpenFile(name string, flag int, _ os.FileMode) (afero.File, error) {
	h, err := f.open(name, flag, 0)
	if errors.Is(err, ErrIsDir) && flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return &dirHandle{handle: handle{name: clean(name)}, fs: f}, nil
	}
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return h, nil
}

// Open opens name for reading.
func (f *Fs) Open(name string) (afero.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// Create starts an upload that replaces the file at name when closed.
func (f *Fs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
}

// fileTransfer is what open returns: an afero.File usable as an FTP transfer.
type fileTransfer interface {
	afero.File
	ftpserver.FileTransfer
}

func (f *Fs) open(name string, flags int, offset int64) (fileTransfer, error) {
	if flags&(os.O_WRONLY|os.O_RDWR) == 0 {
		return f.newReader(name, offset)
	}
	if isRoot(name) {
		return nil, ErrIsDir
	}
	if flags&os.O_APPEND != 0 || offset != 0 {
		return f.newAppender(name, offset, flags&os.O_APPEND != 0)
	}
	return f.newWriter(name)
}

// dirHandle is a directory opened with Open, for afero callers that list
// through Readdir.
type dirHandle struct {
	handle
	fs   *Fs
	read bool
}

// Readdir returns the directory's entries: all of them on the first call
// (count <= 0 returns them all; count > 0 is ignored, as listings are read
// whole), none on later calls.
func (d *dirHandle) Readdir(int) ([]fs.FileInfo, error) {
	if d.read {
		return nil, nil
	}
	d.read = true
	return d.fs.ReadDir(d.name)
}

// Readdirnames returns the names Readdir would.
func (d *dirHandle) Readdirnames(n int) ([]string, error) {
	infos, err := d.Readdir(n)
	names := make([]string, len(infos))
	for i, fi := range infos {
		names[i] = fi.Name()
	}
	return names, err
}

// Stat describes the directory.
func (d *dirHandle) Stat() (fs.FileInfo, error) { return d.fs.Stat(d.name) }
