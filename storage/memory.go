package storage

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// bufferPool hands out the buffers uploads fill, and the ranged GETs of
// downloads, within one process-wide budget (Settings.UploadMemory): an
// upload waits for room rather than go over it; a download takes only what
// is free (tryGet). Buffers given back are kept for the next upload, so a burst of
// uploads or the parts of a large one reuse the same memory instead of
// allocating and zeroing it for each file or part (a sync.Pool, which the
// garbage collector empties, made a 1 GiB upload allocate its part buffers
// again after every collection). Kept buffers count toward the budget too
// (the oldest are dropped when a new buffer would not fit beside them), and
// those unused for bufferIdle are dropped at the next trim (every bufferIdle,
// so a buffer is kept at most twice that), so an idle gateway gives
// their memory back.
//
// Part buffers (Settings.PartSize, the large ones) are mapped outside the
// Go heap (mapBuffer), so that the collector, which lets the heap grow by as
// much as is live before it collects, does not let garbage grow to their
// size too: on the heap, a 1 GiB STOR's 24 MiB of part buffers made the
// process hold some 20 MiB more than they. A dropped part buffer's pages
// are given back to the system (releaseBuffer) and its mapping is kept for
// the next one, which finds it zeroed; it is never unmapped, so that a
// late read of a buffer given back (an HTTP transport may still be reading
// a request's body after the request returned an error) cannot fault.
//
// Waiters are served in order, and small buffers (those that grow before a
// file is known to need multipart, up to maxGrownBufSize) may hold at most
// the budget less one part buffer: an upload holding a small buffer while
// it waits for its first part buffer always gets it once parts in flight
// come back, so uploads cannot all wait on each other.
type bufferPool struct {
	limit      int64 // the budget, in bytes
	smallLimit int64 // what small buffers may take of it
	partSize   int64
	wait       time.Duration // the longest an upload waits for room

	mu        sync.Mutex
	used      int64 // bytes of buffers handed out and not given back
	smallUsed int64
	queue     []*bufferWaiter
	downloads int64                  // bytes of used that downloads hold (tryGet)
	free      map[int64][]idleBuffer // buffers given back, by capacity, oldest first
	idle      int64                  // bytes of the buffers in free
	trimming  bool                   // a trim is scheduled
	released  [][]byte               // mapped part buffers whose pages were given back
}

// idleBuffer is a buffer given back, and when.
type idleBuffer struct {
	b     *[]byte
	since time.Time
}

// bufferIdle is how long a buffer given back and not reused is kept at
// least; the trim that drops it runs every bufferIdle.
const bufferIdle = 30 * time.Second

// bufferWaiter is an upload waiting for size bytes of the budget.
type bufferWaiter struct {
	size    int64
	small   bool
	granted chan struct{} // closed once the bytes are counted as the waiter's
}

func newBufferPool(limit, partSize int64, wait time.Duration) *bufferPool {
	return &bufferPool{limit: limit, smallLimit: limit - partSize, partSize: partSize, wait: wait, free: map[int64][]idleBuffer{}}
}

