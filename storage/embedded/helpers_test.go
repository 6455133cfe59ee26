package embedded

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// testKeys are the credentials of the test servers.
const (
	testAccessKey = "test-access"
	testSecretKey = "test-secret-0123456789"
)

// startServer starts a store on a new directory, closed when the test ends.
func startServer(t testing.TB) (*Server, string) {
	t.Helper()
	return startServerWith(t, Config{})
}

// startServerWith is startServer with the settings of cfg other than the
// directory and the keys.
func startServerWith(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	cfg.Dir, cfg.AccessKey, cfg.SecretKey = dir, testAccessKey, testSecretKey
	s, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dir
}

// checksums says what the client does with checksums: the SDK default
// (CRC32 on uploads, checked on downloads) or only when required.
type checksums bool

const (
	whenSupported checksums = true
	whenRequired  checksums = false
)

// String names the mode in test names.
func (c checksums) String() string {
	if c {
		return "WhenSupported"
	}
	return "WhenRequired"
}

// newClient returns an S3 client for endpoint, built as the gateway builds
// its own. The HTTP client is given through s3.Options: AWS_CA_BUNDLE may
// be set here, which config.WithHTTPClient does not allow.
func newClient(endpoint, accessKey, secretKey string, mode checksums) *s3.Client {
	o := s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:   &http.Client{Timeout: 2 * time.Minute},
		// Multipart objects have no whole-object checksum to check
		DisableLogOutputChecksumValidationSkipped: true,
	}
	if mode {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
	} else {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	return s3.New(o)
}

// client returns a client of s with the test credentials.
func client(s *Server, mode checksums) *s3.Client {
	return newClient(s.Endpoint(), testAccessKey, testSecretKey, mode)
}

// unsignedPayload makes a client send UNSIGNED-PAYLOAD rather than hash
// each body, so that benchmarks measure the server more than the client.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// ctx returns a context for one test step.
func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// errorCode returns the S3 error code of err, or "" if it has none.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// put stores data as key with a client call, failing the test if it fails.
func put(t testing.TB, c *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	if _, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
}

// get returns the contents of key, failing the test if it cannot.
func get(t testing.TB, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %q: read: %v", key, err)
	}
	return data
}

// md5Hex returns the hex MD5 of data.
func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// patternPeriod is the length after which pattern repeats: a prime, so
// that parts of a power of two length all differ.
const patternPeriod = 1<<20 + 7

// pattern is deterministic test data of any length, generated as it is
// read, so that big uploads need no big buffers.
type pattern struct {
	table []byte
}

// newPattern returns the pattern of seed.
func newPattern(seed byte) pattern {
	t := make([]byte, patternPeriod)
	x := uint32(seed)*2654435761 + 1
	for i := range t {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		t[i] = byte(x)
	}
	return pattern{table: t}
}

// ReadAt implements io.ReaderAt over an endless stream.
func (p pattern) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		i := int((off + int64(n)) % patternPeriod)
		n += copy(b[n:], p.table[i:])
	}
	return n, nil
}

// section returns size bytes of p from off, as a seekable body.
func (p pattern) section(off, size int64) *io.SectionReader {
	return io.NewSectionReader(p, off, size)
}

// discardLogger returns a logger that drops everything.
func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}
