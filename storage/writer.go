package storage

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"path"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Upload streams an upload into S3: Write, then Close to store it, or
// Abort and Close to discard it. Data fills a part buffer; a file that fits
// in one buffer is sent as a single PutObject at Close, a larger one becomes a
// multipart upload whose parts are sent by up to Settings.Concurrency
// goroutines while the next buffer fills. The first buffer starts small and
// doubles as data comes (up to 1 MiB), so a 200 KB camera picture takes
// 256 KiB, not a whole part. Nothing is visible in S3 until Close succeeds; after
// Abort, a failed part or a cancelled session, Close aborts the multipart
// upload and returns the error. An Upload is used by one goroutine at a time.
type Upload struct {
	handle
	fs     *Fs
	key    string
	ctx    context.Context // the upload's context, cancelled on failure
	cancel context.CancelFunc

	buf  *[]byte     // part being filled (its length is the data in it); nil until the first write
	sums *uploadSums // digests of the data written; nil when the object is composed with an existing one
	// ifMatch, when not "", is the ETag the key must still have when the
	// upload is stored (the composed object's source): the commit is
	// conditional, and fails with ErrChanged if the file changed meanwhile.
	ifMatch string
	size    int64 // bytes written so far
	mp      *multipart
	next    int32 // number of the next part
	sem     chan struct{}
	wg      sync.WaitGroup

	mu       sync.Mutex
	parts    []types.CompletedPart
	err      error // first failure of a part
	transfer error // set by Abort
	closed   bool

	// held, when not nil, is the PutObject DataEnded started, waiting to
	// send its last byte.
	held *heldPut
}

// heldPut is a single-request upload sent but for its last byte (it is the
// request's body, see Read): commit lets it through and returns the PutObject's outcome; withhold makes it
// fail, so S3 gets a body short of its Content-Length and stores nothing.
// The PutObject is sent once, without the SDK's retries (they would rewind
// a body whose earlier attempt may still be parked on its last byte): if it
// fails, finish stores the upload with a plain PutObject, retries included.
type heldPut struct {
	gate   chan struct{}      // closed by commit: send the last byte
	stop   chan struct{}      // closed by withhold: fail instead
	over   chan struct{}      // closed when the PutObject has returned: its body reads no more
	cancel context.CancelFunc // of the request
	done   chan error         // the PutObject's outcome

	mu    sync.Mutex    // guards state, the body's reader and closing over
	state int           // heldPending, heldCommitted or heldWithheld
	body  *bytes.Reader // the request's body
}

const (
	heldPending = iota
	heldCommitted
	heldWithheld
)

// commit lets the last byte go, unless withheld, and returns the outcome.
func (h *heldPut) commit() error {
	h.mu.Lock()
	if h.state == heldPending {
		h.state = heldCommitted
		close(h.gate)
	}
	h.mu.Unlock()
	return <-h.done
}

// withhold makes the PutObject fail before its last byte, unless committed.
func (h *heldPut) withhold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == heldPending {
		h.state = heldWithheld
		close(h.stop)
		h.cancel()
	}
}

// withheld reports whether withhold stopped the PutObject.
func (h *heldPut) withheld() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state == heldWithheld
}

// ended records that the PutObject has returned: a write of its body
// still parked (S3 answered before the body was whole) fails without
// reading, so the buffer can be given back.
func (h *heldPut) ended() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.over)
}

// errWithheld fails a held PutObject's body: the upload was refused.
var errWithheld = errors.New("upload refused before its last byte was sent")

// errHeldOver fails a read of a held PutObject's body after the request
// has returned.
var errHeldOver = errors.New("the request is over")

// Read reads the PutObject's body: all but the last byte at once, the last
// one once the put is committed.
func (h *heldPut) Read(p []byte) (int, error) {
	for {
		h.mu.Lock()
		select {
		case <-h.over:
			h.mu.Unlock()
			return 0, errHeldOver
		default:
		}
		n := h.body.Len()
		if h.state == heldCommitted || n != 1 {
			if h.state != heldCommitted && n > 1 && len(p) >= n {
				p = p[:n-1]
			}
			m, err := h.body.Read(p)
			h.mu.Unlock()
			return m, err
		}
		h.mu.Unlock()
		select {
		case <-h.gate:
		case <-h.stop:
			return 0, errWithheld
		case <-h.over:
			return 0, errHeldOver
		}
	}
}

