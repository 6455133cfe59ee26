package storage

import (
	"errors"
	"io/fs"
	"os"

	"github.com/spf13/afero"
)

// Download opens the file at name for reading from offset (the REST
// offset). It fails before any data moves: fs.ErrNotExist for a missing
// file, ErrIsDir for a directory, fs.ErrInvalid for an offset past the end.
func (f *Fs) Download(name string, offset int64) (*Download, error) {
	r, err := f.newReader(name, offset)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return r, nil
}

// Upload starts an upload to the file at name that replaces it when the
// returned Upload's Close succeeds. It returns ErrNotDir if a directory above
// name is a file (see checkParent). With os.O_APPEND in flags (APPE) or a
// non-zero offset (REST before STOR) it keeps the start of the existing
// file and writes after it (see newAppender). Other flags are ignored.
func (f *Fs) Upload(name string, flags int, offset int64) (*Upload, error) {
	w, err := f.upload(name, flags, offset)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return w, nil
}

func (f *Fs) upload(name string, flags int, offset int64) (*Upload, error) {
	if isRoot(name) {
		return nil, ErrIsDir
	}
	if err := f.checkParent(name); err != nil {
		return nil, err
	}
	f.dirs.replaced(clean(name)) // a file is going there
	if flags&os.O_APPEND != 0 || offset != 0 {
		return f.newAppender(name, offset, flags&os.O_APPEND != 0)
	}
	return f.newWriter(name)
}

// OpenFile opens the file at name as Download (flag read-only) or Upload (a
// write flag) do with offset 0; a directory opened read-only can be listed
// with Readdir.
func (f *Fs) OpenFile(name string, flag int, _ os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		w, err := f.Upload(name, flag, 0)
		if err != nil {
			return nil, err // not a nil *Upload in a non-nil afero.File
		}
		return w, nil
	}
	r, err := f.newReader(name, 0)
	if errors.Is(err, ErrIsDir) {
		return &dirHandle{handle: handle{name: clean(name)}, fs: f}, nil
	}
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return r, nil
}

// Open opens name for reading.
func (f *Fs) Open(name string) (afero.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// Create starts an upload that replaces the file at name when closed.
func (f *Fs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
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
