package embedded

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rclone/gofakes3"
)

// partSizes are the sizes of the parts of the multipart tests: S3's
// minimum of 5 MiB but for the last.
var partSizes = []int64{5 << 20, 5<<20 + 1, 1<<20 + 3}

func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	for i, mode := range []checksums{whenSupported, whenRequired} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			c := client(s, mode)
			bucket, key := "multipart-"+strings.ToLower(mode.String()), "big/object.bin"
			create := &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key, ContentType: aws.String("application/x-test")}
			if mode == whenSupported {
				create.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
			}
			up, err := c.CreateMultipartUpload(ctx(t), create)
			if err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}

			data := newPattern(byte(i))
			var off int64
			var parts []types.CompletedPart
			var sums []byte
			for n, size := range partSizes {
				out, err := c.UploadPart(ctx(t), &s3.UploadPartInput{
					Bucket: &bucket, Key: &key, UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(n + 1)), Body: data.section(off, size),
				})
				if err != nil {
					t.Fatalf("UploadPart %d: %v", n+1, err)
				}
				h := md5.New()
				_, _ = io.Copy(h, data.section(off, size))
				if got, want := aws.ToString(out.ETag), `"`+hex.EncodeToString(h.Sum(nil))+`"`; got != want {
					t.Errorf("part %d ETag %s, want %s", n+1, got, want)
				}
				sums = h.Sum(sums)
				if (out.ChecksumCRC32 != nil) != (mode == whenSupported) {
					t.Errorf("part %d: checksum echoed %q in mode %s", n+1, aws.ToString(out.ChecksumCRC32), mode)
				}
				parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(n + 1)), ChecksumCRC32: out.ChecksumCRC32})
				off += size
			}

			listed, err := c.ListMultipartUploads(ctx(t), &s3.ListMultipartUploadsInput{Bucket: &bucket})
			if err != nil || len(listed.Uploads) != 1 || aws.ToString(listed.Uploads[0].UploadId) != aws.ToString(up.UploadId) {
				t.Fatalf("ListMultipartUploads = %+v, %v; want the upload", listed, err)
			}
			lp, err := c.ListParts(ctx(t), &s3.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId})
			if err != nil || len(lp.Parts) != len(partSizes) {
				t.Fatalf("ListParts = %+v, %v", lp, err)
			}

			done, err := c.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{
				Bucket: &bucket, Key: &key, UploadId: up.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			})
			if err != nil {
				t.Fatalf("CompleteMultipartUpload: %v", err)
			}
			sum := md5.Sum(sums)
			wantETag := `"` + hex.EncodeToString(sum[:]) + `"`
			if aws.ToString(done.ETag) != wantETag {
				t.Errorf("ETag %s, want %s", aws.ToString(done.ETag), wantETag)
			}

			head, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
			if err != nil || aws.ToInt64(head.ContentLength) != off || aws.ToString(head.ETag) != wantETag || aws.ToString(head.ContentType) != "application/x-test" {
				t.Fatalf("HeadObject = %+v, %v", head, err)
			}
			second, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: &key, PartNumber: aws.Int32(2)})
			if err != nil || aws.ToInt64(second.ContentLength) != partSizes[1] || aws.ToInt32(second.PartsCount) != int32(len(partSizes)) {
				t.Errorf("HeadObject part 2 = length %d, parts %d, %v", aws.ToInt64(second.ContentLength), aws.ToInt32(second.PartsCount), err)
			}

			out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			defer out.Body.Close()
			if !sameReader(t, out.Body, data.section(0, off)) {
				t.Errorf("GetObject returned other contents")
			}

			listed, err = c.ListMultipartUploads(ctx(t), &s3.ListMultipartUploadsInput{Bucket: &bucket})
			if err != nil || len(listed.Uploads) != 0 {
				t.Errorf("ListMultipartUploads after completion = %+v, %v", listed.Uploads, err)
			}
			if _, err := os.Stat(filepath.Join(dir, uploadsDir, aws.ToString(up.UploadId))); !os.IsNotExist(err) {
				t.Errorf("the upload's directory is left: %v", err)
			}
		})
	}
}

