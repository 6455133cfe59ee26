//go:build !linux

package storage

// mapBuffer returns size bytes on the Go heap: part buffers are mapped
// outside it on Linux only.
func mapBuffer(size int) ([]byte, error) { return make([]byte, size), nil }

// releaseBuffer reports that b is not to be reused: the collector takes it
// back once it is forgotten.
func releaseBuffer([]byte) (reuse bool) { return false }
