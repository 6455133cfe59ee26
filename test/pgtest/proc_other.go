//go:build unix && !linux

package pgtest

import (
	"os"
	"syscall"
)

// sysProcAttr runs a child as cred (nil: as the current user). Unlike on
// Linux, a server whose test process dies without its cleanup keeps running.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}

// tempParent returns the directory to create a server's directory in.
func tempParent() string { return os.TempDir() }
