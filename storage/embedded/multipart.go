package embedded

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/rclone/gofakes3"
)

// A multipart upload in progress is the directory uploads/<id> holding
// upload.json (an uploadRecord) and one file per part received,
// "<part number>-<MD5 hex>.part". A part's name holds its ETag, so
// CompleteMultipartUpload finds each part it is given by name and a part
// uploaded again with other contents does not replace the one an earlier
// ETag names: no index to keep consistent, no lock.

// uploadRecord is what is kept of a multipart upload in progress.
type uploadRecord struct {
	Bucket    string            `json:"bucket"`
	Key       string            `json:"key"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Initiated time.Time         `json:"initiated"`
}

// CreateMultipartUpload starts a multipart upload of key, to be stored with
// the metadata meta. It fails as PutObject does before receiving data:
// NoSuchBucket, InvalidArgument (including for a directory marker key, which
// cannot have contents) or InvalidBucketState.
func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	id, err := b.createUpload(ctx, bucket, key, meta)
	if err != nil {
		return "", s3Error(err)
	}
	return id, nil
}

// createUpload does the work of CreateMultipartUpload.
func (b *Backend) createUpload(ctx context.Context, bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	_, isMarker, err := b.place(ctx, bucket, key)
	if err != nil {
		return "", err
	}
	if isMarker {
		return "", markerWithContents(key)
	}
	id := randomHex(16)
	dir := uploadsDir + "/" + id
	if err := b.disk.Mkdir(dir); err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	// Not synced, nor are parts: the store removes every upload when it
	// starts (gofakes3 keeps its list in memory), so none outlives a crash.
	up := uploadRecord{Bucket: bucket, Key: key, Metadata: meta, Initiated: time.Now().UTC()}
	tmp, err := b.stageJSON(&up)
	if err == nil {
		_, err = b.install(tmp, dir+"/upload.json")
	}
	if err != nil {
		_ = b.root.RemoveAll(dir)
		return "", err
	}
	return gofakes3.UploadID(id), nil
}

// UploadPart streams part partNumber (1 to 10000) of the upload id to a
// file, returning its ETag (its quoted MD5). It fails with IncompleteBody
// unless body yields exactly contentLength bytes, with BadDigest if the
// request's x-amz-checksum-* header does not match, with InvalidPart for a
// bad part number and with NoSuchUpload if the upload has been completed or
// aborted. A failed part leaves nothing behind.
func (b *Backend) UploadPart(ctx context.Context, bucket, key string, id gofakes3.UploadID, partNumber int, contentLength int64, body io.Reader) (string, error) {
	etag, err := b.uploadPart(ctx, id, partNumber, contentLength, body)
	if err != nil {
		return "", s3Error(err)
	}
	return quote(etag), nil
}

// uploadPart does the work of UploadPart.
func (b *Backend) uploadPart(ctx context.Context, id gofakes3.UploadID, partNumber int, contentLength int64, body io.Reader) (string, error) {
	dir, err := b.uploadDir(id)
	if err != nil {
		return "", err
	}
	if partNumber < 1 || partNumber > gofakes3.MaxUploadPartNumber {
		return "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "Part number must be an integer between 1 and %d.", gofakes3.MaxUploadPartNumber)
	}
	pc := partChecksumFrom(ctx)
	if pc != nil && pc.err != nil {
		return "", pc.err
	}
	f, tmp, err := b.createTemp("part")
	if err != nil {
		return "", err
	}
	h := md5.New()
	w := io.MultiWriter(f, h)
	var sum hash.Hash
	if pc != nil {
		sum = pc.newHash()
		w = io.MultiWriter(f, h, sum)
	}
	n, err := io.Copy(w, ctxReader{ctx, io.LimitReader(body, contentLength)})
	if err == nil {
		err = f.Close() // parts need no sync: a crash loses the upload anyway (see createUpload)
	}
	switch {
	case err != nil:
		b.discard(f, tmp)
		return "", fmt.Errorf("receive part %d: %w", partNumber, err)
	case n != contentLength:
		b.discard(nil, tmp)
		return "", gofakes3.ErrorMessagef(gofakes3.ErrIncompleteBody, "Received %d of the %d bytes announced for part %d.", n, contentLength, partNumber)
	case pc != nil && !bytes.Equal(sum.Sum(nil), pc.want):
		b.discard(nil, tmp)
		return "", gofakes3.ErrorMessagef(gofakes3.ErrBadDigest, "The %s you specified for part %d did not match the calculated checksum.", pc.header, partNumber)
	}
	etag := hex.EncodeToString(h.Sum(nil))
	err = b.disk.Rename(tmp, dir+"/"+partName(partNumber, etag))
	if errors.Is(err, fs.ErrNotExist) {
		b.discard(nil, tmp)
		return "", gofakes3.ErrNoSuchUpload // aborted meanwhile
	}
	if err != nil {
		b.discard(nil, tmp)
		return "", fmt.Errorf("store part %d: %w", partNumber, err)
	}
	return etag, nil
}

// CompleteMultipartUpload concatenates the parts named by input, in order,
// into the object key: part files are copied into a temporary file
// (copy_file_range(2) where the file system has it), which is renamed into
// place, and the upload is deleted. The ETag is the MD5 of the parts' MD5s,
// as S3 computes it, but without S3's "-<part count>" suffix: gofakes3 sends
// the ETag of GET and HEAD and checks If-Match against Object.Hash, raw
// bytes, which cannot carry it, and an object must have one ETag. It fails
// with NoSuchUpload, MalformedXML for no parts, InvalidPartOrder unless the
// part numbers ascend, InvalidPart for a part that was not received with the
// ETag given, and as PutObject does for the key. The upload is left as it
// was if it fails, so the client can retry.
func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key string, id gofakes3.UploadID, input *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	etag, err := b.completeUpload(ctx, bucket, key, id, input)
	if err != nil {
		return "", "", s3Error(err)
	}
	return "", quote(etag), nil
}

// completeUpload does the work of CompleteMultipartUpload.
func (b *Backend) completeUpload(ctx context.Context, bucket, key string, id gofakes3.UploadID, input *gofakes3.CompleteMultipartUploadRequest) (string, error) {
	dir, err := b.uploadDir(id)
	if err != nil {
		return "", err
	}
	var up uploadRecord
	if found, err := b.readJSON(dir+"/upload.json", &up); err != nil {
		return "", err
	} else if !found || up.Bucket != bucket || up.Key != key {
		return "", gofakes3.ErrNoSuchUpload
	}
	parts, err := partFiles(input)
	if err != nil {
		return "", err
	}
	rel, _, err := b.place(ctx, bucket, key)
	if err != nil {
		return "", err
	}
	f, tmp, err := b.createTemp("complete")
	if err != nil {
		return "", err
	}
	all := md5.New()
	sizes := make([]int64, len(parts))
	for i, p := range parts {
		if sizes[i], err = b.appendPart(ctx, f, dir+"/"+p.name); err != nil {
			b.discard(f, tmp)
			if errors.Is(err, fs.ErrNotExist) {
				return "", notReceived(input.Parts[i])
			}
			return "", err
		}
		all.Write(p.md5)
	}
	info, err := b.finish(f, tmp)
	if err != nil {
		return "", err
	}
	rec := newRecord(key, info, all.Sum(nil), up.Metadata)
	rec.PartSizes = sizes
	if err := b.commit(bucket, rel, tmp, rec); err != nil {
		return "", err
	}
	if err := b.root.RemoveAll(dir); err != nil {
		b.log.Warn("embedded store: cannot remove completed upload", "upload", id, "err", err)
	}
	return rec.ETag, nil
}

// appendPart copies the part file at rel to the end of f, returning its size.
func (b *Backend) appendPart(ctx context.Context, f diskFile, rel string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	part, err := b.root.Open(rel)
	if err != nil {
		return 0, fmt.Errorf("open part: %w", err)
	}
	defer part.Close()
	n, err := io.Copy(f, part)
	if err != nil {
		return 0, fmt.Errorf("copy part: %w", err)
	}
	return n, nil
}

// partFile is a part a CompleteMultipartUpload request names.
type partFile struct {
	name string // in the upload's directory
	md5  []byte
}

// partFiles returns the parts input names.
func partFiles(input *gofakes3.CompleteMultipartUploadRequest) ([]partFile, error) {
	if len(input.Parts) == 0 {
		return nil, gofakes3.ErrorMessage(gofakes3.ErrMalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: no parts.")
	}
	parts := make([]partFile, len(input.Parts))
	for i, p := range input.Parts {
		if i > 0 && p.PartNumber <= input.Parts[i-1].PartNumber {
			return nil, gofakes3.ErrInvalidPartOrder
		}
		etag := strings.ToLower(strings.Trim(p.ETag, `"`))
		sum, err := hex.DecodeString(etag)
		if err != nil || len(sum) != md5.Size || p.PartNumber < 1 || p.PartNumber > gofakes3.MaxUploadPartNumber {
			return nil, notReceived(p)
		}
		parts[i] = partFile{name: partName(p.PartNumber, etag), md5: sum}
	}
	return parts, nil
}

