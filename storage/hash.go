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
	"io"
	"io/fs"
	"slices"

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

// Digest names, as Settings.Digests and the configuration spell them.
const (
	DigestSHA256 = "sha256"
	DigestMD5    = "md5"
	DigestCRC32  = "crc32"
	// DigestsNone, alone, keeps no digest.
	DigestsNone = "none"
)

// defaultDigests are the digests kept when Settings.Digests is empty: the
// SHA-256 of upload events and the CRC32 that costs next to nothing.
var defaultDigests = []string{DigestSHA256, DigestCRC32}

// digestHashes maps the digest names of Settings.Digests to their hashes.
var digestHashes = map[string]crypto.Hash{DigestSHA256: crypto.SHA256, DigestMD5: crypto.MD5, DigestCRC32: CRC32}

// parseDigests returns the hashes of the digest names, an error for an
// unknown name or "none" beside others.
func parseDigests(names []string) ([]crypto.Hash, error) {
	if len(names) == 1 && names[0] == DigestsNone {
		return nil, nil
	}
	var hashes []crypto.Hash
	for _, n := range names {
		h, ok := digestHashes[n]
		if !ok {
			return nil, fmt.Errorf("unknown digest %q (want sha256, md5, crc32, or none alone)", n)
		}
		if !slices.Contains(hashes, h) {
			hashes = append(hashes, h)
		}
	}
	return hashes, nil
}

// uploadSums are the digests of an upload computed as it streams, those
// of Settings.Digests: each byte goes once through each of them, and the
// SHA-256, when kept, also signs a single-request upload (payloadHash).
type uploadSums struct {
	hashes map[crypto.Hash]hash.Hash
	writer io.Writer // all of them
}

// newUploadSums returns the sums of algos, nil for none.
func newUploadSums(algos []crypto.Hash) *uploadSums {
	if len(algos) == 0 {
		return nil
	}
	s := &uploadSums{hashes: make(map[crypto.Hash]hash.Hash, len(algos))}
	var ws []io.Writer
	for _, a := range algos {
		h := digests[a].newHash()
		s.hashes[a] = h
		ws = append(ws, h)
	}
	s.writer = io.MultiWriter(ws...)
	if len(ws) == 1 {
		s.writer = ws[0]
	}
	return s
}

func (s *uploadSums) write(p []byte) { _, _ = s.writer.Write(p) }

// hex returns the digests in hex, by algorithm.
func (s *uploadSums) hex() map[crypto.Hash]string {
	m := make(map[crypto.Hash]string, len(s.hashes))
	for a, h := range s.hashes {
		m[a] = hex.EncodeToString(h.Sum(nil))
	}
	return m
}

// metadata returns the digests as object metadata.
func (s *uploadSums) metadata() map[string]string {
	m := make(map[string]string, len(s.hashes))
	for a, sum := range s.hex() {
		m[digests[a].meta] = sum
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
