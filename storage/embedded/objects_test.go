package embedded

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rclone/gofakes3"
)

func TestObjectRoundTrip(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	for _, mode := range []checksums{whenSupported, whenRequired} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			c := client(s, mode)
			bucket := "round-" + strings.ToLower(mode.String())
			data := []byte("hello, embedded store\n")
			key := "dir/sub/hello.txt"
			if _, err := c.PutObject(ctx(t), &s3.PutObjectInput{
				Bucket: &bucket, Key: &key, Body: bytes.NewReader(data),
				ContentType: aws.String("text/plain"),
				Metadata:    map[string]string{"owner": "alice"},
			}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}

			onDisk, err := os.ReadFile(filepath.Join(dir, bucket, "dir", "sub", "hello.txt"))
			if err != nil || !bytes.Equal(onDisk, data) {
				t.Fatalf("object file = %q, %v; want %q", onDisk, err, data)
			}

			head, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if got, want := aws.ToString(head.ETag), `"`+md5Hex(data)+`"`; got != want {
				t.Errorf("ETag = %s, want %s", got, want)
			}
			if aws.ToInt64(head.ContentLength) != int64(len(data)) || aws.ToString(head.ContentType) != "text/plain" || head.Metadata["owner"] != "alice" {
				t.Errorf("HeadObject = length %d, type %q, metadata %v", aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType), head.Metadata)
			}

			if got := get(t, c, bucket, key); !bytes.Equal(got, data) {
				t.Errorf("GetObject = %q, want %q", got, data)
			}

			for _, tc := range []struct{ rng, want string }{
				{"bytes=0-4", "hello"},
				{"bytes=7-", "embedded store\n"},
				{"bytes=-6", "store\n"},
			} {
				out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: &bucket, Key: &key, Range: &tc.rng})
				if err != nil {
					t.Fatalf("GetObject %s: %v", tc.rng, err)
				}
				got, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if string(got) != tc.want {
					t.Errorf("GetObject %s = %q, want %q", tc.rng, got, tc.want)
				}
			}

			dst := "copies/hello.txt"
			if _, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: &bucket, Key: &dst, CopySource: aws.String(bucket + "/" + url.PathEscape(key))}); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			if got := get(t, c, bucket, dst); !bytes.Equal(got, data) {
				t.Errorf("copy = %q, want %q", got, data)
			}
			copied, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: &dst})
			if err != nil || copied.Metadata["owner"] != "alice" || aws.ToString(copied.ETag) != aws.ToString(head.ETag) {
				t.Errorf("copy HeadObject = %+v, %v; want the source's metadata and ETag", copied, err)
			}

			for _, k := range []string{key, dst} {
				if _, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: &bucket, Key: &k}); err != nil {
					t.Fatalf("DeleteObject %q: %v", k, err)
				}
				if _, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: &k}); err == nil {
					t.Errorf("HeadObject %q after delete succeeded", k)
				}
			}
			// Directories left empty go with their last key.
			if entries, err := os.ReadDir(filepath.Join(dir, bucket)); err != nil || len(entries) != 0 {
				t.Errorf("bucket directory after deletes = %v, %v; want empty", entries, err)
			}
			if _, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("never/was")}); err != nil {
				t.Errorf("DeleteObject of a missing key: %v", err)
			}
		})
	}
}