// notReceived is the error for the part p that was not received.
func notReceived(p gofakes3.CompletedPart) error {
	return gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "Part %d with ETag %s was not received.", p.PartNumber, p.ETag)
}

// partName returns the file name of part n with the hex MD5 etag.
func partName(n int, etag string) string {
	return fmt.Sprintf("%05d-%s.part", n, etag)
}

// AbortMultipartUpload deletes the upload id and its parts. Aborting an
// upload that is not there (any more) succeeds, so a retried abort does.
func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key string, id gofakes3.UploadID) error {
	dir, err := b.uploadDir(id)
	if errors.Is(err, gofakes3.ErrNoSuchUpload) {
		return nil
	}
	if err != nil {
		return s3Error(err)
	}
	if err := b.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	return nil
}

// uploadDir returns the directory of the upload id, or NoSuchUpload.
func (b *Backend) uploadDir(id gofakes3.UploadID) (string, error) {
	if len(id) != 32 || strings.Trim(string(id), "0123456789abcdef") != "" {
		return "", gofakes3.ErrNoSuchUpload // not an ID createUpload makes
	}
	dir := uploadsDir + "/" + string(id)
	if _, err := b.root.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", gofakes3.ErrNoSuchUpload
	} else if err != nil {
		return "", fmt.Errorf("stat upload: %w", err)
	}
	return dir, nil
}
