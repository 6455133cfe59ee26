package embedded

import (
	"fmt"
	"sync"
	"testing"
)

func TestKeyLocks(t *testing.T) {
	t.Parallel()
	l := newKeyLocks()
	if l.of("bkt/a") != l.of("bkt/a") {
		t.Fatal("one path, two locks")
	}
	distinct := map[*sync.RWMutex]bool{}
	for i := range 1000 {
		distinct[l.of(fmt.Sprintf("bkt/k%d", i))] = true
	}
	if len(distinct) < keyStripes/2 {
		t.Errorf("1000 paths use only %d of %d locks", len(distinct), keyStripes)
	}
	// Writers on different stripes run together; this would deadlock if
	// of returned one lock for all.
	a, b := l.of("bkt/k1"), l.of("bkt/k2")
	if a != b {
		a.Lock()
		b.Lock()
		b.Unlock()
		a.Unlock()
	}
}