// Seek moves in the PutObject's body.
func (h *heldPut) Seek(offset int64, whence int) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.body.Seek(offset, whence)
}

// newWriter starts an upload to the file at name. The key is checked now so
// a bad name fails before the data connection opens.
func (f *Fs) newWriter(name string) (*Upload, error) {
	key, err := f.jail.key(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(f.ctx)
	return &Upload{
		handle: handle{name: clean(name)},
		fs:     f,
		key:    key,
		ctx:    ctx,
		cancel: cancel,
		next:   1,
		sem:    make(chan struct{}, f.svc.set.Concurrency),
		sums:   newUploadSums(f.svc.digests),
	}, nil
}

// Write buffers p, sending each full part as more data arrives. It returns
// the first upload failure, so a transfer stops early when S3 does.
func (w *Upload) Write(p []byte) (int, error) {
	if w.closed {
		return 0, w.pathErr(fs.ErrClosed)
	}
	if err := w.failure(); err != nil {
		return 0, w.pathErr(err)
	}
	written := 0
	for len(p) > 0 {
		switch {
		case w.buf != nil && int64(len(*w.buf)) == w.fs.svc.set.PartSize:
			// Send a full part only once more data comes, so that a file of
			// exactly one part is still a single PutObject.
			if err := w.sendPart(); err != nil {
				return written, w.pathErr(err)
			}
			continue
		case w.buf == nil || len(*w.buf) == cap(*w.buf):
			if err := w.grow(); err != nil {
				return written, w.pathErr(err)
			}
		}
		b := *w.buf
		c := copy(b[len(b):cap(b)], p)
		*w.buf = b[:len(b)+c]
		if w.sums != nil {
			w.sums.write(p[:c])
		}
		w.size += int64(c)
		written += c
		p = p[c:]
	}
	return written, nil
}

// The first part buffer starts at firstBufSize, or at what the session's
// last upload needed, and doubles up to maxGrownBufSize; a file bigger than
// that gets a whole pooled part buffer. Small files stay small, and a big
// one throws away at most 2 MiB of grown buffers.
const (
	firstBufSize    = 64 << 10
	maxGrownBufSize = 1 << 20
)

// firstBufFor returns the capacity a buffer grown for a file of size bytes
// ends with, at most maxGrownBufSize.
func firstBufFor(size int64) int64 {
	c := int64(firstBufSize)
	for c < size && c < maxGrownBufSize {
		c *= 2
	}
	return c
}

// grow makes room in the part buffer: the first part's buffer doubles from
// firstBufSize to maxGrownBufSize; beyond, it is a buffer of capacity
// PartSize. With at most Settings.Concurrency parts in flight and one
// filling, an upload never holds more than Concurrency+1 of them. Every
// buffer comes from the Service's pool, within Settings.UploadMemory, and
// goes back to it once its part is sent: grow waits for room, and fails if
// the upload ends or none comes (see bufferPool.get).
func (w *Upload) grow() error {
	old := w.buf
	size := max(firstBufSize, w.fs.firstBuf.Load())
	if old != nil {
		size = 2 * int64(cap(*old))
	}
	if size > maxGrownBufSize || w.mp != nil {
		size = w.fs.svc.set.PartSize
	}
	nb, err := w.fs.svc.buffers.get(w.ctx, size)
	if err != nil {
		return err
	}
	if old != nil {
		*nb = append((*nb)[:0], *old...)
		w.fs.svc.buffers.put(old)
	}
	w.buf = nb
	return nil
}

// release gives the buffer being filled back to the pool (those of the
// parts go back as each part is sent).
func (w *Upload) release() {
	if w.buf != nil {
		w.fs.svc.buffers.put(w.buf)
		w.buf = nil
	}
}

// WriteAt returns ErrUnsupported: uploads are sequential streams.
func (w *Upload) WriteAt([]byte, int64) (int, error) { return 0, w.pathErr(ErrUnsupported) }

// WriteString writes s.
func (w *Upload) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Seek accepts only a no-op: the position is always the end of what was written.
func (w *Upload) Seek(offset int64, whence int) (int64, error) {
	if (whence == 0 && offset == w.size) || (whence == 1 && offset == 0) {
		return w.size, nil
	}
	return 0, w.pathErr(ErrUnsupported)
}

// Abort records that the transfer feeding the upload was interrupted (ABOR,
// a reset data connection, an I/O error) or refused at its end for reason
// err: the requests in flight are cancelled (a PutObject DataEnded started
// never sends its last byte), and Close, which must still be called,
// aborts the upload instead of completing it and returns an error wrapping
// ErrAborted.
func (w *Upload) Abort(err error) {
	w.mu.Lock()
	if w.transfer == nil {
		w.transfer = fmt.Errorf("%w: %w", ErrAborted, err)
	}
	w.mu.Unlock()
	w.cancel()
	if w.held != nil {
		w.held.withhold()
	}
}

// DataEnded is called when all of the upload's data has come, before it is
// known whether it may be stored (ftpserverlib waits a moment for a killed
// client's control connection to end; see its UploadEndGrace): it starts
// the requests that store nothing visible yet, so that the wait costs no
// time. A multipart upload sends its last part; a single-request upload
// sends its PutObject but for the last byte, which Close sends, or which
// Abort withholds: S3 then gets a body short of its Content-Length and
// stores nothing.
func (w *Upload) DataEnded() {
	if w.closed || w.held != nil || w.buf == nil || len(*w.buf) == 0 || w.failure() != nil {
		return
	}
	if w.mp != nil {
		if len(w.sem) == cap(w.sem) { // every slot busy: Close sends it, after the decision
			return
		}
		if err := w.sendPart(); err != nil {
			w.fail(err)
		}
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(w.ctx))
	h := &heldPut{
		gate: make(chan struct{}), stop: make(chan struct{}), over: make(chan struct{}),
		cancel: cancel, done: make(chan error, 1), body: bytes.NewReader(*w.buf),
	}
	w.held = h
	w.wg.Go(func() {
		defer cancel()
		err := w.put(ctx, h)
		h.ended()
		h.done <- err
	})
}

// failure returns why the upload cannot complete, or nil.
func (w *Upload) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.transfer != nil:
		return w.transfer
	case w.err != nil:
		return w.err
	}
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return nil
}

