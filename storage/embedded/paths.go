package embedded

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/rclone/gofakes3"
)

// Layout of the data directory, relative to Dir. Buckets are the directories
// Dir/<bucket> (bucket names never start with "."), so nothing here can be
// confused with a bucket or reached through a key.
const (
	stateDir   = ".s3ftp"
	tmpDir     = stateDir + "/tmp"     // files being written, renamed into place when complete
	uploadsDir = stateDir + "/uploads" // one directory per multipart upload in progress
	metaDir    = stateDir + "/meta"    // one record per object: meta/<bucket>/<hh>/<sha256(key)>.json
	lockFile   = stateDir + "/lock"    // held while a Backend has the directory open
)

// maxSegment is the longest file name most file systems (ext4, xfs, btrfs,
// tmpfs) accept, in bytes.
const maxSegment = 255

// objectPath maps key in bucket to its path relative to Dir:
// "<bucket>/<key>" for an object, "<bucket>/<key without the final />" for a
// directory marker (a key ending in "/"), which isMarker reports.
//
// It refuses, with an InvalidArgument S3 error (whose message quotes the key
// with Go escapes: the XML of a response cannot carry a NUL), any key that cannot be kept as
// a file faithfully and safely: an empty key, a key longer than 1024 bytes, a
// key with a NUL byte, a key with an empty segment (a leading "/" or "a//b"),
// a "." or ".." segment, or a segment longer than 255 bytes. A key it accepts
// always maps to a path strictly inside Dir/<bucket>. The bucket name must
// already be valid (BucketExists checks it).
func objectPath(bucket, key string) (rel string, isMarker bool, err error) {
	if key == "" {
		return "", false, gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, "The key must not be empty.")
	}
	if len(key) > gofakes3.KeySizeLimit {
		return "", false, gofakes3.ResourceError(gofakes3.ErrKeyTooLong, key)
	}
	isMarker = strings.HasSuffix(key, "/")
	if err := checkSegments(strings.TrimSuffix(key, "/")); err != nil {
		return "", false, gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "The embedded store keeps keys as files and cannot store the key %q: %v.", key, err)
	}
	return bucket + "/" + strings.TrimSuffix(key, "/"), isMarker, nil
}

// markerWithContents is the error for a directory marker key given contents.
func markerWithContents(key string) error {
	return gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "The key %q ends in \"/\", so it is a directory marker in the embedded store, and cannot have contents.", key)
}

// checkSegments reports why the "/" separated path p cannot be a relative
// file path made of ordinary names, or nil if it can.
func checkSegments(p string) error {
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("it contains a NUL byte")
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("it has an empty path segment (a leading \"/\" or \"//\")")
		case seg == "." || seg == "..":
			return fmt.Errorf("it has a %q path segment", seg)
		case len(seg) > maxSegment:
			return fmt.Errorf("it has a path segment longer than %d bytes", maxSegment)
		}
	}
	return nil
}

// recordPath returns the path, relative to Dir, of the bookkeeping record of
// key in bucket. Records are named by the SHA-256 of the key, so any key has
// one, of bounded length, whatever the key's segments.
func recordPath(bucket, key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return metaDir + "/" + bucket + "/" + h[:2] + "/" + h + ".json"
}

// parentDir returns the directory part of the relative path p ("" for a path
// without one).
func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}
