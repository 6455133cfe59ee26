package storage

import (
	"io/fs"

	"github.com/spf13/afero"
)

var (
	_ afero.File = (*Download)(nil)
	_ afero.File = (*Upload)(nil)
	_ afero.File = (*dirHandle)(nil)
)

// handle holds what every open file shares and answers the afero.File methods
// that do not apply to it with ErrUnsupported. The concrete handles
// (Download, Upload, dirHandle) override what they support.
type handle struct {
	name string // clean FTP path
}

func (h handle) pathErr(err error) error { return &fs.PathError{Op: "file", Path: h.name, Err: err} }

// Name returns the FTP path the handle was opened with.
func (h handle) Name() string { return h.name }

func (h handle) Read([]byte) (int, error)           { return 0, h.pathErr(ErrUnsupported) }
func (h handle) ReadAt([]byte, int64) (int, error)  { return 0, h.pathErr(ErrUnsupported) }
func (h handle) Write([]byte) (int, error)          { return 0, h.pathErr(ErrUnsupported) }
func (h handle) WriteAt([]byte, int64) (int, error) { return 0, h.pathErr(ErrUnsupported) }
func (h handle) WriteString(string) (int, error)    { return 0, h.pathErr(ErrUnsupported) }
func (h handle) Seek(int64, int) (int64, error)     { return 0, h.pathErr(ErrUnsupported) }
func (h handle) Readdir(int) ([]fs.FileInfo, error) { return nil, h.pathErr(ErrNotDir) }
func (h handle) Readdirnames(int) ([]string, error) { return nil, h.pathErr(ErrNotDir) }
func (h handle) Stat() (fs.FileInfo, error)         { return nil, h.pathErr(ErrUnsupported) }
func (h handle) Sync() error                        { return nil }
func (h handle) Truncate(int64) error               { return h.pathErr(ErrUnsupported) }
func (h handle) Close() error                       { return nil }