// fail records the first part failure and cancels the rest of the upload.
func (w *Upload) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cancel()
}

// sendPart hands the buffer to a goroutine that uploads it as the next part,
// starting the multipart upload first if needed. It blocks while
// Settings.Concurrency parts are already in flight.
func (w *Upload) sendPart() error {
	if w.mp == nil {
		mp, err := w.fs.createMultipart(w.ctx, w.key, w.contentType(), nil, true)
		if err != nil {
			return err
		}
		w.mp = mp
	}
	if w.next > maxParts {
		return fmt.Errorf("%w: more than %d parts of %d bytes", ErrTooLarge, maxParts, w.fs.svc.set.PartSize)
	}
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		return w.failure()
	}
	buf, num := w.buf, w.next
	w.buf = nil
	w.next++
	w.goPart(func() (types.CompletedPart, error) {
		return w.mp.uploadPart(w.ctx, num, *buf)
	}, func() { w.fs.svc.buffers.put(buf) })
	return nil
}

// goPart sends a part in the background, in the concurrency slot (w.sem)
// the caller took: send makes it, and the part is kept for the completion
// or its error fails the upload. done, if not nil, runs before the slot is
// released.
func (w *Upload) goPart(send func() (types.CompletedPart, error), done func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		if done != nil {
			defer done()
		}
		part, err := send()
		if err != nil {
			w.fail(err)
			return
		}
		w.mu.Lock()
		w.parts = append(w.parts, part)
		w.mu.Unlock()
	}()
}

// Close finishes the upload: a single PutObject for a small file, or the last
// part and CompleteMultipartUpload. If the transfer failed, or the session
// ended (the client hung up) before Close, it aborts the multipart upload
// instead and returns why; the client must then get an error reply, never a
// success. Once the commit request is sent it is carried through even if the
// session ends meanwhile, so what is stored always matches what Close returns.
func (w *Upload) Close() error {
	if w.closed {
		return w.pathErr(fs.ErrClosed)
	}
	w.closed = true
	defer w.cancel()
	err := w.finish()
	w.release()
	if err != nil {
		return w.pathErr(err)
	}
	if w.mp == nil {
		w.fs.firstBuf.Store(firstBufFor(w.size))
	}
	w.fs.dirs.added(w.name, false)
	return nil
}

