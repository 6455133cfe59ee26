package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// chunks reads an object in ranged GETs of Settings.DownloadChunkSize,
// each into a buffer of the Service's pool (bufferPool.tryGet), up to
// Settings.DownloadConcurrency requested at once, and hands their bytes
// out in order. A buffer whose bytes have been handed out is reused for the
// next range, and fewer ranges are requested at once when the pool has no
// room, so a download holds at most concurrency × chunk size bytes, within
// the process-wide budget; close gives the buffers back. A range that
// fails (an S3 error, a short body, the object replaced: its ETag changed)
// fails the download when its turn comes: no byte after it is handed out.
// chunks is used by one goroutine at a time (the transfer's).
type chunks struct {
	f         *Fs
	ctx       context.Context // the download's, cancelled by its Close
	key, etag string
	size      int64    // bytes per range
	next      int64    // offset of the next range to request
	end       int64    // object size
	queue     []*chunk // ranges requested, in order
	wg        sync.WaitGroup
	allocated int64 // bytes of buffers taken from the pool, for tests
}

// chunk is one ranged GET.
type chunk struct {
	buf  *[]byte // its bytes, once done is closed
	off  int     // bytes of buf handed out
	done chan struct{}
	err  error // set before done is closed
}

// newChunks starts reading key from offset to end: its first range, of n
// bytes, is the body of a GET already answered, read into first (a buffer
// of the pool); the ranges after it are requested.
func (f *Fs) newChunks(ctx context.Context, key, etag string, offset, end int64, body io.ReadCloser, n int64, first *[]byte) *chunks {
	c := &chunks{f: f, ctx: ctx, key: key, etag: etag, size: f.svc.set.DownloadChunkSize, next: offset, end: end, allocated: int64(cap(*first))}
	ch := c.add(first, n)
	c.start(ch, func() error {
		defer body.Close()
		return fill(*ch.buf, body)
	})
	c.more(nil)
	return c
}

// more requests ranges until Settings.DownloadConcurrency are queued or
// the object is covered, in free (a buffer handed out, or nil) first, then
// in buffers the pool has room for; it gives free back if no range needs it.
func (c *chunks) more(free *[]byte) {
	for len(c.queue) < c.f.svc.set.DownloadConcurrency && c.next < c.end {
		buf := free
		free = nil
		if buf == nil {
			if buf = c.f.svc.buffers.tryGet(c.size); buf == nil {
				break // the range after the queued ones waits for their buffers
			}
			c.allocated += c.size
		}
		start := c.next
		ch := c.add(buf, min(c.size, c.end-start))
		c.start(ch, func() error { return c.get(*ch.buf, start) })
	}
	if free != nil {
		c.f.svc.buffers.putDownload(free)
	}
}

// add queues a range of n bytes at c.next, in buf.
func (c *chunks) add(buf *[]byte, n int64) *chunk {
	*buf = (*buf)[:n]
	ch := &chunk{buf: buf, done: make(chan struct{})}
	c.queue = append(c.queue, ch)
	c.next += n
	return ch
}

// start runs fetch for ch in the background.
func (c *chunks) start(ch *chunk, fetch func() error) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ch.err = fetch()
		close(ch.done)
	}()
}

// get reads the range of len(buf) bytes at start into buf, with its own
// request deadline (Settings.PartTimeout).
func (c *chunks) get(buf []byte, start int64) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.f.svc.set.PartTimeout)
	defer cancel()
	in := &s3.GetObjectInput{
		Bucket: &c.f.bucket, Key: &c.key,
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", start, start+int64(len(buf))-1)),
	}
	if c.etag != "" {
		in.IfMatch = aws.String(c.etag)
	}
	out, err := c.f.svc.api.GetObject(ctx, in)
	if err != nil {
		return s3Error(err)
	}
	defer out.Body.Close()
	return fill(buf, out.Body)
}

// fill reads exactly len(buf) bytes of body into buf.
func fill(buf []byte, body io.Reader) error {
	n, err := io.ReadFull(body, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: range ended after %d of %d bytes", ErrBackend, n, len(buf))
	}
	if err != nil {
		return s3Error(err)
	}
	return nil
}

// head waits for the first range with bytes left to hand out, reusing the
// buffers of those handed out for the next ranges. It returns io.EOF at
// the end of the object, or the error of a failed range.
func (c *chunks) head() (*chunk, error) {
	for len(c.queue) > 0 {
		ch := c.queue[0]
		<-ch.done
		if ch.err != nil {
			return nil, ch.err
		}
		if ch.off < len(*ch.buf) {
			return ch, nil
		}
		c.queue = c.queue[1:]
		c.more(ch.buf)
	}
	return nil, io.EOF
}

// read copies the next bytes into p.
func (c *chunks) read(p []byte) (int, error) {
	ch, err := c.head()
	if err != nil {
		return 0, err
	}
	n := copy(p, (*ch.buf)[ch.off:])
	ch.off += n
	return n, nil
}

// writeTo writes the rest of the object to w, each range's bytes in one
// Write. readErr is a failed range's error, writeErr w's.
func (c *chunks) writeTo(w io.Writer) (n int64, readErr, writeErr error) {
	for {
		ch, err := c.head()
		if errors.Is(err, io.EOF) {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
		m, err := w.Write((*ch.buf)[ch.off:])
		ch.off += m
		n += int64(m)
		if err != nil {
			return n, nil, err
		}
	}
}

// close waits for every GET to end (the caller cancels them first) and
// gives their buffers back to the pool.
func (c *chunks) close() {
	c.wg.Wait()
	for _, ch := range c.queue {
		c.f.svc.buffers.putDownload(ch.buf)
	}
	c.queue = nil
}