func TestCopyIsHardLinkAndSurvivesOverwrite(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	c := client(s, whenSupported)
	bucket := "links"
	put(t, c, bucket, "src", []byte("version 1"))
	if _, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("dst"), CopySource: aws.String(bucket + "/src")}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	src, _ := os.Stat(filepath.Join(dir, bucket, "src"))
	dst, _ := os.Stat(filepath.Join(dir, bucket, "dst"))
	if !os.SameFile(src, dst) {
		t.Errorf("the copy is not a hard link of the source")
	}
	put(t, c, bucket, "src", []byte("version 2"))
	if got := get(t, c, bucket, "dst"); string(got) != "version 1" {
		t.Errorf("copy after overwriting the source = %q, want %q", got, "version 1")
	}

	// A copy onto itself replaces the metadata and leaves no link behind.
	if _, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{
		Bucket: &bucket, Key: aws.String("src"), CopySource: aws.String(bucket + "/src"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"k": "v"},
	}); err != nil {
		t.Fatalf("CopyObject onto itself: %v", err)
	}
	head, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("src")})
	if err != nil || head.Metadata["k"] != "v" {
		t.Errorf("metadata after copy onto itself = %v, %v", head, err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, tmpDir)); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestCopyStreamsWithoutHardLink(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	mustPut(t, b, "bkt", "src", data)
	src, err := b.root.Open("bkt/src")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tmp, err := b.copyToTemp("bkt/no-such-file", src) // the link fails
	if err != nil {
		t.Fatalf("copyToTemp: %v", err)
	}
	got, err := b.root.ReadFile(tmp)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy = %d bytes, %v; want %d", len(got), err, len(data))
	}
	a, _ := b.root.Stat(tmp)
	c, _ := src.Stat()
	if os.SameFile(a, c) {
		t.Errorf("the copy is a link")
	}
}

func TestOverwriteIsAtomic(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	oldData := bytes.Repeat([]byte("old "), 4096)
	mustPut(t, b, "bkt", "k", oldData)

	// A reader that opened the old object keeps reading it all.
	obj, err := b.GetObject(ctx(t), "bkt", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Contents.Close()

	// While the new object streams in, the old one is what is read.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	newData := bytes.Repeat([]byte("new!"), 8192)
	go func() {
		_, err := b.PutObject(ctx(t), "bkt", "k", map[string]string{}, pr, int64(len(newData)))
		done <- err
	}()
	if _, err := pw.Write(newData[:len(newData)/2]); err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, b, "bkt", "k"); !bytes.Equal(got, oldData) {
		t.Fatalf("during the overwrite got %d bytes %q..., want the old object", len(got), got[:8])
	}
	if _, err := pw.Write(newData[len(newData)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if got := readObject(t, b, "bkt", "k"); !bytes.Equal(got, newData) {
		t.Fatalf("after the overwrite got %d bytes, want the new object", len(got))
	}
	if got, _ := io.ReadAll(obj.Contents); !bytes.Equal(got, oldData) {
		t.Fatalf("the reader opened before the overwrite got %d bytes, want the old object", len(got))
	}

	// An upload that fails leaves the object as it was.
	pr, pw = io.Pipe()
	go func() {
		_, err := b.PutObject(ctx(t), "bkt", "k", map[string]string{}, pr, 1<<20)
		done <- err
	}()
	_, _ = pw.Write([]byte("partial"))
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-done; err == nil {
		t.Fatal("PutObject of a broken stream succeeded")
	}
	if got := readObject(t, b, "bkt", "k"); !bytes.Equal(got, newData) {
		t.Fatalf("after a failed overwrite got %d bytes, want the previous object", len(got))
	}
	_, err = b.PutObject(ctx(t), "bkt", "k", nil, strings.NewReader("short"), 10)
	if !gofakes3.HasErrorCode(err, gofakes3.ErrIncompleteBody) {
		t.Errorf("PutObject of 5 of 10 bytes: %v, want IncompleteBody", err)
	}
}

func TestDirectoryMarkers(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	c := client(s, whenSupported)
	bucket := "markers"
	list := func() []string {
		out, err := c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: &bucket})
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys
	}
	steps := []struct {
		name    string
		do      func()
		want    []string
		wantDir []string // directories that must exist
		gone    []string // paths that must not
	}{
		{"make marker", func() { put(t, c, bucket, "a/", nil) }, []string{"a/"}, []string{"a"}, nil},
		{"key under marker", func() { put(t, c, bucket, "a/x", []byte("x")) }, []string{"a/", "a/x"}, []string{"a"}, nil},
		{"delete key keeps marker", func() { del(t, c, bucket, "a/x") }, []string{"a/"}, []string{"a"}, nil},
		{"key again", func() { put(t, c, bucket, "a/x", []byte("x")) }, []string{"a/", "a/x"}, nil, nil},
		{"delete marker keeps key", func() { del(t, c, bucket, "a/") }, []string{"a/x"}, []string{"a"}, nil},
		{"delete last key removes directory", func() { del(t, c, bucket, "a/x") }, nil, nil, []string{"a"}},
		{"nested key, no markers invented", func() { put(t, c, bucket, "p/q/r", []byte("r")) }, []string{"p/q/r"}, []string{"p/q"}, nil},
		{"marker in the middle", func() { put(t, c, bucket, "p/", nil) }, []string{"p/", "p/q/r"}, nil, nil},
		{"delete nested key stops at marker", func() { del(t, c, bucket, "p/q/r") }, []string{"p/"}, []string{"p"}, []string{"p/q"}},
		{"delete marker", func() { del(t, c, bucket, "p/") }, nil, nil, []string{"p"}},
	}
	for _, st := range steps {
		st.do()
		if got := list(); !slices.Equal(got, st.want) {
			t.Fatalf("%s: keys = %q, want %q", st.name, got, st.want)
		}
		for _, d := range st.wantDir {
			if info, err := os.Stat(filepath.Join(dir, bucket, d)); err != nil || !info.IsDir() {
				t.Errorf("%s: directory %s: %v", st.name, d, err)
			}
		}
		for _, g := range st.gone {
			if _, err := os.Stat(filepath.Join(dir, bucket, g)); !os.IsNotExist(err) {
				t.Errorf("%s: %s still exists (%v)", st.name, g, err)
			}
		}
	}

	put(t, c, bucket, "m/", nil)
	head, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("m/")})
	if err != nil || aws.ToInt64(head.ContentLength) != 0 || aws.ToString(head.ETag) != `"`+emptyMD5+`"` {
		t.Errorf("HeadObject of a marker = %+v, %v", head, err)
	}
	if got := get(t, c, bucket, "m/"); len(got) != 0 {
		t.Errorf("GetObject of a marker = %q", got)
	}
	// A marker cannot hold data; "m" is not an object.
	_, err = c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("n/"), Body: strings.NewReader("data")})
	if errorCode(err) != "InvalidArgument" {
		t.Errorf("PutObject of a marker with data: %v, want InvalidArgument", err)
	}
	if _, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("m")}); err == nil {
		t.Errorf("HeadObject of a marker's name without \"/\" succeeded")
	}
	if _, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("m")}); err != nil {
		t.Errorf("DeleteObject of a marker's name without \"/\": %v", err)
	}
	if _, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("m/")}); err != nil {
		t.Errorf("deleting %q deleted the marker %q: %v", "m", "m/", err)
	}
}