// get returns an empty buffer of capacity size (a small one, up to
// maxGrownBufSize, or a part buffer), waiting while the budget is spent,
// until ctx ends or p.wait has passed: then it returns an error wrapping
// ctx's or ErrBackend.
func (p *bufferPool) get(ctx context.Context, size int64) (*[]byte, error) {
	small := size != p.partSize
	p.mu.Lock()
	if len(p.queue) == 0 && p.fits(size, small) {
		p.take(size, small)
		p.mu.Unlock()
		return p.buffer(size)
	}
	w := &bufferWaiter{size: size, small: small, granted: make(chan struct{})}
	p.queue = append(p.queue, w)
	p.mu.Unlock()

	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	var err error
	select {
	case <-w.granted:
		return p.buffer(size)
	case <-ctx.Done():
		err = fmt.Errorf("%w: waiting for upload memory: %w", ErrAborted, ctx.Err())
	case <-timer.C:
		err = fmt.Errorf("%w: no upload memory free for %v (upload-memory %d bytes in use)", ErrBackend, p.wait, p.limit)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-w.granted: // granted meanwhile: give it back
		p.giveBack(size, small)
	default:
		for i, q := range p.queue {
			if q == w {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
		p.grant() // the waiters behind it may fit
	}
	return nil, err
}

// tryGet returns an empty buffer of capacity size for a download's ranged
// GET if the budget has room for it now, or nil: a download never waits
// for memory (it reads with fewer ranges at once, or one streaming GET),
// never takes room an upload is waiting for, and downloads together hold
// at most half the budget, so that uploads always find the rest.
func (p *bufferPool) tryGet(size int64) *[]byte {
	p.mu.Lock()
	if len(p.queue) > 0 || p.downloads+size > p.limit/2 || !p.fits(size, false) {
		p.mu.Unlock()
		return nil
	}
	p.take(size, false)
	p.downloads += size
	p.mu.Unlock()
	b, err := p.buffer(size)
	if err != nil { // buffer gave the bytes back
		p.mu.Lock()
		p.downloads -= size
		p.mu.Unlock()
		return nil
	}
	return b
}

// put gives back a buffer that get returned, kept for reuse.
func (p *bufferPool) put(b *[]byte) { p.keep(b, int64(cap(*b)) != p.partSize, false) }

// putDownload gives back a buffer that tryGet returned, kept for reuse.
func (p *bufferPool) putDownload(b *[]byte) { p.keep(b, false, true) }

// keep takes back a buffer handed out (counted as small or not, by a
// download or not), for reuse.
func (p *bufferPool) keep(b *[]byte, small, download bool) {
	size := int64(cap(*b))
	*b = (*b)[:0]
	p.mu.Lock()
	defer p.mu.Unlock()
	if download {
		p.downloads -= size
	}
	p.free[size] = append(p.free[size], idleBuffer{b: b, since: time.Now()})
	p.idle += size
	if !p.trimming {
		p.trimming = true
		time.AfterFunc(bufferIdle, p.trim)
	}
	p.giveBack(size, small)
}

// buffer returns an empty buffer of capacity size, whose bytes get has
// counted: the one given back last, or a new one, for which kept buffers
// are dropped while they and the buffers in use would exceed the budget.
// If no part buffer can be mapped, it gives the bytes back and returns an
// error wrapping ErrBackend.
func (p *bufferPool) buffer(size int64) (*[]byte, error) {
	p.mu.Lock()
	if l := p.free[size]; len(l) > 0 {
		b := l[len(l)-1].b
		l[len(l)-1] = idleBuffer{}
		p.free[size] = l[:len(l)-1]
		p.idle -= size
		p.mu.Unlock()
		return b, nil
	}
	dropped := p.drop(func(idleBuffer) bool { return p.used+p.idle > p.limit })
	var reused []byte
	if n := len(p.released); n > 0 && size == p.partSize {
		reused = p.released[n-1][:0]
		p.released[n-1] = nil
		p.released = p.released[:n-1]
	}
	p.mu.Unlock()
	p.release(dropped)
	switch {
	case reused != nil:
		return &reused, nil
	case size != p.partSize:
		b := make([]byte, 0, size)
		return &b, nil
	}
	b, err := mapBuffer(int(size))
	if err != nil {
		p.mu.Lock()
		p.giveBack(size, false)
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: upload buffer of %d bytes: %w", ErrBackend, size, err)
	}
	b = b[:0]
	return &b, nil
}

// trim drops the buffers kept for longer than bufferIdle, and schedules
// itself again while some are kept.
func (p *bufferPool) trim() {
	p.mu.Lock()
	cutoff := time.Now().Add(-bufferIdle)
	dropped := p.drop(func(e idleBuffer) bool { return e.since.Before(cutoff) })
	p.trimming = p.idle > 0
	if p.trimming {
		time.AfterFunc(bufferIdle, p.trim)
	}
	p.mu.Unlock()
	p.release(dropped)
}

// drop forgets kept buffers, oldest first in each size, while more returns
// true for the oldest one left, and returns the part buffers among them,
// for release. p.mu must be held.
func (p *bufferPool) drop(more func(oldest idleBuffer) bool) (parts [][]byte) {
	for size, l := range p.free {
		n := 0
		for n < len(l) && more(l[n]) {
			p.idle -= size
			if size == p.partSize {
				parts = append(parts, (*l[n].b)[:size])
			}
			n++
		}
		kept := copy(l, l[n:])
		clear(l[kept:])
		p.free[size] = l[:kept]
	}
	return parts
}

// release gives the pages of dropped part buffers back to the system,
// without p.mu (it may take a while for large parts), and keeps their
// mappings in p.released for the next part buffers.
func (p *bufferPool) release(parts [][]byte) {
	for _, b := range parts {
		if releaseBuffer(b) {
			p.mu.Lock()
			p.released = append(p.released, b)
			p.mu.Unlock()
		}
	}
}

// fits reports whether size more bytes fit the budget. p.mu must be held.
func (p *bufferPool) fits(size int64, small bool) bool {
	return p.used+size <= p.limit && (!small || p.smallUsed+size <= p.smallLimit)
}

// take counts size bytes as handed out. p.mu must be held.
func (p *bufferPool) take(size int64, small bool) {
	p.used += size
	if small {
		p.smallUsed += size
	}
}

// giveBack uncounts size bytes and serves the waiters that now fit. p.mu
// must be held.
func (p *bufferPool) giveBack(size int64, small bool) {
	p.used -= size
	if small {
		p.smallUsed -= size
	}
	p.grant()
}

// grant serves the waiters in order while the first one fits. p.mu must be
// held.
func (p *bufferPool) grant() {
	for len(p.queue) > 0 && p.fits(p.queue[0].size, p.queue[0].small) {
		w := p.queue[0]
		p.queue = p.queue[1:]
		p.take(w.size, w.small)
		close(w.granted)
	}
}

// inUse returns the bytes of buffers handed out and not given back.
func (p *bufferPool) inUse() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}
