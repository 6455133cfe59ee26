package storage

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestBufferPoolKeeps: a buffer given back is reused even after garbage
// collections; kept buffers count toward the budget (the oldest are dropped
// for a new one that would not fit beside them); those idle for bufferIdle
// are dropped.
func TestBufferPoolKeeps(t *testing.T) {
	const part = 4 << 20
	p := newBufferPool(3*part, part, time.Second)
	get := func(size int64) *[]byte {
		t.Helper()
		b, err := p.get(context.Background(), size)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	a := get(part)
	p.put(a)
	runtime.GC()
	runtime.GC()
	if b := get(part); b != a {
		t.Error("a part buffer given back was not reused after two collections")
	} else {
		p.put(b)
	}

	var small []*[]byte
	for range 6 { // 6 × 1 MiB kept beside the part buffer: 10 MiB of 12
		small = append(small, get(maxGrownBufSize))
	}
	for _, b := range small {
		p.put(b)
	}
	b1, b2 := get(part), get(part) // the kept part buffer, then a new one: 2 of the small ones go
	if total := p.used + p.idle; total > p.limit {
		t.Errorf("%d bytes in use and kept, budget %d", total, p.limit)
	}
	if p.idle != 4<<20 {
		t.Errorf("%d bytes kept, want 4 MiB (2 of 6 small buffers dropped for the new part buffer)", p.idle)
	}
	p.put(b1)
	p.put(b2)

	p.mu.Lock()
	for size, l := range p.free {
		for i := range l {
			p.free[size][i].since = time.Now().Add(-bufferIdle - time.Second)
		}
	}
	p.mu.Unlock()
	p.trim()
	if p.idle != 0 || p.trimming {
		t.Errorf("after bufferIdle: %d bytes kept, trim scheduled %v; want 0, false", p.idle, p.trimming)
	}
	if b := get(part); b == b1 || b == b2 {
		t.Error("a buffer idle for bufferIdle was reused")
	}
}
