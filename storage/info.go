package storage

import (
	"io/fs"
	"path"
	"time"
)

// fileInfo describes an object (a file) or a prefix (a directory).
type fileInfo struct {
	name    string // base name
	size    int64
	modTime time.Time
	dir     bool
}

var _ fs.FileInfo = fileInfo{}

func newFileInfo(name string, size int64, mod time.Time) fileInfo {
	return fileInfo{name: path.Base(name), size: size, modTime: mod}
}

// newDirInfo describes a directory. mod is its marker's LastModified, or the
// zero time when S3 has no date for it (a directory implied by the keys
// under it, the root, or one seen as a common prefix in a listing): the
// zero time means "unknown", and the FTP layer shows it as such.
func newDirInfo(name string, mod time.Time) fileInfo {
	return fileInfo{name: path.Base(name), modTime: mod, dir: true}
}

func (fi fileInfo) Name() string { return fi.name }
func (fi fileInfo) Size() int64  { return fi.size }

// Mode is 0755 for directories and 0644 for files: S3 has no permissions, these
// only make listings look familiar.
func (fi fileInfo) Mode() fs.FileMode {
	if fi.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (fi fileInfo) ModTime() time.Time { return fi.modTime }
func (fi fileInfo) IsDir() bool        { return fi.dir }
func (fi fileInfo) Sys() any           { return nil }
