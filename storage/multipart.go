package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// This file holds every multipart request the package makes: create, upload
// part, upload part copy, complete and abort. Uploads (upload.go) send their
// parts through it, APPE/REST compose (append.go) copies the kept bytes
// through it, and renames of objects above the single-copy limit
// (rename.go) copy through it.

// multipart is one multipart upload in progress.
type multipart struct {
	fs  *Fs
	key string
	id  string
	// crc32 is true when the upload announced CRC32 part checksums, which
	// then go with every part and back in the completion.
	crc32 bool
}

// createMultipart starts a multipart upload of key, with contentType unless
// it is "" and the user metadata meta. With crc32 (and Settings.Checksums
// ChecksumsSupported) it announces CRC32 part checksums. The request is not
// cancelled with ctx (only its values are used): S3 may have started the
// upload already, and only its answer names the upload for the caller to
// abort.
func (f *Fs) createMultipart(ctx context.Context, key, contentType string, meta map[string]string, crc32 bool) (*multipart, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.svc.set.RequestTimeout)
	defer cancel()
	crc32 = crc32 && f.svc.set.Checksums == ChecksumsSupported
	in := &s3.CreateMultipartUploadInput{Bucket: &f.bucket, Key: &key, Metadata: meta}
	if contentType != "" {
		in.ContentType = &contentType
	}
	if crc32 {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	}
	out, err := f.svc.api.CreateMultipartUpload(ctx, in)
	if err != nil {
		return nil, s3Error(err)
	}
	m := &multipart{fs: f, key: key, id: aws.ToString(out.UploadId), crc32: crc32}
	f.svc.uploads.started(m.ref())
	return m, nil
}

// ref names the upload in the Service's ledger.
func (m *multipart) ref() uploadRef {
	return uploadRef{Bucket: m.fs.bucket, Key: m.key, UploadID: m.id}
}

// uploadPart sends body as part num.
func (m *multipart) uploadPart(ctx context.Context, num int32, body []byte) (types.CompletedPart, error) {
	ctx, cancel := context.WithTimeout(ctx, m.fs.svc.set.PartTimeout)
	defer cancel()
	in := &s3.UploadPartInput{
		Bucket: &m.fs.bucket, Key: &m.key, UploadId: &m.id, PartNumber: aws.Int32(num),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	}
	if m.crc32 {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	}
	out, err := m.fs.svc.api.UploadPart(ctx, in)
	if err != nil {
		return types.CompletedPart{}, s3Error(err)
	}
	part := types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag}
	if m.crc32 {
		part.ChecksumCRC32 = out.ChecksumCRC32
	}
	return part, nil
}

// copyPart makes part num of bytes [start, end] of the object at srcKey,
// which must still have etag unless etag is "": if it has not, the error is
// ErrChanged (versitygw checks the range first, and answers a source that
// shrank with 400 InvalidArgument, a refusal, not 412: a refused copy looks
// at the source's ETag).
func (m *multipart) copyPart(ctx context.Context, num int32, srcKey, etag string, start, end int64) (types.CompletedPart, error) {
	ctx, cancel := context.WithTimeout(ctx, m.fs.svc.set.PartTimeout)
	defer cancel()
	in := &s3.UploadPartCopyInput{
		Bucket: &m.fs.bucket, Key: &m.key, UploadId: &m.id, PartNumber: aws.Int32(num),
		CopySource:      aws.String(m.fs.copySource(srcKey)),
		CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", start, end)),
	}
	if etag != "" {
		in.CopySourceIfMatch = aws.String(etag)
	}
	out, err := m.fs.svc.api.UploadPartCopy(ctx, in)
	if err != nil {
		err = s3Error(err)
		if etag != "" && errors.Is(err, ErrRefused) && m.fs.changedSince(srcKey, etag) {
			err = fmt.Errorf("%w: %w", ErrChanged, err)
		}
		return types.CompletedPart{}, err
	}
	return types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.CopyPartResult.ETag}, nil
}