func TestBadKeys(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	c := client(s, whenRequired)
	bucket := "bad-keys"
	put(t, c, bucket, "file", []byte("f"))
	put(t, c, bucket, "dir/inner", []byte("i"))
	tests := []struct {
		key  string
		code string
	}{
		{"a/../../escape", "InvalidArgument"},
		{"../escape", "InvalidArgument"},
		{"./x", "InvalidArgument"},
		{"a/./x", "InvalidArgument"},
		{"a/..", "InvalidArgument"},
		{"a//b", "InvalidArgument"},
		{"/lead", "InvalidArgument"},
		{"nul\x00byte", "InvalidArgument"},
		{strings.Repeat("s", 256), "InvalidArgument"},
		{"x/" + strings.Repeat("s", 256) + "/y", "InvalidArgument"},
		{"dir", "InvalidBucketState"},        // a prefix of dir/inner
		{"dir/", "InvalidArgument"},          // a marker with data
		{"file/child", "InvalidBucketState"}, // under an object
		{"file/deeper/child", "InvalidBucketState"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%.20q", tc.key), func(t *testing.T) {
			t.Parallel()
			_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(tc.key), Body: strings.NewReader("payload")})
			if got := errorCode(err); got != tc.code {
				t.Errorf("PutObject: %v (code %q), want %s", err, got, tc.code)
			}
			_, err = c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(tc.key)})
			if err == nil {
				t.Errorf("CreateMultipartUpload succeeded")
			}
		})
	}
	t.Run("marker over object", func(t *testing.T) {
		t.Parallel()
		_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("file/"), Body: strings.NewReader("")})
		if got := errorCode(err); got != "InvalidBucketState" {
			t.Errorf("PutObject: %v, want InvalidBucketState", err)
		}
	})
	// Cleanups run after the parallel subtests.
	t.Cleanup(func() { assertOnlyUnder(t, dir, bucket, stateDir) })
}

