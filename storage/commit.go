package storage

import (
	"context"
	"crypto/md5" //nolint:gosec // S3's ETag of a plain upload is an MD5
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Ambiguous commits.
//
// A PutObject or CompleteMultipartUpload whose answer is lost (a timeout, a
// reset connection, a 5xx after S3 applied it, or an SDK retry answered
// NoSuchUpload because the first attempt completed the upload) may have
// stored the object all the same. Before an upload reports such a failure it
// asks S3 (HeadObject) whether the key now holds exactly what was sent: the
// expected ETag (the MD5 of the body, or for a multipart upload the MD5 of
// the parts' MD5s and "-N", as AWS computes them) and size. Only then is the
// failure turned into success. A definite refusal (a 4xx other than
// NoSuchUpload, 501, or 503 SlowDown, which S3 answers before applying a
// request) is not checked. Where S3's ETag is not computed so (SSE-KMS
// or SSE-C encryption; gofakes3's multipart ETag is the MD5 of the whole
// object) the check never matches and the failure stands, as before.

// ambiguous reports whether err from a commit request leaves open whether S3
// applied it.
func ambiguous(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload" {
		return true
	}
	status := httpStatus(err)
	switch {
	case status == 501 || status == 503:
		return false // not implemented, or throttled (SlowDown): refused before it was applied
	default:
		return status < 400 || status >= 500
	}
}

// landed reports whether key holds an object of etag and size, asked with
// its own deadline (the commit's may have expired).
func (f *Fs) landed(key, etag string, size int64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), f.svc.set.RequestTimeout)
	defer cancel()
	out, err := f.svc.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	if err != nil {
		f.log.Warn("could not check an ambiguous commit", "key", key, "err", err)
		return false
	}
	got := unquote(aws.ToString(out.ETag))
	// A multipart ETag ends in "-N" on AWS, gofakes3 and versitygw; the
	// embedded store gives the same MD5 without it.
	hash, _, _ := strings.Cut(etag, "-")
	return (got == etag || got == hash) && aws.ToInt64(out.ContentLength) == size
}

// commitFailed returns the error of a commit of key that failed with err,
// or nil when err is ambiguous and the object of etag and size is stored
// all the same. A conditional commit's 412 is checked too: an SDK retry of a
// commit that S3 had applied fails its If-Match against our own object.
func (f *Fs) commitFailed(err error, key, etag string, size int64) error {
	if (ambiguous(err) || httpStatus(err) == http.StatusPreconditionFailed) && etag != "" && f.landed(key, etag, size) {
		f.log.Warn("commit reported a failure but the object is stored", "key", key, "err", err)
		return nil
	}
	return s3Error(err)
}

// bodyETag is S3's ETag of an object stored in one request.
func bodyETag(body []byte) string {
	sum := md5.Sum(body) //nolint:gosec
	return hex.EncodeToString(sum[:])
}

// multipartETag is S3's ETag of a multipart upload of parts, "" if a part's
// ETag is not an MD5.
func multipartETag(parts []types.CompletedPart) string {
	h := md5.New() //nolint:gosec
	for _, p := range parts {
		b, err := hex.DecodeString(unquote(aws.ToString(p.ETag)))
		if err != nil || len(b) != md5.Size {
			return ""
		}
		h.Write(b)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(parts))
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }
