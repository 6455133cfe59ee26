package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Sentinel errors. Fs methods return them (or fs.ErrNotExist, fs.ErrExist,
// fs.ErrPermission) wrapped in *fs.PathError whose Path is the FTP path, never
// the bucket or key; callers branch with errors.Is.
var (
	// ErrInvalidName: the path cannot be stored (invalid UTF-8, control
	// characters, or it names the root where a file is needed).
	ErrInvalidName = errors.New("invalid file name")
	// ErrNameTooLong: the object key would exceed MaxKeyBytes.
	ErrNameTooLong = errors.New("file name too long")
	// ErrIsDir: a file operation was asked of a directory.
	ErrIsDir = errors.New("is a directory")
	// ErrNotDir: a directory operation was asked of a file.
	ErrNotDir = errors.New("not a directory")
	// ErrNotEmpty: RMD of a directory that still holds entries.
	ErrNotEmpty = errors.New("directory not empty")
	// ErrTooMany: a directory rename or removal touches more keys than allowed.
	ErrTooMany = errors.New("too many entries")
	// ErrTooLarge: an upload exceeds the largest object this gateway can write.
	ErrTooLarge = errors.New("file too large")
	// ErrUnsupported: the operation has no S3 equivalent here.
	ErrUnsupported = errors.New("operation not supported")
	// ErrAborted: the transfer was interrupted and its upload discarded.
	ErrAborted = errors.New("transfer aborted")
	// ErrChanged: the file changed while an operation that depends on one
	// version of it ran (APPE or REST+STOR compose, a part-by-part rename, a
	// download read in ranges): S3 refused the request's ETag condition (412
	// PreconditionFailed). Nothing was written over the other writer's file;
	// a download ends short of the end.
	ErrChanged = errors.New("the file changed meanwhile")
	// ErrBackend: S3 failed or could not be reached; the wrapped error says why
	// and is for logs only (it may name the bucket, endpoint or request id).
	ErrBackend = errors.New("storage backend error")
	// ErrRefused: S3 refused a request for a reason that is the gateway's
	// configuration, not the client's doing: the gateway's credentials or
	// the bucket policy deny it (AccessDenied, any 403), or S3 rejects an
	// argument the gateway's settings produced (InvalidArgument: checksum,
	// part number, copy range, server-side encryption). Such an error also
	// matches ErrBackend; the S3 error stays in the chain for logs only.
	ErrRefused = errors.New("storage refused the request")
)

// pathError wraps err for the FTP path name as an *fs.PathError.
func pathError(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: clean(name), Err: err}
}

// s3Error classifies an error from the S3 client by what it means. A
// cancelled request becomes ErrAborted; not found, conflicting, too long and
// invalid key errors (the client's name) become fs.ErrNotExist, fs.ErrExist,
// ErrNameTooLong and ErrInvalidName; a failed ETag condition becomes
// ErrChanged; a refusal the gateway's configuration
// caused becomes ErrRefused; anything else is wrapped in ErrBackend, keeping
// the SDK error in the chain for logging. No S3 answer is fs.ErrPermission:
// the user's permissions are the gateway's, checked before any request.
func s3Error(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		// The session ended or the transfer was interrupted: not S3's doing.
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchBucket":
			// A missing bucket is a configuration problem, not a missing file.
			return fmt.Errorf("%w: %w", ErrBackend, err)
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return fmt.Errorf("%w (%w)", fs.ErrNotExist, err)
		case "AccessDenied", "Forbidden", "InvalidArgument":
			return refused(err)
		case "PreconditionFailed":
			return fmt.Errorf("%w (%w)", ErrChanged, err)
		case "KeyTooLongError":
			return fmt.Errorf("%w (%w)", ErrNameTooLong, err)
		case "InvalidObjectName":
			return fmt.Errorf("%w (%w)", ErrInvalidName, err)
		}
	}
	switch httpStatus(err) {
	case http.StatusNotFound:
		return fmt.Errorf("%w (%w)", fs.ErrNotExist, err)
	case http.StatusForbidden:
		return refused(err)
	case http.StatusPreconditionFailed:
		return fmt.Errorf("%w (%w)", ErrChanged, err)
	case http.StatusConflict:
		// File-system backed servers (the embedded store, versitygw) refuse a
		// key that is both a file and a directory prefix ("a" and "a/b").
		return fmt.Errorf("%w (%w)", fs.ErrExist, err)
	}
	return fmt.Errorf("%w: %w", ErrBackend, err)
}

// refused wraps err, an S3 refusal caused by the gateway's configuration,
// in ErrRefused and ErrBackend.
func refused(err error) error {
	return fmt.Errorf("%w: %w: %w", ErrBackend, ErrRefused, err)
}

// httpStatus returns the HTTP status of an S3 response error, or 0.
func httpStatus(err error) int {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}
