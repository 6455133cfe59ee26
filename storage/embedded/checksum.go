package embedded

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"

	"github.com/rclone/gofakes3"
)

// crc64NVME is the polynomial of S3's CRC-64/NVME checksum.
const crc64NVME = 0x9a6c9329ac4bc9b5

// partChecksum is the checksum an UploadPart request declares for its body
// in an x-amz-checksum-<algorithm> header (aws-sdk-go-v2 sends CRC32 by
// default). gofakes3 checks the checksum of a PutObject body but neither
// checks this one nor passes it to a MultipartBackend, so withPartChecksums
// carries it to UploadPart in the request's context, and echoes it in the
// response, as S3 does, once UploadPart has checked it.
type partChecksum struct {
	header  string // canonical header name
	value   string // base64, as sent
	want    []byte
	newHash func() hash.Hash
	err     error // the header is malformed: UploadPart fails with this
}

// partChecksumKey is the context key of a *partChecksum.
type partChecksumKey struct{}

// partChecksumFrom returns the checksum withPartChecksums found for the
// request of ctx, or nil.
func partChecksumFrom(ctx context.Context) *partChecksum {
	pc, _ := ctx.Value(partChecksumKey{}).(*partChecksum)
	return pc
}

// withPartChecksums passes the checksum header of UploadPart requests to
// Backend.UploadPart, and echoes it in successful responses.
func withPartChecksums(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodPut || q.Get("uploadId") == "" || q.Get("partNumber") == "" || r.Header.Get("X-Amz-Copy-Source") != "" {
			next.ServeHTTP(w, r)
			return
		}
		pc := parsePartChecksum(r.Header)
		if pc == nil {
			next.ServeHTTP(w, r)
			return
		}
		ew := &echoWriter{ResponseWriter: w, name: pc.header, value: pc.value}
		next.ServeHTTP(ew, r.WithContext(context.WithValue(r.Context(), partChecksumKey{}, pc)))
		if !ew.wrote {
			ew.WriteHeader(http.StatusOK)
		}
	})
}

// parsePartChecksum returns the checksum declared in h, or nil if none is.
func parsePartChecksum(h http.Header) *partChecksum {
	var pc *partChecksum
	for name, values := range h {
		algorithm, ok := strings.CutPrefix(name, "X-Amz-Checksum-")
		if !ok || len(values) == 0 {
			continue
		}
		algorithm = strings.ToLower(algorithm)
		if algorithm == "type" || algorithm == "mode" {
			continue
		}
		if pc != nil {
			return &partChecksum{err: gofakes3.ErrorMessage(gofakes3.ErrInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")}
		}
		pc = &partChecksum{header: name, value: values[0], newHash: checksumHash(algorithm)}
		if pc.newHash == nil {
			pc.err = gofakes3.ErrorMessagef(gofakes3.ErrInvalidRequest, "The x-amz-checksum-%s header is not supported.", algorithm)
			continue
		}
		want, err := base64.StdEncoding.DecodeString(values[0])
		if err != nil || len(want) != pc.newHash().Size() {
			pc.err = gofakes3.ErrorMessagef(gofakes3.ErrInvalidRequest, "Value for x-amz-checksum-%s header is invalid.", algorithm)
			continue
		}
		pc.want = want
	}
	return pc
}

// checksumHash returns the constructor of the hash of an S3 checksum
// algorithm, or nil if it is not one.
func checksumHash(algorithm string) func() hash.Hash {
	switch algorithm {
	case "crc32":
		return func() hash.Hash { return crc32.NewIEEE() }
	case "crc32c":
		return func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }
	case "crc64nvme":
		return func() hash.Hash { return crc64.New(crc64.MakeTable(crc64NVME)) }
	case "sha1":
		return sha1.New
	case "sha256":
		return sha256.New
	}
	return nil
}

// echoWriter adds the header name: value to a successful response.
type echoWriter struct {
	http.ResponseWriter
	name, value string
	wrote       bool
}

// WriteHeader implements http.ResponseWriter.
func (w *echoWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code == http.StatusOK {
			w.Header().Set(w.name, w.value)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *echoWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}
