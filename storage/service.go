// Package storage maps file operations onto S3: an afero.Fs over one bucket and
// key prefix, with streaming uploads (multipart) and ranged downloads.
//
// A Service holds what every session shares (the S3 client, settings, the
// upload buffer pool); Service.NewFs gives one user's view, jailed to their
// bucket and prefix. Errors are *fs.PathError values that wrap fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission or one of this package's sentinels; S3 and
// network failures wrap ErrBackend.
package storage

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// API is the part of the S3 client the storage package uses. *s3.Client
// implements it.
type API interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, opts ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, opts ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListBuckets(ctx context.Context, in *s3.ListBucketsInput, opts ...func(*s3.Options)) (*s3.ListBucketsOutput, error)
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
}

var _ API = (*s3.Client)(nil)

// S3 limits the package works within.
const (
	minPartSize  = 5 << 20 // smallest part but the last
	maxParts     = 10000
	maxCopySize  = 5 << 30 // largest single CopyObject
	copyPartSize = 512 << 20

	minChunkSize = 256 << 10 // DownloadChunkSize bounds
	maxChunkSize = 512 << 20
)

// Settings tune how an Fs uses S3. Zero fields take the defaults noted.
type Settings struct {
	// PartSize is the multipart part size and the largest upload sent as one
	// PutObject. Default 8 MiB; at least 5 MiB. Uploads are limited to
	// 10,000 parts (78 GiB at 8 MiB).
	PartSize int64
	// Concurrency is how many parts of one upload are sent at once. Memory per
	// upload is at most (Concurrency+1) × PartSize. Default 3.
	Concurrency int
	// Checksums must be the mode NewClient resolved (ChecksumsSupported or
	// ChecksumsRequired); with ChecksumsSupported multipart uploads announce
	// CRC32 and echo part checksums on completion. Default ChecksumsRequired.
	Checksums ChecksumMode
	// RequestTimeout bounds each metadata request (HEAD, LIST, PUT of a
	// marker, COPY of a small object). Default 30 s.
	RequestTimeout time.Duration
	// PartTimeout bounds each part upload and each single PutObject. Default 5 min.
	PartTimeout time.Duration
	// RenameLimit is the most keys a directory rename or recursive removal
	// may touch; beyond it the operation is refused with ErrTooMany before
	// anything changes. Default 1000.
	RenameLimit int
	// ListPageSize is MaxKeys for each ListObjectsV2 page, and so the most
	// entries a listing holds at once. Default 1000.
	ListPageSize int32
	// DownloadConcurrency is how many ranged GETs of one download larger
	// than DownloadChunkSize are in flight at once; 1 reads each download
	// with one streaming GET. Memory per download is at most
	// DownloadConcurrency × DownloadChunkSize, taken from UploadMemory's
	// budget only when free (downloads hold at most half of it; one that
	// finds no room is read with fewer ranges, or one GET). Default 4; at
	// most 64.
	DownloadConcurrency int
	// DownloadChunkSize is the size of each ranged GET when
	// DownloadConcurrency is above 1. Default PartSize (whose buffers
	// uploads and downloads share); between 256 KiB and 512 MiB.
	DownloadChunkSize int64
	// MultipartHashes says whether the digests of multipart uploads are
	// stored (see MultipartHashes). Default MultipartHashesNone.
	MultipartHashes MultipartHashes
	// UploadMemory is the most memory, in bytes, that the buffers of all
	// uploads (and downloads' ranged GETs, see DownloadConcurrency) together
	// may take, process-wide. Buffers are reused from
	// one upload to the next; an upload that needs one while the budget
	// is spent waits for another upload to give one back, as long as its
	// session lasts and at most PartTimeout (then it fails, nothing
	// stored). Default 256 MiB; at least (Concurrency+1) × PartSize + 1 MiB,
	// what one upload can hold.
	UploadMemory int64
	// Digests names the digests computed as each upload streams and kept in
	// its metadata for HASH (DigestSHA256, DigestMD5, DigestCRC32; or
	// DigestsNone alone): each costs CPU on every byte, and HASH of one not
	// kept reads the object. The SHA-256 also signs single-request uploads
	// on plain-HTTP endpoints and goes in upload events. Default sha256 and
	// crc32.
	Digests []string
	// UploadJournal is the file where the Service records the multipart
	// uploads it starts, so that after a crash or restart Sweep can abort
	// those left behind (see Sweep). "" keeps the record in memory only:
	// failed aborts are still retried, but a killed process's uploads are
	// left to the bucket's lifecycle rule.
	UploadJournal string
	// SweepInterval is how often RunSweeper aborts the multipart uploads
	// left over (those whose abort failed). Default 1 min, at least 1 s.
	SweepInterval time.Duration
	// Logger receives the Service's own errors (journal writes, uploads
	// given up). Default: discard.
	Logger *slog.Logger
}

// SettingError is a settings field out of range, as NewService and
// Settings.Validate report it (gateway.Settings too): Field names the field
// ("PartSize"), so a caller can name its own configuration key for it.
type SettingError struct {
	Field string
	Err   error
}

func (e *SettingError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *SettingError) Unwrap() error { return e.Err }

// Validate reports what NewService would refuse in s, as a *SettingError.
func (s Settings) Validate() error {
	_, err := s.withDefaults()
	return err
}

