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

// reader streams one object from a GetObject response that starts at the
// offset given when it was opened (the FTP REST offset), so resuming a
// download costs one ranged GET and no skipped bytes.
type reader struct {
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
func (f *Fs) newReader(name string, offset int64) (*reader, error) {
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
	r := &reader{handle: handle{name: clean(name)}, body: out.Body, cancel: cancel, start: offset, pos: offset}
	r.size = offset + aws.ToInt64(out.ContentLength)
	return r, nil
}

// openFailed explains a failed GetObject: a directory, a missing file, or a
// range starting at or past the end (an empty read at exactly the end).
func (f *Fs) openFailed(name, key string, offset int64, getErr error) (*reader, error) {
	ctx, cancel := f.reqCtx()
	defer cancel()
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
		return &reader{handle: handle{name: clean(name)}, body: http.NoBody, cancel: func() {}, start: offset, pos: offset, size: offset}, nil
	}
	return nil, fmt.Errorf("%w: offset %d is past the end of the file (%d bytes)", fs.ErrInvalid, offset, fi.Size())
}

// Read reads the next bytes of the object.
func (r *reader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, r.pathErr(s3Error(err))
	}
	return n, err
}

// Seek accepts only the position the reader is at (ftpserverlib seeks to the
// REST offset it already passed to GetHandle) and SeekCurrent with offset 0.
func (r *reader) Seek(offset int64, whence int) (int64, error) {
	switch {
	case whence == io.SeekStart && offset == r.pos:
		return r.pos, nil
	case whence == io.SeekCurrent && offset == 0:
		return r.pos, nil
	}
	return 0, r.pathErr(fmt.Errorf("%w: seek in a download stream", ErrUnsupported))
}

// Stat describes the object being read.
func (r *reader) Stat() (fs.FileInfo, error) {
	return newFileInfo(r.name, r.size, time.Time{}), nil // date unknown here
}

// Close ends the GET, releasing its connection.
func (r *reader) Close() error {
	r.cancel()
	return r.body.Close()
}
