package storage

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// mustGet returns p.get's buffer of size, failing the test on an error.
func mustGet(t *testing.T, p *bufferPool, size int64) *[]byte {
	t.Helper()
	b, err := p.get(context.Background(), size)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBufferPoolKeeps: a buffer given back is reused even after garbage
// collections; kept buffers count toward the budget (the oldest are dropped
// for a new one that would not fit beside them); those idle for bufferIdle
// are dropped.
func TestBufferPoolKeeps(t *testing.T) {
	const part = 4 << 20
	p := newBufferPool(3*part, part, time.Second)
	get := func(size int64) *[]byte { t.Helper(); return mustGet(t, p, size) }

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

// TestBufferPoolPartsOffHeap: part buffers are mapped outside the Go heap
// (the collector's heap does not grow by them); one dropped after
// bufferIdle has its pages given back (it reads as zeros) and its mapping
// serves the next part buffer.
func TestBufferPoolPartsOffHeap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("part buffers are mapped outside the Go heap on Linux only")
	}
	const part = 8 << 20
	p := newBufferPool(4*part, part, time.Second)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b, err := p.get(context.Background(), part)
	if err != nil {
		t.Fatal(err)
	}
	full := (*b)[:part]
	for i := range full {
		full[i] = 0xA5
	}
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew >= part/2 {
		t.Errorf("the Go heap grew by %d bytes for an %d-byte part buffer", grew, part)
	}
	p.put(b)

	p.mu.Lock()
	p.free[part][0].since = time.Now().Add(-bufferIdle - time.Second)
	p.mu.Unlock()
	p.trim()
	if p.idle != 0 || len(p.released) != 1 {
		t.Fatalf("after bufferIdle: %d bytes kept, %d mappings released; want 0, 1", p.idle, len(p.released))
	}
	b2, err := p.get(context.Background(), part)
	if err != nil {
		t.Fatal(err)
	}
	if &(*b2)[:1][0] != &full[0] {
		t.Error("the released mapping was not reused")
	}
	for i, c := range (*b2)[:part] {
		if c != 0 {
			t.Fatalf("byte %d of a released part buffer is %#x, want 0 (pages given back)", i, c)
		}
	}
	if len(p.released) != 0 {
		t.Errorf("%d mappings released after reuse, want 0", len(p.released))
	}
}

// TestBufferPoolDownloads: downloads take buffers only while they hold at
// most half the budget and no upload waits for room, never wait, and give
// their bytes back.
func TestBufferPoolDownloads(t *testing.T) {
	const part = 4 << 20
	p := newBufferPool(8*part, part, time.Minute)
	get := func(size int64) *[]byte { t.Helper(); return mustGet(t, p, size) }
	var held []*[]byte
	for range 5 {
		if b := p.tryGet(part); b != nil {
			held = append(held, b)
		}
	}
	if len(held) != 4 || p.downloads != 4*part {
		t.Fatalf("downloads took %d buffers (%d bytes) of an 8-part budget, want 4: half", len(held), p.downloads)
	}
	if b := p.tryGet(minChunkSize); b != nil {
		t.Error("a download took a small buffer beyond half the budget")
	}
	for _, b := range held[1:] {
		p.putDownload(b)
	}

	// Uploads take all but 3 MiB; one more waits for a part, and a
	// download must not take the room it waits for, even where it fits.
	ups := []*[]byte{get(maxGrownBufSize)}
	for range 6 {
		ups = append(ups, get(part))
	}
	got := make(chan *[]byte)
	go func() {
		b, err := p.get(context.Background(), part)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	for {
		p.mu.Lock()
		waiting := len(p.queue)
		p.mu.Unlock()
		if waiting == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if b := p.tryGet(minChunkSize); b != nil {
		t.Error("a download took room while an upload waited for it")
	}
	p.putDownload(held[0]) // the waiting upload's room
	ups = append(ups, <-got)
	if p.downloads != 0 {
		t.Errorf("downloads hold %d bytes, want 0", p.downloads)
	}
	for _, b := range ups {
		p.put(b)
	}
	if p.used != 0 || p.downloads != 0 || p.smallUsed != 0 {
		t.Errorf("after every buffer came back: used %d, downloads %d, small %d; want 0", p.used, p.downloads, p.smallUsed)
	}
	if b := p.tryGet(part); b == nil {
		t.Error("a download found no room in an idle pool")
	} else {
		p.putDownload(b)
	}
}