// withDefaults returns s with zero fields set to their defaults, or a
// *SettingError naming a field that is out of range.
func (s Settings) withDefaults() (Settings, error) {
	bad := func(field, format string, args ...any) (Settings, error) {
		return s, &SettingError{Field: field, Err: fmt.Errorf(format, args...)}
	}
	if s.PartSize == 0 {
		s.PartSize = 8 << 20
	}
	if s.PartSize < minPartSize || s.PartSize > maxCopySize {
		return bad("PartSize", "%d: must be between 5MiB and 5GiB", s.PartSize)
	}
	if s.Concurrency == 0 {
		s.Concurrency = 3
	}
	if s.Concurrency < 1 || s.Concurrency > 64 {
		return bad("Concurrency", "%d: must be between 1 and 64", s.Concurrency)
	}
	switch s.Checksums {
	case "":
		s.Checksums = ChecksumsRequired
	case ChecksumsSupported, ChecksumsRequired:
	default:
		return bad("Checksums", "%q: must be resolved to when_supported or when_required", s.Checksums)
	}
	if s.RequestTimeout == 0 {
		s.RequestTimeout = 30 * time.Second
	}
	if s.PartTimeout == 0 {
		s.PartTimeout = 5 * time.Minute
	}
	if s.RenameLimit == 0 {
		s.RenameLimit = 1000
	}
	if s.SweepInterval == 0 {
		s.SweepInterval = time.Minute
	}
	if s.SweepInterval < time.Second {
		return bad("SweepInterval", "%v: must be at least 1s", s.SweepInterval)
	}
	if s.RenameLimit < 0 {
		return bad("RenameLimit", "must not be negative")
	}
	if s.ListPageSize == 0 {
		s.ListPageSize = 1000
	}
	if s.ListPageSize < 1 || s.ListPageSize > 1000 {
		return bad("ListPageSize", "%d: must be between 1 and 1000", s.ListPageSize)
	}
	if s.DownloadConcurrency == 0 {
		s.DownloadConcurrency = 4
	}
	if s.DownloadConcurrency < 1 || s.DownloadConcurrency > 64 {
		return bad("DownloadConcurrency", "%d: must be between 1 and 64", s.DownloadConcurrency)
	}
	if s.DownloadChunkSize == 0 {
		s.DownloadChunkSize = s.PartSize
	}
	if s.DownloadChunkSize < minChunkSize || s.DownloadChunkSize > maxChunkSize {
		return bad("DownloadChunkSize", "%d: must be between 256KiB and 512MiB", s.DownloadChunkSize)
	}
	if s.UploadMemory == 0 {
		s.UploadMemory = max(256<<20, int64(s.Concurrency+1)*s.PartSize+maxGrownBufSize)
	}
	if need := int64(s.Concurrency+1)*s.PartSize + maxGrownBufSize; s.UploadMemory < need {
		return bad("UploadMemory", "%d: must be at least %d bytes, (Concurrency+1) × PartSize + 1MiB", s.UploadMemory, need)
	}
	if s.MultipartHashes == "" {
		s.MultipartHashes = MultipartHashesNone
	}
	if _, err := ParseMultipartHashes(string(s.MultipartHashes)); err != nil {
		return s, &SettingError{Field: "MultipartHashes", Err: err}
	}
	if len(s.Digests) == 0 {
		s.Digests = defaultDigests
	}
	if _, err := parseDigests(s.Digests); err != nil {
		return s, &SettingError{Field: "Digests", Err: err}
	}
	return s, nil
}

// Service is shared by every session: the S3 client and the settings. It is
// safe for concurrent use.
type Service struct {
	api API
	set Settings

	// copyLimit is the largest object copied with one CopyObject, and
	// copyPartSize the part size of bigger copies (fields so tests can
	// exercise multipart copies without 5 GiB objects).
	copyLimit    int64
	copyPartSize int64

	uploads *ledger       // this instance's multipart uploads
	digests []crypto.Hash // Settings.Digests
	buffers *bufferPool   // the uploads' buffers, within Settings.UploadMemory
}

// NewService returns a Service that talks to S3 through api.
func NewService(api API, s Settings) (*Service, error) {
	if api == nil {
		return nil, errors.New("storage: nil S3 API")
	}
	s, err := s.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("storage settings: %w", err)
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	uploads, err := openLedger(s.UploadJournal, log)
	if err != nil {
		return nil, err
	}
	digests, _ := parseDigests(s.Digests) // checked by withDefaults
	svc := &Service{api: api, set: s, copyLimit: maxCopySize, copyPartSize: copyPartSize, uploads: uploads, digests: digests,
		buffers: newBufferPool(s.UploadMemory, s.PartSize, s.PartTimeout),
	}
	return svc, nil
}

// Settings returns the settings in effect, defaults filled in.
func (s *Service) Settings() Settings { return s.set }

// NewFs returns the file system of one session: the objects of bucket under
// prefix. ctx is the session's context: cancelling it cancels every S3
// request the Fs makes (uploads in flight are then aborted). log receives
// debug lines about S3 activity; nil discards them.
func (s *Service) NewFs(ctx context.Context, bucket, prefix string, log *slog.Logger) *Fs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fs{svc: s, ctx: ctx, bucket: bucket, jail: newJail(prefix), log: log}
}

// Ping checks that S3 answers with these credentials, for readiness probes:
// HeadBucket of bucket when one is given (a missing bucket is an error), else
// ListBuckets. An answer refused with AccessDenied still proves S3 is
// reachable and the credentials valid (a policy may allow only object
// operations); any other failure (network, invalid credentials, no such
// bucket) is returned wrapping ErrBackend.
func (s *Service) Ping(ctx context.Context, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, s.set.RequestTimeout)
	defer cancel()
	var err error
	if bucket != "" {
		_, err = s.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
	} else {
		_, err = s.api.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
	}
	var apiErr smithy.APIError
	if err == nil || (errors.As(err, &apiErr) && (apiErr.ErrorCode() == "AccessDenied" || apiErr.ErrorCode() == "Forbidden")) {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrBackend, err)
}
