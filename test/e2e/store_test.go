package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// key returns the S3 key of the FTP path name (absolute, "/" separated).
func (g *gateway) key(name string) string {
	return g.Prefix + strings.TrimPrefix(path.Clean("/"+name), "/")
}

// object returns the sha256 and size of the object stored for the FTP path
// name, read back from the store, and whether there is one.
//
// The embedded store keeps each object as the plain file
// DATA-DIR/s3/BUCKET/KEY (its S3 keys are random per run and not printed);
// versitygw is read through the S3 API.
func (g *gateway) object(t *testing.T, name string) (sum string, size int64, ok bool) {
	t.Helper()
	key := g.key(name)
	if g.S3 == nil {
		p := filepath.Join(g.DataDir, "s3", g.Bucket, filepath.FromSlash(key))
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) || (err == nil && fi.IsDir()) {
			return "", 0, false
		}
		if err != nil {
			t.Fatal(err)
		}
		sum, size := sha256File(t, p)
		return sum, size, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := g.S3.Client(false, nil).GetObject(ctx, &s3.GetObjectInput{Bucket: &g.Bucket, Key: &key})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return "", 0, false
	}
	if err != nil {
		t.Fatalf("%s: GetObject %s: %v", g.Kind, key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		t.Fatalf("%s: read object %s: %v", g.Kind, key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, true
}

// requireObject fails the test unless the object of the FTP path name holds
// exactly size bytes with sha256 sum.
func (g *gateway) requireObject(t *testing.T, name, sum string, size int64) {
	t.Helper()
	got, n, ok := g.object(t, name)
	switch {
	case !ok:
		t.Fatalf("%s: no object for %s (key %s)", g.Kind, name, g.key(name))
	case got != sum || n != size:
		t.Fatalf("%s: object for %s holds %d bytes, sha256 %s; want %d bytes, %s", g.Kind, name, n, got, size, sum)
	}
}

// requireNoObject fails the test if an object is stored for the FTP path name.
func (g *gateway) requireNoObject(t *testing.T, name string) {
	t.Helper()
	if _, n, ok := g.object(t, name); ok {
		t.Fatalf("%s: an object of %d bytes is stored for %s (key %s); want none", g.Kind, n, name, g.key(name))
	}
}

// uploads returns the keys of the multipart uploads in progress in the
// user's bucket. For versitygw it asks ListMultipartUploads; for the
// embedded store it reads the store's upload directories
// (DATA-DIR/s3/.s3ftp/uploads/ID/upload.json), the only place it keeps them.
func (g *gateway) uploads(t *testing.T) []string {
	t.Helper()
	var keys []string
	if g.S3 == nil {
		dir := filepath.Join(g.DataDir, "s3", ".s3ftp", "uploads")
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range entries {
			var rec struct{ Key string }
			if b, err := os.ReadFile(filepath.Join(dir, e.Name(), "upload.json")); err == nil && json.Unmarshal(b, &rec) == nil && rec.Key != "" {
				keys = append(keys, rec.Key)
			} else {
				keys = append(keys, "upload "+e.Name())
			}
		}
		return keys
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := g.S3.Client(false, nil).ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &g.Bucket})
	if err != nil {
		t.Fatalf("%s: ListMultipartUploads: %v", g.Kind, err)
	}
	for _, u := range out.Uploads {
		keys = append(keys, *u.Key)
	}
	return keys
}

// transferEnd is the log line s3ftp writes when a transfer ends.
type transferEnd struct {
	Msg    string `json:"msg"`
	Op     string `json:"op"`
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Result string `json:"result"` // ok, aborted or failed
	Err    string `json:"err"`
}

// waitTransferEnd waits up to 30 s for the gateway to log the end of the
// upload of the FTP path name, and returns that log line.
func (g *gateway) waitTransferEnd(t *testing.T, name string) transferEnd {
	t.Helper()
	var found transferEnd
	waitFor(t, 30*time.Second, "the gateway to log the end of the upload of "+name, func() bool {
		sc := bufio.NewScanner(strings.NewReader(g.log()))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l transferEnd
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "transfer" && l.Op == "upload" && l.Path == name {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// writeRandomFile writes size pseudo-random bytes (ChaCha8 seeded with seed)
// to a new file in a temporary directory and returns its path and sha256.
func writeRandomFile(t *testing.T, name string, size int64, seed uint64) (file, sum string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), name)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(randomReader(seed), size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return file, hex.EncodeToString(h.Sum(nil))
}

// randomReader returns an endless stream of fast pseudo-random bytes.
func randomReader(seed uint64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

// feed writes pseudo-random bytes (ChaCha8 seeded with seed) to w in 1 MiB
// writes, n bytes or, with n < 0, until a write fails, and returns how many
// were written and their sha256. It never holds more than 1 MiB.
func feed(w io.Writer, seed uint64, n int64) (written int64, sum string, err error) {
	rng := randomReader(seed)
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for n < 0 || written < n {
		chunk := buf
		if n >= 0 && n-written < int64(len(chunk)) {
			chunk = chunk[:n-written]
		}
		_, _ = rng.Read(chunk) // ChaCha8 never fails
		h.Write(chunk)
		m, err := w.Write(chunk)
		written += int64(m)
		if err != nil {
			return written, "", err
		}
	}
	return written, hex.EncodeToString(h.Sum(nil)), nil
}

// sha256File returns the sha256 and size of the file at p.
func sha256File(t *testing.T, p string) (string, int64) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// fileSHA returns the sha256 of the file at p.
func fileSHA(t *testing.T, p string) string {
	t.Helper()
	s, _ := sha256File(t, p)
	return s
}

// sha256Bytes returns the hex sha256 of b.
func sha256Bytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readRange returns bytes [off, off+n) of the file at p (n < 0: to the end).
func readRange(t *testing.T, p string, off, n int64) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n < 0 {
		return b[off:]
	}
	return b[off : off+n]
}
