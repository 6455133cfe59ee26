package embedded

import (
	"bytes"
	"encoding/base64"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rclone/gofakes3"
)

func TestParsePartChecksum(t *testing.T) {
	t.Parallel()
	crc := base64.StdEncoding.EncodeToString(crc32.NewIEEE().Sum(nil))
	tests := []struct {
		name    string
		headers map[string]string
		none    bool
		errCode gofakes3.ErrorCode
	}{
		{"none", map[string]string{"Content-Type": "x"}, true, ""},
		{"type and mode only", map[string]string{"X-Amz-Checksum-Type": "FULL_OBJECT", "X-Amz-Checksum-Mode": "ENABLED"}, true, ""},
		{"crc32", map[string]string{"X-Amz-Checksum-Crc32": crc}, false, ""},
		{"bad base64", map[string]string{"X-Amz-Checksum-Crc32": "%%%"}, false, gofakes3.ErrInvalidRequest},
		{"wrong length", map[string]string{"X-Amz-Checksum-Sha256": crc}, false, gofakes3.ErrInvalidRequest},
		{"unknown", map[string]string{"X-Amz-Checksum-Md4": crc}, false, gofakes3.ErrInvalidRequest},
		{"two", map[string]string{"X-Amz-Checksum-Crc32": crc, "X-Amz-Checksum-Crc32c": crc}, false, gofakes3.ErrInvalidRequest},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		pc := parsePartChecksum(h)
		if (pc == nil) != tc.none {
			t.Errorf("%s: checksum %+v", tc.name, pc)
			continue
		}
		if pc != nil && errCode(pc.err) != tc.errCode {
			t.Errorf("%s: error %v, want %s", tc.name, pc.err, tc.errCode)
		}
	}
}

func TestPartChecksumAlgorithms(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	c := client(s, whenSupported)
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			bucket, key := "algorithms", "k-"+strings.ToLower(string(alg))
			up, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key, ChecksumAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("data"), ChecksumAlgorithm: alg})
			if err != nil {
				t.Fatalf("UploadPart: %v", err)
			}
			echoed := []*string{out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256}
			n := 0
			for _, e := range echoed {
				if e != nil {
					n++
				}
			}
			if n != 1 {
				t.Errorf("UploadPart echoed %d checksums", n)
			}
		})
	}
}

func TestPutObjectChecksums(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	for _, mode := range []checksums{whenSupported, whenRequired} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			c := client(s, mode)
			bucket, key := "sums", "k-"+mode.String()
			out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(strings.ToLower(key)), Body: bytes.NewReader([]byte("checked"))})
			if err != nil {
				t.Fatal(err)
			}
			if (out.ChecksumCRC32 != nil) != (mode == whenSupported) {
				t.Errorf("PutObject checksum %q in mode %s", aws.ToString(out.ChecksumCRC32), mode)
			}
			// Checked by the SDK in WhenSupported mode.
			got, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(strings.ToLower(key)), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			got.Body.Close()
			if (got.ChecksumCRC32 != nil) != (mode == whenSupported) {
				t.Errorf("GetObject checksum %q in mode %s", aws.ToString(got.ChecksumCRC32), mode)
			}
			_, err = c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("bad"), Body: bytes.NewReader([]byte("checked")), ChecksumCRC32: aws.String("AAAAAA==")})
			if errorCode(err) != "BadDigest" {
				t.Errorf("PutObject with a wrong checksum: %v", err)
			}
		})
	}
}

func TestWithPartChecksums(t *testing.T) {
	t.Parallel()
	crc := base64.StdEncoding.EncodeToString(crc32.NewIEEE().Sum(nil))
	tests := []struct {
		name, target string
		status       int // 0: the handler writes nothing
		seen, echo   bool
	}{
		{"part, no write", "/b/k?uploadId=u&partNumber=1", 0, true, true},
		{"part, body", "/b/k?uploadId=u&partNumber=1", http.StatusOK, true, true},
		{"part, refused", "/b/k?uploadId=u&partNumber=1", http.StatusBadRequest, true, false},
		{"not a part", "/b/k", 0, false, false},
	}
	for _, tc := range tests {
		var seen bool
		h := withPartChecksums(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = partChecksumFrom(r.Context()) != nil
			if tc.status != 0 {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte("body"))
			}
		}))
		req := httptest.NewRequest(http.MethodPut, tc.target, strings.NewReader(""))
		req.Header.Set("X-Amz-Checksum-Crc32", crc)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if echoed := rec.Header().Get("X-Amz-Checksum-Crc32") == crc; seen != tc.seen || echoed != tc.echo {
			t.Errorf("%s: passed on %v, echoed %v; want %v, %v", tc.name, seen, echoed, tc.seen, tc.echo)
		}
	}
}