// assertOnlyUnder fails the test if dir holds anything but the directories
// allowed, or if a file named "escape" is anywhere near.
func assertOnlyUnder(t *testing.T, dir string, allowed ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ok := false
		for _, a := range allowed {
			ok = ok || e.Name() == a
		}
		if !ok {
			t.Errorf("%s holds %q", dir, e.Name())
		}
	}
	_ = filepath.WalkDir(filepath.Dir(dir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "escape") {
			t.Errorf("found %s", p)
		}
		return nil
	})
}

func TestConcurrentUploads(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	c := client(s, whenSupported)
	bucket := "concurrent"
	const n = 8
	blobs := make([][]byte, n)
	for i := range blobs {
		blobs[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10+i)
	}

	t.Run("distinct keys", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { put(t, c, bucket, fmt.Sprintf("k%d", i), blobs[i]) })
		}
		wg.Wait()
		for i := range n {
			if got := get(t, c, bucket, fmt.Sprintf("k%d", i)); !bytes.Equal(got, blobs[i]) {
				t.Errorf("k%d: got %d bytes, want %d", i, len(got), len(blobs[i]))
			}
		}
	})

	t.Run("same key", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { put(t, c, bucket, "same", blobs[i]) })
		}
		wg.Wait()
		got := get(t, c, bucket, "same")
		head, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("same")})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, b := range blobs {
			found = found || bytes.Equal(got, b)
		}
		if !found {
			t.Errorf("the object is none of the uploads (%d bytes)", len(got))
		}
		if aws.ToString(head.ETag) != `"`+md5Hex(got)+`"` {
			t.Errorf("ETag %s is not the MD5 of the contents", aws.ToString(head.ETag))
		}
	})
}

func TestForeignFilesAreObjects(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t)
	c := client(s, whenSupported)
	bucket := "foreign"
	put(t, c, bucket, "ours", []byte("ours"))
	// An operator drops a file in, and another one replaces ours.
	if err := os.MkdirAll(filepath.Join(dir, bucket, "dropped"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bucket, "dropped", "in.txt"), []byte("by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bucket, "ours"), []byte("changed by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"dropped/in.txt": "by hand", "ours": "changed by hand"} {
		if got := get(t, c, bucket, key); string(got) != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
		head, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key)})
		if err != nil || aws.ToString(head.ETag) != `"`+md5Hex([]byte(want))+`"` {
			t.Errorf("HeadObject %s = %v, %v; want the MD5 of the file", key, head, err)
		}
	}
}

// newTestBackend returns a Backend on a new directory, closed when the test
// ends, with the bucket "bkt".
func newTestBackend(t testing.TB) *Backend {
	t.Helper()
	return newTestBackendWith(t, BackendOptions{})
}