// complete assembles the parts into the object, only if the key still has
// the ETag ifMatch unless that is "", aborting the upload if S3 refuses, and
// returns the object's ETag. A failure that leaves open whether S3
// completed the upload is checked first (see commitFailed): the object must
// have the parts' ETag and size bytes.
func (m *multipart) complete(ctx context.Context, parts []types.CompletedPart, size int64, ifMatch string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.fs.svc.set.PartTimeout)
	defer cancel()
	in := &s3.CompleteMultipartUploadInput{
		Bucket: &m.fs.bucket, Key: &m.key, UploadId: &m.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if ifMatch != "" {
		in.IfMatch = &ifMatch
	}
	out, err := m.fs.svc.api.CompleteMultipartUpload(ctx, in)
	if err != nil {
		if err := m.fs.commitFailed(err, m.key, multipartETag(parts), size); err != nil {
			m.abort()
			return "", err
		}
		m.fs.svc.uploads.done(m.ref())
		return multipartETag(parts), nil
	}
	m.fs.svc.uploads.done(m.ref())
	return aws.ToString(out.ETag), nil
}

// abort discards the upload and its parts. It uses a fresh context so it
// still runs when the session's has been cancelled; a failure is logged and
// the upload left in the ledger for Service.Sweep to abort later.
func (m *multipart) abort() {
	if err := m.fs.svc.abortUpload(m.ref()); err != nil {
		m.fs.log.Error("could not abort multipart upload: retried by the sweeper", "key", m.key, "upload_id", m.id, "err", err)
		m.fs.svc.uploads.leftOver(m.ref())
		return
	}
	m.fs.svc.uploads.done(m.ref())
}

// multipartCopy copies srcKey to dstKey with UploadPartCopy in ranges of
// copyPartSize, one after the other, aborting the upload on failure (for
// objects above the single-copy limit). The copy keeps the source's
// Content-Type and user metadata (the stored digests), as CopyObject does,
// and every part is copied only from the version first seen (its ETag), so
// an overwrite during the copy fails it instead of splicing two versions.
func (f *Fs) multipartCopy(srcKey, dstKey string) error {
	ctx, cancel := f.reqCtx()
	head, err := f.svc.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &srcKey})
	cancel()
	if err != nil {
		return s3Error(err)
	}
	size, etag := aws.ToInt64(head.ContentLength), aws.ToString(head.ETag)
	mp, err := f.createMultipart(f.ctx, dstKey, aws.ToString(head.ContentType), head.Metadata, false)
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for i, r := range copyRanges(size, f.svc.copyPartSize) {
		part, err := mp.copyPart(f.ctx, int32(i+1), srcKey, etag, r[0], r[1])
		if err != nil {
			mp.abort()
			return err
		}
		parts = append(parts, part)
	}
	_, err = mp.complete(f.ctx, parts, size, "")
	return err
}

// copyRanges splits [0, size) into inclusive byte ranges of partSize, the
// last one taking the remainder when that would be under S3's minimum part
// size (so every range is at least 5 MiB when size is).
func copyRanges(size, partSize int64) [][2]int64 {
	var ranges [][2]int64
	for start := int64(0); start < size; start += partSize {
		end := min(start+partSize, size)
		if size-end < minPartSize {
			end = size
		}
		ranges = append(ranges, [2]int64{start, end - 1})
		if end == size {
			break
		}
	}
	return ranges
}

// changedSince reports whether the object at key no longer has etag (or is
// gone), asked with its own deadline; an error asking counts as no.
func (f *Fs) changedSince(key, etag string) bool {
	ctx, cancel := f.reqCtx()
	defer cancel()
	out, err := f.svc.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	if err != nil {
		return errors.Is(s3Error(err), fs.ErrNotExist)
	}
	return unquote(aws.ToString(out.ETag)) != unquote(etag)
}
