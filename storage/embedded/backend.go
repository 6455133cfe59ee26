// Package embedded is the S3-compatible store that `s3ftp serve` runs in
// process when no S3 endpoint is configured: a rclone/gofakes3 server on
// loopback whose Backend keeps every object as a plain file Dir/<bucket>/<key>
// and its bookkeeping under Dir/.s3ftp. Objects and multipart parts stream to
// and from disk; writes land in a temporary file that is renamed into place
// when complete. See docs/embedded-store.md for the layout and its limits.
package embedded

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/rclone/gofakes3"
)

// File and directory permissions of everything the store creates.
const (
	filePerm = 0o640
	dirPerm  = 0o750
)

// Backend is a gofakes3.Backend and gofakes3.MultipartBackend keeping objects
// as files under one directory. It is safe for concurrent use; uploads of
// different keys, and of the same key, proceed in parallel and the last to
// complete wins. Versioning is not supported.
//
// Its methods return the S3 errors gofakes3 documents for them (NoSuchBucket,
// NoSuchKey, InvalidArgument for a key that cannot be a file, ...) as
// gofakes3 error values, unwrapped, because gofakes3 recognises them only by
// type; any other error is an internal failure (gofakes3 answers
// InternalError and logs it).
type Backend struct {
	root   *os.Root
	disk   disk // every change to the data directory goes through it
	noSync bool
	lock   *os.File
	log    *slog.Logger
	locks  *keyLocks
	dirs   dirCache // sorted entries of large directories (dircache.go)
}

// BackendOptions are the optional settings of a Backend; the zero value is
// the default.
type BackendOptions struct {
	// NoSync turns off every fsync(2): of objects' and records' data, and
	// of the directories that receive them. Readers still never see a
	// partial object, but after a power cut or an operating system crash
	// an acknowledged write may be missing, or its file empty. Only for
	// storage that keeps its write cache across a power cut (a
	// battery-backed array) or data that can be lost. By default every
	// write is durable before it is acknowledged: see
	// docs/embedded-store.md.
	NoSync bool
}

var (
	_ gofakes3.Backend          = (*Backend)(nil)
	_ gofakes3.MultipartBackend = (*Backend)(nil)
)

// NewBackend opens (creating it if needed) the data directory dir and takes
// an exclusive lock on it, failing with ErrInUse if another Backend holds it.
// It then deletes what an earlier run left unfinished: temporary files and
// the parts of multipart uploads, which cannot be resumed because gofakes3
// keeps its list of uploads in memory. logger is required.
//
// Close releases the directory.
func NewBackend(dir string, logger *slog.Logger, opts BackendOptions) (*Backend, error) {
	if dir == "" {
		return nil, errors.New("embedded: no data directory")
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("embedded: create data directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: open data directory: %w", err)
	}
	b := &Backend{root: root, disk: rootDisk{root}, noSync: opts.NoSync, log: logger, locks: newKeyLocks()}
	if err := b.open(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return b, nil
}

// open locks the directory, reaps what an earlier run left and makes the
// bookkeeping directories.
func (b *Backend) open() error {
	if err := b.root.MkdirAll(stateDir, dirPerm); err != nil {
		return fmt.Errorf("create %s: %w", stateDir, err)
	}
	lock, err := lockDir(b.root)
	if err != nil {
		return err
	}
	b.lock = lock
	for _, d := range []string{tmpDir, uploadsDir} {
		n, err := b.reap(d)
		if err != nil {
			return err
		}
		if n > 0 {
			b.log.Info("embedded store: removed leftovers of an earlier run", "dir", d, "entries", n)
		}
	}
	for _, d := range []string{tmpDir, uploadsDir, metaDir} {
		if err := b.root.MkdirAll(d, dirPerm); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	// The records go under metaDir: its entry must last.
	return b.syncAll("", stateDir)
}

// reap removes the directory d and everything in it, returning how many
// entries it had.
func (b *Backend) reap(d string) (int, error) {
	f, err := b.root.Open(d)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", d, err)
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", d, err)
	}
	if err := b.root.RemoveAll(d); err != nil {
		return 0, fmt.Errorf("remove %s: %w", d, err)
	}
	return len(names), nil
}

// Close releases the data directory. Calls made after Close fail.
func (b *Backend) Close() error {
	var errs []error
	if b.lock != nil {
		errs = append(errs, b.lock.Close())
	}
	errs = append(errs, b.root.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("embedded: close: %w", err)
	}
	return nil
}

// createTemp creates a new empty file in the temporary directory, returning
// it open for writing and its path relative to Dir.
func (b *Backend) createTemp(kind string) (diskFile, string, error) {
	name := tmpDir + "/" + kind + "-" + randomHex(12)
	f, err := b.disk.Create(name)
	if err != nil {
		return nil, "", fmt.Errorf("create temporary file: %w", err)
	}
	return f, name, nil
}

// discard closes and removes the temporary file f at name, after a failure.
func (b *Backend) discard(f diskFile, name string) {
	if f != nil {
		_ = f.Close()
	}
	if err := b.disk.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Warn("embedded store: cannot remove temporary file", "path", name, "err", err)
	}
}

// s3Error returns err as gofakes3 needs it: the S3 error in its chain,
// unwrapped, because gofakes3 recognises S3 errors by type assertion only.
// Any other error is returned unchanged; gofakes3 answers it with
// InternalError, showing the client nothing of it, and logs it.
func s3Error(err error) error {
	var s3err gofakes3.Error
	if errors.As(err, &s3err) {
		return s3err
	}
	return err
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p) // crypto/rand.Read never fails
	return hex.EncodeToString(p)
}
