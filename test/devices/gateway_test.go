package devices

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// backend is an S3 store a gateway runs against.
type backend struct {
	name string
	kind string // embeddedStore or versityStore
}

const (
	embeddedStore = "embedded"  // the default: the S3 store inside the s3ftp process
	versityStore  = "versitygw" // a separate versitygw process, reached over the S3 API
)

// backends is the table every transcript runs against.
var backends = []backend{
	{name: "embedded", kind: embeddedStore},
	{name: "versitygw", kind: versityStore},
}

// The FTP user every transcript logs in as, with the permissions its user
// line gives; its files go to BUCKET/site-a/device/ so that the key mapping
// under a prefix is exercised too.
const (
	ftpUser   = "device"
	ftpPrefix = "site-a/device/"
)

// gateway is a running `s3ftp serve` child process.
type gateway struct {
	kind     string
	password string
	store    Store
	proc     *s3ftpbin.Process
}

func (g *gateway) target() Target {
	return Target{Addr: g.proc.Addr, User: ftpUser, Password: g.password, Store: g.store}
}

// startGateway adds the transcript's user to a fresh data directory and
// starts `s3ftp serve` on 127.0.0.1:0 with any passive port, the API on
// 127.0.0.1:0 and the transcript's serve flags, on the backend b. It is
// stopped with SIGTERM when the test ends and must then exit 0.
func startGateway(t *testing.T, b backend, script *Script) *gateway {
	t.Helper()
	dataDir := t.TempDir()
	g := &gateway{kind: b.kind, password: randomHex(12)}
	bucket := "devices"
	var args []string
	switch b.kind {
	case embeddedStore:
		args = []string{"serve", "--ftp-listen", "127.0.0.1:0", "--passive-ports", "", "--api-listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-format", "json"}
		g.store = &fileStore{root: filepath.Join(dataDir, "s3", bucket, filepath.FromSlash(ftpPrefix))}
	case versityStore:
		srv := s3test.Versity(t)
		bucket = srv.NewBucket(t)
		args = []string{"serve", "--config", s3ftpbin.WriteConfig(t, dataDir, srv.Endpoint, srv.AccessKey, srv.SecretKey)}
		g.store = &s3Store{client: srv.Client(false, nil), bucket: bucket, prefix: ftpPrefix}
	default:
		t.Fatalf("unknown backend kind %q", b.kind)
	}
	s3ftpbin.AddUser(t, binary, ftpUser, g.password, "--bucket", bucket, "--prefix", ftpPrefix,
		"--permissions", script.Permissions, "--data-dir", dataDir)
	g.proc = s3ftpbin.Start(t, g.kind, binary, append(args, script.Serve...)...)
	return g
}

// fileStore reads the embedded store's files: each object is the plain file
// DATA-DIR/s3/BUCKET/KEY and a marker a directory (docs/embedded-store.md).
type fileStore struct {
	root string // the directory of the user's prefix
}

var _ Store = (*fileStore)(nil)

func (s *fileStore) path(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(path.Clean("/"+name)))
}

func (s *fileStore) Object(_ context.Context, name string) (string, int64, bool, error) {
	f, err := os.Open(s.path(name))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		return "", 0, false, err
	}
	return hashReader(f)
}

func (s *fileStore) Dir(_ context.Context, name string) (bool, error) {
	fi, err := os.Stat(s.path(name))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	return err == nil && fi.IsDir(), err
}

func (s *fileStore) Files(_ context.Context, dir string) ([]string, error) {
	root := s.path(dir)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	return files, err
}

// s3Store reads objects through the S3 API.
type s3Store struct {
	client *s3.Client
	bucket string
	prefix string // the user's prefix, ending in "/"
}

var _ Store = (*s3Store)(nil)

func (s *s3Store) key(name string) string {
	return s.prefix + strings.TrimPrefix(path.Clean("/"+name), "/")
}

// dirKey returns the key prefix of the objects below the directory name.
func (s *s3Store) dirKey(name string) string {
	k := s.key(name)
	if !strings.HasSuffix(k, "/") {
		k += "/"
	}
	return k
}

func (s *s3Store) Object(ctx context.Context, name string) (string, int64, bool, error) {
	key := s.key(name)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("GetObject %s: %w", key, err)
	}
	defer out.Body.Close()
	return hashReader(out.Body)
}

func (s *s3Store) Dir(ctx context.Context, name string) (bool, error) {
	prefix := s.dirKey(name)
	one := int32(1)
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix, MaxKeys: &one})
	if err != nil {
		return false, fmt.Errorf("ListObjectsV2 %s: %w", prefix, err)
	}
	return len(out.Contents) > 0, nil
}

func (s *s3Store) Files(ctx context.Context, dir string) ([]string, error) {
	prefix := s.dirKey(dir)
	var files []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListObjectsV2 %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			if k := strings.TrimPrefix(*o.Key, prefix); k != "" && !strings.HasSuffix(k, "/") {
				files = append(files, k)
			}
		}
	}
	return files, nil
}

// hashReader returns the hex sha256 and the length of what r holds.
func hashReader(r io.Reader) (string, int64, bool, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, false, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, true, nil
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
