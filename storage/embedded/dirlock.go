package embedded

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrInUse is returned by NewBackend (and Start) when another Backend, in
// this or another process, has the data directory open. Two stores on one
// directory would delete each other's uploads in progress when they start.
var ErrInUse = errors.New("embedded: data directory is in use by another store")

// lockDir takes the exclusive lock on the data directory of root, held until
// the returned file is closed. It fails with ErrInUse if someone else holds
// it. The lock is an flock(2) lock, so the package builds on Unix only.
func lockDir(root *os.Root) (*os.File, error) {
	f, err := root.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, root.Name())
		}
		return nil, fmt.Errorf("lock %s: %w", lockFile, err)
	}
	return f, nil
}
