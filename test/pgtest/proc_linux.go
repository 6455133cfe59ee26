package pgtest

import (
	"os"
	"syscall"
)

// sysProcAttr runs a child as cred (nil: as the current user). The server
// gets SIGQUIT (immediate shutdown) if the test process dies without its
// cleanup running, such as on a -timeout panic, so no server outlives the
// test binary. (Linux sends it when the thread that started the server
// ends; Go ends a thread only when a goroutine exits locked to it.)
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
}

// shmDir is the memory file system a server's directory goes to when it has
// room: initdb and CREATE DATABASE write tens of megabytes, three times
// faster there than on a disk.
const shmDir = "/dev/shm"

// minShmFree is the room shmDir must have left to be used.
const minShmFree = 1 << 30

// tempParent returns the directory to create a server's directory in:
// shmDir if it has minShmFree bytes free, else os.TempDir().
func tempParent() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err == nil && st.Bavail*uint64(st.Bsize) >= minShmFree {
		return shmDir
	}
	return os.TempDir()
}
