package storage

import (
	"context"
	"crypto"
	"crypto/md5"  //nolint:gosec // MD5 is what FTP's MD5/XMD5 commands ask for
	"crypto/sha1" //nolint:gosec // likewise XSHA1
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io/fs"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Object metadata (x-amz-meta-*) holding the digests of an upload, in hex.
const (
	metaSHA256 = "sha256"
	metaMD5    = "md5"
	metaCRC32  = "crc32"
)

// MultipartHashes says where the digests of a multipart upload are kept.
type MultipartHashes string

const (
	// MultipartHashesNone keeps no digests for multipart uploads: HASH reads
	// the object. Single-request uploads (up to the part size) always carry
	// their digests in their metadata, which costs nothing.
	MultipartHashesNone MultipartHashes = "none"
	// MultipartHashesCopy stores them in the metadata too, with a server-side
	// CopyObject of the object onto itself before the upload is reported
	// complete (objects up to 5 GiB). It costs S3 a copy of every such
	// object (and a second version in a versioned bucket).
	MultipartHashesCopy MultipartHashes = "copy"
)

// ParseMultipartHashes parses "none" or "copy".
func ParseMultipartHashes(s string) (MultipartHashes, error) {
	switch m := MultipartHashes(s); m {
	case MultipartHashesNone, MultipartHashesCopy:
		return m, nil
	}
	return "", fmt.Errorf("unknown multipart hash mode %q (want none or copy)", s)
}

// uploadSums are the digests of an upload computed as it streams: SHA-256
// and CRC32 (MD5 is only computed for single-request uploads, over their one
// buffer, where it is cheap).
type uploadSums struct {
	sha256 hash.Hash
	crc32  hash.Hash32
}

func newUploadSums() *uploadSums {
	return &uploadSums{sha256: sha256.New(), crc32: crc32.NewIEEE()}
}

func (s *uploadSums) write(p []byte) {
	s.sha256.Write(p)
	s.crc32.Write(p)
}

// metadata returns the digests as object metadata; body, when not nil, is
// the whole object, of which the MD5 is added.
func (s *uploadSums) metadata(body []byte) map[string]string {
	m := map[string]string{
		metaSHA256: hex.EncodeToString(s.sha256.Sum(nil)),
		metaCRC32:  hex.EncodeToString(s.crc32.Sum(nil)),
	}
	if body != nil {
		sum := md5.Sum(body) //nolint:gosec
		m[metaMD5] = hex.EncodeToString(sum[:])
	}
	return m
}

// CRC32 stands for the IEEE CRC-32 checksum (FTP's XCRC and HASH CRC32),
// which crypto.Hash does not name. It is no registered crypto.Hash: only
// this package's digest functions understand it.
const CRC32 = crypto.Hash(1 << 16)

// digests maps each algorithm this package computes to a hash and the
// metadata that may hold it.
var digests = map[crypto.Hash]struct {
	newHash func() hash.Hash
	meta    string
}{
	CRC32:         {func() hash.Hash { return crc32.NewIEEE() }, metaCRC32},
	crypto.MD5:    {md5.New, metaMD5},
	crypto.SHA1:   {sha1.New, ""},
	crypto.SHA256: {sha256.New, metaSHA256},
	crypto.SHA512: {sha512.New, ""},
}

// ComputeHash returns the hex digest with algo (CRC32, crypto.MD5, SHA1,
// SHA256 or SHA512; others are ErrUnsupported) of bytes [start, end) of the
// file at name. For the whole file it answers from the digests stored at
// upload when there are some; otherwise it streams the range through the
// hash with one ranged GET, in bounded memory. A range outside the file is
// fs.ErrInvalid.
func (f *Fs) ComputeHash(name string, algo crypto.Hash, start, end int64) (string, error) {
	sum, err := f.computeHash(name, algo, start, end)
	if err != nil {
		return "", pathError("hash", name, err)
	}
	return sum, nil
}

func (f *Fs) computeHash(name string, algo crypto.Hash, start, end int64) (string, error) {
	a, ok := digests[algo]
	if !ok {
		return "", fmt.Errorf("%w: hash algorithm %d", ErrUnsupported, algo)
	}
	key, err := f.jail.key(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := f.reqCtx()
	head, err := f.svc.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	cancel()
	if err != nil {
		return "", s3Error(err)
	}
	size := aws.ToInt64(head.ContentLength)
	if start < 0 || end > size || start > end {
		return "", fmt.Errorf("%w: range %d-%d of a %d-byte file", fs.ErrInvalid, start, end, size)
	}
	if stored := head.Metadata[a.meta]; a.meta != "" && stored != "" && start == 0 && end == size {
		return stored, nil
	}
	h := a.newHash()
	if end > start {
		if err := f.readRange(key, aws.ToString(head.ETag), start, end, h); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// storeHashesByCopy puts sums into the metadata of the completed multipart
// object key (of etag and size) with a CopyObject onto itself, if the object
// is small enough for one copy. A failure is logged: HASH then reads the
// object instead.
func (f *Fs) storeHashesByCopy(ctx context.Context, key, etag, contentType string, size int64, sums map[string]string) {
	if size > f.svc.copyLimit {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, f.svc.set.PartTimeout)
	defer cancel()
	_, err := f.svc.api.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &f.bucket, Key: &key, CopySource: aws.String(f.copySource(key)),
		CopySourceIfMatch: aws.String(etag), MetadataDirective: "REPLACE",
		Metadata: sums, ContentType: aws.String(contentType),
	})
	if err != nil && !errors.Is(s3Error(err), ErrAborted) {
		f.log.Warn("could not store the digests of a multipart upload", "key", key, "err", err)
	}
}
