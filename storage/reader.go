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

// Download streams one object from a GetObject response that starts at the
// offset given when it was opened (the FTP REST offset), so resuming a
// download costs one ranged GET and no skipped bytes.
type Download struct {
	handle
	body   io.ReadCloser
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
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := f.svc.api.GetObject(ctx, in)
	if err != nil {
		cancel()
		return f.openFailed(name, key, offset, err)
	}
	r := &Download{handle: handle{name: clean(name)}, body: out.Body, cancel: cancel, start: offset, pos: offset}
	r.size = offset + aws.ToInt64(out.ContentLength)
	return r, nil
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
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, r.pathErr(s3Error(err))
	}
	return n, err
}

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

// Close ends the GET, releasing its connection.
func (r *Download) Close() error {
	r.cancel()
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
