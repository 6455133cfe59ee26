package storage

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// bufferPool hands out the buffers uploads fill, within one process-wide
// budget (Settings.UploadMemory): an upload waits for room rather than go
// over it. Buffers given back are kept (in a sync.Pool, which the garbage
// collector may empty) for the next upload, so a burst of uploads reuses
// the same memory instead of allocating and zeroing it for each file.
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
	free      map[int64]*sync.Pool // buffers given back, by capacity
}

// bufferWaiter is an upload waiting for size bytes of the budget.
type bufferWaiter struct {
	size    int64
	small   bool
	granted chan struct{} // closed once the bytes are counted as the waiter's
}

func newBufferPool(limit, partSize int64, wait time.Duration) *bufferPool {
	p := &bufferPool{limit: limit, smallLimit: limit - partSize, partSize: partSize, wait: wait, free: map[int64]*sync.Pool{}}
	for size := int64(firstBufSize); size <= maxGrownBufSize; size *= 2 {
		p.free[size] = &sync.Pool{}
	}
	p.free[partSize] = &sync.Pool{}
	return p
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
		return p.buffer(size), nil
	}
	w := &bufferWaiter{size: size, small: small, granted: make(chan struct{})}
	p.queue = append(p.queue, w)
	p.mu.Unlock()

	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	var err error
	select {
	case <-w.granted:
		return p.buffer(size), nil
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

// put gives back a buffer that get returned.
func (p *bufferPool) put(b *[]byte) {
	size := int64(cap(*b))
	*b = (*b)[:0]
	p.free[size].Put(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.giveBack(size, size != p.partSize)
}

// buffer returns an empty buffer of capacity size, reused when one is free.
func (p *bufferPool) buffer(size int64) *[]byte {
	if b, ok := p.free[size].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, size)
	return &b
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