func (w *Upload) finish() error {
	if err := w.failure(); err != nil {
		w.abort()
		return err
	}
	switch {
	case w.held != nil:
		err := w.held.commit()
		if err == nil || w.held.withheld() {
			return err
		}
		w.fs.log.Info("upload: the request started during the upload-end grace failed, sending it again", "key", w.key, "err", err)
		return w.put(context.WithoutCancel(w.ctx), nil)
	case w.mp == nil:
		return w.put(context.WithoutCancel(w.ctx), nil)
	}
	if w.buf != nil && len(*w.buf) > 0 {
		if err := w.sendPart(); err != nil {
			w.abort()
			return err
		}
	}
	w.wg.Wait()
	if err := w.failure(); err != nil {
		w.abort()
		return err
	}
	sort.Slice(w.parts, func(i, j int) bool { return *w.parts[i].PartNumber < *w.parts[j].PartNumber })
	ctx := context.WithoutCancel(w.ctx)
	etag, err := w.mp.complete(ctx, w.parts, w.size, w.ifMatch)
	if err == nil && w.sums != nil && w.fs.svc.set.MultipartHashes == MultipartHashesCopy {
		w.fs.storeHashesByCopy(ctx, w.key, etag, w.contentType(), w.size, w.sums.metadata())
	}
	return err
}

// put stores a single-request upload with one PutObject under ctx (not the
// session's: once committed it is carried through even if the session ends
// meanwhile), held before its last byte when h is not nil.
func (w *Upload) put(ctx context.Context, h *heldPut) error {
	var body []byte
	if w.buf != nil {
		body = *w.buf
	}
	var meta map[string]string
	var opts []func(*s3.Options)
	if w.sums != nil {
		meta = w.sums.metadata()
		if sum, ok := meta[metaSHA256]; ok {
			opts = append(opts, withPayloadHash(sum))
		}
	}
	return w.fs.putObject(ctx, w.key, w.contentType(), body, h, meta, w.ifMatch, opts...)
}

// abort stops the requests in flight, waits for them and aborts the
// multipart upload, so nothing is left stored.
func (w *Upload) abort() {
	w.cancel()
	if w.held != nil {
		w.held.withhold()
	}
	w.wg.Wait()
	if w.mp != nil {
		w.mp.abort()
	}
}

func (w *Upload) contentType() string {
	if t := mime.TypeByExtension(path.Ext(w.key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// putObject stores body at key with one request made with opts, only if
// key still has the ETag ifMatch unless that is "", held before its last
// byte when held is not nil. A failure that leaves open whether S3 stored
// it is checked first (see commitFailed); a withheld one stored nothing.
func (f *Fs) putObject(ctx context.Context, key, contentType string, body []byte, held *heldPut, meta map[string]string, ifMatch string, opts ...func(*s3.Options)) error {
	ctx, cancel := context.WithTimeout(ctx, f.svc.set.PartTimeout)
	defer cancel()
	var r io.ReadSeeker = bytes.NewReader(body)
	if held != nil {
		r = held
		opts = append(opts, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	}
	in := &s3.PutObjectInput{
		Bucket: &f.bucket, Key: &key, Body: r,
		ContentLength: aws.Int64(int64(len(body))), ContentType: &contentType, Metadata: meta,
	}
	if f.svc.set.Checksums == ChecksumsSupported {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	}
	if ifMatch != "" {
		in.IfMatch = &ifMatch
	}
	if _, err := f.svc.api.PutObject(ctx, in, opts...); err != nil {
		if held != nil && held.withheld() {
			return fmt.Errorf("%w: %w", ErrAborted, errWithheld)
		}
		return f.commitFailed(err, key, bodyETag(body), int64(len(body)))
	}
	return nil
}

// UploadResult is what an upload stored: its key, its size, and the
// digests computed as it streamed, in hex, by algorithm (those of
// Settings.Digests: crypto.SHA256, crypto.MD5, CRC32; none for an upload
// composed with an existing object, whose kept bytes were not read).
type UploadResult struct {
	Key     string
	Size    int64
	Digests map[crypto.Hash]string
}

// Result describes the upload; it is what was stored once Close has
// returned nil.
func (w *Upload) Result() UploadResult {
	r := UploadResult{Key: w.key, Size: w.size}
	if w.sums != nil {
		r.Digests = w.sums.hex()
	}
	return r
}