// newTestBackendWith is newTestBackend with the options opts.
func newTestBackendWith(t testing.TB, opts BackendOptions) *Backend {
	t.Helper()
	b, err := NewBackend(t.TempDir(), discardLogger(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.CreateBucket(ctx(t), "bkt"); err != nil {
		t.Fatal(err)
	}
	return b
}

// mustPut stores data as key with the Backend.
func mustPut(t testing.TB, b *Backend, bucket, key string, data []byte) {
	t.Helper()
	if _, err := b.PutObject(ctx(t), bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
}

// readObject returns the contents of key read with the Backend.
func readObject(t testing.TB, b *Backend, bucket, key string) []byte {
	t.Helper()
	obj, err := b.GetObject(ctx(t), bucket, key, nil)
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	defer obj.Contents.Close()
	data, err := io.ReadAll(obj.Contents)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// del deletes key with a client call.
func del(t testing.TB, c *s3.Client, bucket, key string) {
	t.Helper()
	if _, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatalf("DeleteObject %q: %v", key, err)
	}
}

func TestConcurrentPutDeleteInOneDirectory(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	// Deletes prune the directory that puts are putting files into, and a
	// marker comes and goes above them.
	const workers, rounds = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Go(func() {
			key := fmt.Sprintf("d/e/k%d", w)
			data := []byte(key)
			for range rounds {
				if _, err := b.PutObject(ctx(t), "bkt", key, map[string]string{}, bytes.NewReader(data), int64(len(data))); err != nil {
					errs <- fmt.Errorf("put %s: %w", key, err)
					return
				}
				obj, err := b.GetObject(ctx(t), "bkt", key, nil)
				if err != nil {
					errs <- fmt.Errorf("get %s: %w", key, err)
					return
				}
				got, _ := io.ReadAll(obj.Contents)
				obj.Contents.Close()
				if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("get %s = %q", key, got)
					return
				}
				if _, err := b.DeleteObject(ctx(t), "bkt", key); err != nil {
					errs <- fmt.Errorf("delete %s: %w", key, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			if _, err := b.PutObject(ctx(t), "bkt", "d/", map[string]string{}, strings.NewReader(""), 0); err != nil {
				errs <- fmt.Errorf("put marker: %w", err)
				return
			}
			if _, err := b.DeleteObject(ctx(t), "bkt", "d/"); err != nil {
				errs <- fmt.Errorf("delete marker: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	out, err := b.ListBucket(ctx(t), "bkt", nil, gofakes3.ListBucketPage{})
	if err != nil || len(out.Contents) != 0 {
		t.Errorf("listing after everything was deleted = %+v, %v", out, err)
	}
	if entries, err := os.ReadDir(filepath.Join(b.root.Name(), "bkt")); err != nil || len(entries) != 0 {
		t.Errorf("bucket directory holds %v (%v)", entries, err)
	}
}

func TestEmptyDirectoriesGiveWay(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	for _, d := range []string{"bkt/ghost", "bkt/nested/a/b", "bkt/marked/in"} {
		if err := b.root.MkdirAll(d, dirPerm); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, b, "bkt", "marked/in/", nil)
	for _, key := range []string{"ghost", "nested"} {
		mustPut(t, b, "bkt", key, []byte(key))
		if got := readObject(t, b, "bkt", key); string(got) != key {
			t.Errorf("%s = %q", key, got)
		}
	}
	_, err := b.PutObject(ctx(t), "bkt", "marked", nil, strings.NewReader("x"), 1)
	if errCode(err) != gofakes3.ErrInvalidBucketState {
		t.Errorf("PutObject over a directory holding a marker: %v", err)
	}
}

func TestDeleteObjects(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	c := client(s, whenSupported)
	bucket := "multi-delete"
	for _, k := range []string{"a", "d/b", "d/"} {
		put(t, c, bucket, k, nil)
	}
	out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("a")}, {Key: aws.String("d/")}, {Key: aws.String("missing")}, {Key: aws.String("x/../y")},
	}}})
	if err != nil || len(out.Deleted) != 4 || len(out.Errors) != 0 {
		t.Fatalf("DeleteObjects = %+v, %v", out, err)
	}
	listed, err := c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil || len(listed.Contents) != 1 || aws.ToString(listed.Contents[0].Key) != "d/b" {
		t.Errorf("left: %+v, %v", listed, err)
	}
}

func TestCopyMarkers(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	mustPut(t, b, "bkt", "m/", nil)
	mustPut(t, b, "bkt", "empty", nil)
	mustPut(t, b, "bkt", "full", []byte("data"))
	tests := []struct {
		src, dst string
		code     gofakes3.ErrorCode
	}{
		{"m/", "n/", ""},
		{"m/", "file-from-marker", ""},
		{"empty", "o/", ""},
		{"full", "p/", gofakes3.ErrInvalidArgument},
		{"missing", "q", gofakes3.ErrNoSuchKey},
		{"full", "full/x", gofakes3.ErrInvalidBucketState},
	}
	for _, tc := range tests {
		_, err := b.CopyObject(ctx(t), "bkt", tc.src, "bkt", tc.dst, nil)
		if errCode(err) != tc.code {
			t.Errorf("CopyObject %s to %s: %v, want %s", tc.src, tc.dst, err, tc.code)
			continue
		}
		if err == nil {
			obj, err := b.HeadObject(ctx(t), "bkt", tc.dst)
			if err != nil || obj.Size != 0 {
				t.Errorf("copy %s: %+v, %v", tc.dst, obj, err)
			}
		}
	}
}
