package storage

import "syscall"

// mapBuffer returns size bytes of anonymous memory mapped outside the Go
// heap: the collector neither counts nor scans them, and pages are
// resident only once written.
func mapBuffer(size int) ([]byte, error) {
	return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
}

// releaseBuffer gives the pages of b, which mapBuffer returned, back to the
// system, and reports that b may be reused: it stays mapped and reads as
// zeros until written again.
func releaseBuffer(b []byte) (reuse bool) {
	_ = syscall.Madvise(b, syscall.MADV_DONTNEED) // fails only for memory not mapped
	return true
}
