package embedded

import (
	"hash/maphash"
	"sync"
)

// keyStripes is the number of locks keyLocks spreads keys over.
const keyStripes = 256

// keyLocks coordinates the short critical sections on one path: putting a
// finished file in place together with its record, reading a file together
// with its record, and checking a directory is not a marker before removing
// it. Data is never streamed while a lock is held, so keys sharing a stripe
// wait microseconds for each other, and uploads never wait for each other.
//
// A caller holds at most one of these locks at a time, so stripes cannot
// deadlock.
type keyLocks struct {
	seed    maphash.Seed
	stripes [keyStripes]sync.RWMutex
}

// newKeyLocks returns a ready keyLocks.
func newKeyLocks() *keyLocks {
	return &keyLocks{seed: maphash.MakeSeed()}
}

// of returns the lock of the path rel (relative to Dir). An object key and
// the directory marker of the same name ("a" and "a/") share a path, and so
// a lock: what is at a path only changes under its lock.
func (l *keyLocks) of(rel string) *sync.RWMutex {
	return &l.stripes[maphash.String(l.seed, rel)%keyStripes]
}
