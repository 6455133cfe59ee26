package storage

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// newAppender starts an upload that keeps the first bytes of the file at
// name and writes after them: all of it for APPE (appendMode), the first
// offset bytes for REST offset + STOR (the rest is replaced). S3 has no
// append, so the new object is composed server-side: a kept prefix of 5 MiB
// or more becomes the first parts of a multipart upload by UploadPartCopy; a
// shorter one (S3's minimum part size) is read into the first part buffer.
// The object is replaced only when the upload completes, and only if it has
// not changed since: its ETag is checked by every read and copy, and by the
// commit (If-Match on PutObject or CompleteMultipartUpload), so a file
// another client wrote meanwhile is never overwritten (ErrChanged).
//
// A missing file is created by APPE (and REST 0); a REST offset past the
// end of the file is fs.ErrInvalid.
func (f *Fs) newAppender(name string, offset int64, appendMode bool) (*Upload, error) {
	key, err := f.jail.key(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := f.reqCtx()
	head, err := f.svc.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	cancel()
	if err != nil {
		if err := s3Error(err); !errors.Is(err, fs.ErrNotExist) || (!appendMode && offset > 0) {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: offset %d of a file that does not exist", fs.ErrInvalid, offset)
			}
			return nil, err
		}
		return f.newWriter(name)
	}
	size, etag := aws.ToInt64(head.ContentLength), aws.ToString(head.ETag)
	keep := offset
	if appendMode {
		keep = size
	}
	if keep > size {
		return nil, fmt.Errorf("%w: offset %d is past the end of the file (%d bytes)", fs.ErrInvalid, keep, size)
	}
	w, err := f.newWriter(name)
	if err != nil {
		return nil, err
	}
	w.sums = nil // the digests would have to cover the kept bytes too
	w.size = keep
	w.ifMatch = etag // stored only over the version composed with
	switch {
	case keep == 0:
	case keep < minPartSize:
		if w.buf, err = f.svc.buffers.get(w.ctx, f.svc.set.PartSize); err != nil {
			w.cancel()
			return nil, err
		}
		if err := f.readRange(key, etag, 0, keep, (*sliceWriter)(w.buf)); err != nil {
			w.release()
			w.cancel()
			return nil, err
		}
	default:
		if err := w.copyPrefix(etag, keep); err != nil {
			w.abort()
			return nil, err
		}
	}
	return w, nil
}

// copyPrefix starts the multipart upload of w with bytes [0, keep) of the
// object as it is at etag, copied server-side in parts of at most
// copyPartSize (sent in the background like data parts).
func (w *Upload) copyPrefix(etag string, keep int64) error {
	// No CRC32 announced: copied parts have no checksum that every server
	// agrees on (versitygw answers the source object's, a composite "...-N"
	// for a multipart source), and an announced upload needs one per part.
	mp, err := w.fs.createMultipart(w.ctx, w.key, w.contentType(), nil, false)
	if err != nil {
		return err
	}
	w.mp = mp
	for _, r := range copyRanges(keep, w.fs.svc.copyPartSize) {
		start, end := r[0], r[1]
		num := w.next
		w.next++
		w.sem <- struct{}{}
		w.goPart(func() (types.CompletedPart, error) {
			return w.mp.copyPart(w.ctx, num, w.key, etag, start, end)
		}, nil)
	}
	return nil
}

// sliceWriter appends what is written to a byte slice, within its
// capacity (a pooled buffer must keep its size).
type sliceWriter []byte

func (s *sliceWriter) Write(p []byte) (int, error) {
	if len(*s)+len(p) > cap(*s) {
		return 0, fmt.Errorf("%w: S3 sent more bytes than the range asked for", ErrBackend)
	}
	*s = append(*s, p...)
	return len(p), nil
}
