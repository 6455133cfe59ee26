package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Download streams one object from the offset given when it was opened
// (the FTP REST offset), so resuming a download costs no skipped bytes.
//
// An object that fits in one chunk (Settings.DownloadChunkSize) from the
// offset on, or any object when Settings.DownloadConcurrency is 1, is
// streamed from one GET. A larger one is read in ranged GETs of a chunk
// each, up to DownloadConcurrency at once, delivered in order (see chunks):
// memory per download is bounded by concurrency × chunk size, and all
// downloads' by half of Settings.UploadMemory; when that has no room for a
// chunk, the download is one streaming GET. Every range
// after the first asks for the first one's ETag, so a file replaced during
// the download fails it rather than mixing two versions.
type Download struct {
	handle
	body   io.ReadCloser // the one streaming GET; nil when chunks is set
	chunks *chunks       // the ranged GETs; nil for one GET
	cancel context.CancelFunc
	start  int64 // offset the response starts at
	pos    int64 // offset of the next byte Read returns
	size   int64 // object size
}

// newReader opens the file at name for reading from offset. It fails before
// any data connection opens: fs.ErrNotExist for a missing file, ErrIsDir for
// a directory, fs.ErrInvalid for an offset past the end.
func (f *Fs) newReader(name string, offset int64) (*Download, error) {
	if isRoot(name) {
		return nil, ErrIsDir
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset", fs.ErrInvalid)
	}
	key, err := f.jail.key(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(f.ctx)
	in := &s3.GetObjectInput{Bucket: &f.bucket, Key: &key}
	chunked := f.svc.set.DownloadConcurrency > 1
	switch {
	case chunked:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+f.svc.set.DownloadChunkSize-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := f.svc.api.GetObject(ctx, in)
	if err != nil {
		cancel()
		return f.openFailed(name, key, offset, err)
	}
	r := &Download{handle: handle{name: clean(name)}, body: out.Body, cancel: cancel, start: offset, pos: offset}
	r.size = offset + aws.ToInt64(out.ContentLength)
	if !chunked {
		return r, nil
	}
	first, last, total, ok := contentRange(aws.ToString(out.ContentRange))
	switch {
	case !ok && offset > 0:
		r.Close()
		return nil, fmt.Errorf("%w: the S3 server ignored the range of a GET", ErrBackend)
	case !ok || last+1 >= total: // all that is left came in this response
		return r, nil
	case first != offset:
		r.Close()
		return nil, fmt.Errorf("%w: GET of bytes from %d answered from %d", ErrBackend, offset, first)
	}
	buf := f.svc.buffers.tryGet(f.svc.set.DownloadChunkSize)
	if buf == nil { // no memory free for ranges: one streaming GET
		_ = out.Body.Close()
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
		if out, err = f.svc.api.GetObject(ctx, in); err != nil {
			cancel()
			return f.openFailed(name, key, offset, err)
		}
		r.body, r.size = out.Body, offset+aws.ToInt64(out.ContentLength)
		return r, nil
	}
	r.body, r.size = nil, total
	r.chunks = f.newChunks(ctx, key, aws.ToString(out.ETag), offset, total, out.Body, last+1-offset, buf)
	return r, nil
}

// contentRange parses a Content-Range header, "bytes FIRST-LAST/TOTAL".
func contentRange(h string) (first, last, total int64, ok bool) {
	n, err := fmt.Sscanf(h, "bytes %d-%d/%d", &first, &last, &total)
	return first, last, total, err == nil && n == 3 && first <= last && last < total
}

// openFailed explains a failed GetObject: a directory, a missing file, or a
// range starting at or past the end (an empty read at exactly the end).
func (f *Fs) openFailed(name, key string, offset int64, getErr error) (*Download, error) {
	ctx := f.ctx // each request below gets its own deadline
	err := s3Error(getErr)
	if errors.Is(err, fs.ErrNotExist) {
		if _, dirErr := f.statDir(ctx, name, key+"/"); dirErr == nil {
			return nil, ErrIsDir
		}
		return nil, err
	}
	if httpStatus(getErr) != http.StatusRequestedRangeNotSatisfiable {
		return nil, err
	}
	fi, err := f.headFile(ctx, name, key)
	if err != nil {
		return nil, err
	}
	if offset == fi.Size() {
		return &Download{handle: handle{name: clean(name)}, body: http.NoBody, cancel: func() {}, start: offset, pos: offset, size: offset}, nil
	}
	return nil, fmt.Errorf("%w: offset %d is past the end of the file (%d bytes)", fs.ErrInvalid, offset, fi.Size())
}

// Read reads the next bytes of the object.
func (r *Download) Read(p []byte) (int, error) {
	if r.chunks != nil {
		n, err := r.chunks.read(p)
		r.pos += int64(n)
		return n, r.wrap(err)
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, r.pathErr(s3Error(err))
	}
	return n, err
}

// WriteTo writes the rest of the object to w. A download in chunks writes
// each chunk's bytes in one call, with no copy; errors from w are returned
// as they are, errors from S3 as Read returns them.
func (r *Download) WriteTo(w io.Writer) (int64, error) {
	if r.chunks == nil {
		return io.CopyBuffer(writerOnly{w}, readerOnly{r}, make([]byte, streamBuffer))
	}
	n, readErr, writeErr := r.chunks.writeTo(w)
	r.pos += n
	if writeErr != nil {
		return n, writeErr
	}
	return n, r.wrap(readErr)
}

// wrap returns an error of chunks as Read returns it: nil and io.EOF
// unchanged, S3's in a *fs.PathError.
func (r *Download) wrap(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return r.pathErr(err)
}

// streamBuffer is the copy buffer of a download streamed from one GET.
const streamBuffer = 256 << 10

// writerOnly and readerOnly hide the ReaderFrom and WriterTo of what they
// hold, so io.CopyBuffer uses the buffer it is given (net.TCPConn's
// ReadFrom copies through 32 KiB).
type (
	writerOnly struct{ io.Writer }
	readerOnly struct{ io.Reader }
)

// Seek accepts only the position the download is at (an FTP server seeks to
// the REST offset it already passed to Fs.Download) and SeekCurrent with
// offset 0.
func (r *Download) Seek(offset int64, whence int) (int64, error) {
	switch {
	case whence == io.SeekStart && offset == r.pos:
		return r.pos, nil
	case whence == io.SeekCurrent && offset == 0:
		return r.pos, nil
	}
	return 0, r.pathErr(fmt.Errorf("%w: seek in a download stream", ErrUnsupported))
}

// Stat describes the object being read.
func (r *Download) Stat() (fs.FileInfo, error) {
	return newFileInfo(r.name, r.size, time.Time{}), nil // date unknown here
}

// Close ends the GETs, releasing their connections and buffers; it
// returns once every ranged GET has ended.
func (r *Download) Close() error {
	r.cancel()
	if r.chunks != nil {
		r.chunks.close()
		return nil
	}
	return r.body.Close()
}

// readRange copies bytes [start, end) of key, as long as its ETag is etag,
// to w.
func (f *Fs) readRange(key, etag string, start, end int64, w io.Writer) error {
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	out, err := f.svc.api.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &f.bucket, Key: &key, IfMatch: aws.String(etag),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", start, end-1)),
	})
	if err != nil {
		return s3Error(err)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, out.Body)
	if err != nil {
		return s3Error(err)
	}
	if n != end-start {
		return fmt.Errorf("%w: read %d bytes of %d", ErrBackend, n, end-start)
	}
	return nil
}