func TestMultipartAbortLeavesNothing(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	c := client(s, whenSupported)
	bucket, key := "aborts", "gone.bin"
	// No upload yet: an empty list, not an error.
	if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	listed, err := c.ListMultipartUploads(ctx(t), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil || len(listed.Uploads) != 0 {
		t.Fatalf("ListMultipartUploads of a new bucket = %+v, %v", listed, err)
	}

	up, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	data := newPattern(7)
	for n := range 2 {
		if _, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(int32(n + 1)), Body: data.section(0, 1<<20)}); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, uploadsDir, aws.ToString(up.UploadId))); len(entries) != 3 {
		t.Errorf("upload directory holds %d entries, want the record and 2 parts", len(entries))
	}
	if _, err := c.AbortMultipartUpload(ctx(t), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	listed, err = c.ListMultipartUploads(ctx(t), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil || len(listed.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after abort = %+v, %v", listed, err)
	}
	for _, d := range []string{uploadsDir, tmpDir, bucket} {
		if entries, err := os.ReadDir(filepath.Join(dir, d)); err != nil || len(entries) != 0 {
			t.Errorf("%s after abort holds %v (%v)", d, entries, err)
		}
	}
	if _, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(3), Body: strings.NewReader("late")}); errorCode(err) != "NoSuchUpload" {
		t.Errorf("UploadPart after abort: %v, want NoSuchUpload", err)
	}
}

func TestMultipartRefusals(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	c := client(s, whenSupported)
	bucket, key := "refusals", "obj"
	up, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("part one")
	p1, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.UploadPart(ctx(t), &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("two")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx(t), &s3.UploadPartInput{
		Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(3),
		Body: strings.NewReader("three"), ChecksumCRC32: aws.String("AAAAAA=="),
	})
	if errorCode(err) != "BadDigest" {
		t.Errorf("UploadPart with a wrong checksum: %v, want BadDigest", err)
	}

	tests := []struct {
		name  string
		parts []types.CompletedPart
		code  string
	}{
		{"wrong etag", []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"` + md5Hex([]byte("other")) + `"`)}}, "InvalidPart"},
		{"not an etag", []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"../../x"`)}}, "InvalidPart"},
		{"missing part", []types.CompletedPart{p(1, p1), {PartNumber: aws.Int32(3), ETag: p2.ETag}}, "InvalidPart"},
		{"order", []types.CompletedPart{p(2, p2), p(1, p1)}, "InvalidPartOrder"},
	}
	for _, tc := range tests {
		_, err := c.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: tc.parts}})
		if errorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// The failures left the upload as it was.
	if _, err := c.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{p(1, p1), p(2, p2)}}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if got := get(t, c, bucket, key); string(got) != "part onetwo" {
		t.Errorf("object = %q", got)
	}
}

// p returns the CompletedPart n uploaded with out.
func p(n int32, out *s3.UploadPartOutput) types.CompletedPart {
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
}

func TestUploadPartShortBody(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	id, err := b.CreateMultipartUpload(ctx(t), "bkt", "k", map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		length int64
		body   io.Reader
		code   gofakes3.ErrorCode
	}{
		{"short", 100, strings.NewReader(strings.Repeat("x", 50)), gofakes3.ErrIncompleteBody},
		{"empty", 10, strings.NewReader(""), gofakes3.ErrIncompleteBody},
		{"broken", 10, io.MultiReader(strings.NewReader("abc"), iotestErrReader{}), gofakes3.ErrInternal},
		{"part 0", 0, strings.NewReader(""), gofakes3.ErrInvalidPart},
	}
	for i, tc := range tests {
		n := i + 1
		if tc.name == "part 0" {
			n = 0
		}
		_, err := b.UploadPart(ctx(t), "bkt", "k", id, n, tc.length, tc.body)
		if code := errCode(err); code != tc.code {
			t.Errorf("%s: %v (%s), want %s", tc.name, err, code, tc.code)
		}
	}
	entries, _ := b.root.Open(uploadsDir + "/" + string(id))
	names, _ := entries.Readdirnames(-1)
	entries.Close()
	if len(names) != 1 {
		t.Errorf("upload directory holds %v, want only the record", names)
	}
	tmp, _ := b.root.Open(tmpDir)
	names, _ = tmp.Readdirnames(-1)
	tmp.Close()
	if len(names) != 0 {
		t.Errorf("temporary files left: %v", names)
	}
	if _, err := b.UploadPart(ctx(t), "bkt", "k", "not-an-upload", 1, 0, strings.NewReader("")); errCode(err) != gofakes3.ErrNoSuchUpload {
		t.Errorf("UploadPart to a bad upload ID: %v", err)
	}
}

// iotestErrReader fails every read.
type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

// errCode returns the S3 error code gofakes3 would answer err with.
func errCode(err error) gofakes3.ErrorCode {
	if err == nil {
		return ""
	}
	if e, ok := err.(gofakes3.Error); ok {
		return e.ErrorCode()
	}
	return gofakes3.ErrInternal
}

// sameReader reports whether a and b yield the same bytes.
func sameReader(t testing.TB, a, b io.Reader) bool {
	t.Helper()
	bufA, bufB := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, errA := io.ReadFull(a, bufA)
		nb, errB := io.ReadFull(b, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false
		}
		if errA != nil || errB != nil {
			return (errA == io.EOF || errA == io.ErrUnexpectedEOF) && (errB == io.EOF || errB == io.ErrUnexpectedEOF)
		}
	}
}
