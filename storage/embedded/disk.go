package embedded

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
)

// disk is how the Backend changes the data directory: every operation whose
// order decides what a crash leaves behind (creating and writing a file,
// renaming or linking it into place, making and removing entries, flushing
// a file or a directory) goes through it, so that tests can record that
// order. Names are relative to the data directory, "/" separated; "" is the
// data directory itself. Reads go to the os.Root directly.
type disk interface {
	// Create creates the file name, which must not exist, open for
	// writing.
	Create(name string) (diskFile, error)
	// Mkdir creates the directory name; its parent must exist.
	Mkdir(name string) error
	// Rename renames oldname to newname, replacing a file there.
	Rename(oldname, newname string) error
	// Link makes newname a hard link to the file oldname.
	Link(oldname, newname string) error
	// Remove removes the file or empty directory name.
	Remove(name string) error
	// Sync flushes the file name, or the entries of the directory name,
	// to stable storage: fsync(2), which applies to the file, not to the
	// descriptor, so it can be done after the file was closed.
	Sync(name string) error
}

// diskFile is a new file being written. An *os.File is one; its ReadFrom
// copies from another file with copy_file_range(2).
type diskFile interface {
	io.Writer
	io.ReaderFrom
	Stat() (fs.FileInfo, error)
	Close() error
}

// rootDisk is the disk of a data directory opened as an os.Root, so no name
// can lead outside it.
type rootDisk struct {
	root *os.Root
}

var _ disk = rootDisk{}

// Create implements disk.
func (d rootDisk) Create(name string) (diskFile, error) {
	f, err := d.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, err // an untyped nil *os.File would not be a nil diskFile
	}
	return f, nil
}

// Mkdir implements disk.
func (d rootDisk) Mkdir(name string) error { return d.root.Mkdir(name, dirPerm) }

// Rename implements disk.
func (d rootDisk) Rename(oldname, newname string) error { return d.root.Rename(oldname, newname) }

// Link implements disk.
func (d rootDisk) Link(oldname, newname string) error { return d.root.Link(oldname, newname) }

// Remove implements disk.
func (d rootDisk) Remove(name string) error { return d.root.Remove(name) }

// Sync implements disk.
func (d rootDisk) Sync(name string) error {
	f, err := d.root.Open(dirName(name))
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// dirName returns name as os.Root takes it: "." for the data directory.
func dirName(name string) string {
	if name == "" {
		return "."
	}
	return name
}

// syncAll flushes the files and directories names to stable storage, each
// once, unless the store runs without fsync (BackendOptions.NoSync). It
// syncs them all at once: on a journalling file system concurrent fsyncs
// wait for the same journal commit, so this costs about one fsync, not one
// per name. A name removed meanwhile is skipped: what it held went with it.
//
// Files are synced before they are renamed into place; directories after
// a rename, a new directory or a removal in them, before the change is
// acknowledged.
func (b *Backend) syncAll(names ...string) error {
	if b.noSync {
		return nil
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		if slices.Contains(names[:i], name) {
			continue
		}
		wg.Go(func() {
			if err := b.disk.Sync(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs[i] = fmt.Errorf("sync %s: %w", dirName(name), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
