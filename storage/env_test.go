package storage_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// env is one test's view: an Fs jailed to a fresh prefix of a shared bucket,
// the objects under that prefix read straight through S3 for checks, and a
// transport that counts and can fail the Fs's requests.
type env struct {
	s3test.Objects
	srv    *s3test.Server
	svc    *storage.Service
	fs     *storage.Fs
	bucket string
	prefix string
	rt     *transport
	cancel context.CancelFunc
}

// newEnv returns an env whose Fs uses checksum mode mode (see
// s3test.Server.Client) and settings set.
func newEnv(t *testing.T, srv *s3test.Server, bucket string, mode storage.ChecksumMode, set storage.Settings) *env {
	t.Helper()
	rt := &transport{next: http.DefaultTransport, counts: map[string]int{}}
	set.Checksums = mode
	svc, err := storage.NewService(srv.Client(mode == storage.ChecksumsSupported, rt), set)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "u-" + randHex(6) + "/"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &env{
		Objects: srv.Objects(bucket, prefix), srv: srv, svc: svc, bucket: bucket, prefix: prefix, rt: rt, cancel: cancel,
		fs: svc.NewFs(ctx, bucket, prefix, nil),
	}
}

// otherFs returns an Fs of the same bucket jailed to another prefix.
func (e *env) otherFs(prefix string) *storage.Fs {
	return e.svc.NewFs(context.Background(), e.bucket, prefix, nil)
}

// upload writes data to name through the Fs, as an FTP STOR does.
func (e *env) upload(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := writeThrough(e.fs, name, data); err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
}

// writeThrough uploads data to name with Fs.Upload, in 32 KiB writes.
func writeThrough(fsys *storage.Fs, name string, data []byte) error {
	return uploadThrough(fsys, name, writeFlags, data)
}

// appendThrough appends data to name (APPE) as writeThrough writes.
func appendThrough(fsys *storage.Fs, name string, data []byte) error {
	return uploadThrough(fsys, name, os.O_WRONLY|os.O_APPEND, data)
}

func uploadThrough(fsys *storage.Fs, name string, flags int, data []byte) error {
	h, err := fsys.Upload(name, flags, 0)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(h, bytes.NewReader(data), make([]byte, 32<<10)); err != nil {
		_ = h.Close()
		return err
	}
	return h.Close()
}

// download reads name from offset through the Fs.
func (e *env) download(t *testing.T, name string, offset int64) []byte {
	t.Helper()
	h, err := e.fs.Download(name, offset)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer h.Close()
	if offset != 0 {
		if _, err := h.Seek(offset, io.SeekStart); err != nil {
			t.Fatalf("seek: %v", err)
		}
	}
	b, err := io.ReadAll(h)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// object returns the bytes of key (relative to the env's prefix) read
// directly from S3, or an error.
func (e *env) object(rel string) ([]byte, error) { return e.Get(rel) }

// put writes an object directly to S3 under the env's prefix.
func (e *env) put(t *testing.T, rel string, data []byte) { e.Put(t, rel, data) }

// keys lists every key under the env's prefix, relative to it, sorted.
func (e *env) keys(t *testing.T) []string { return e.Keys(t) }

// nothingAt fails the test if an object exists for rel or a multipart
// upload under the prefix.
func (e *env) nothingAt(t *testing.T, rel string) { e.NothingAt(t, rel) }

// transport counts the Fs's S3 requests by operation and can fail or slow
// chosen ones.
type transport struct {
	next   http.RoundTripper
	mu     sync.Mutex
	counts map[string]int
	fail   func(op string, n int) bool // n counts that operation from 1
	// lose, when not nil, chooses what happens to the answer of a request
	// (see loss).
	lose func(op string, n int) loss
	// before, when not nil, runs before a request is sent (outside the lock).
	before func(op string, n int)
	answer s3Answer      // what a failed request gets; zero: 500 InternalError
	delay  time.Duration // added before each request is sent
}

// s3Answer is an S3 error answer: HTTP status and S3 error code.
type s3Answer struct {
	status int
	code   string
}

// loss is what the transport does to a request and its answer.
type loss int

const (
	delivered loss = iota // the request reaches S3, the answer the client
	answer500             // the request reaches S3, the client gets a 500 (which the SDK retries)
	stalled               // the request reaches S3, the answer never comes: the request times out
	unsent                // the request never reaches S3 and times out
)

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	op := s3test.Operation(req)
	tr.mu.Lock()
	tr.counts[op]++
	n := tr.counts[op]
	fail := tr.fail != nil && tr.fail(op, n)
	lost := delivered
	if tr.lose != nil {
		lost = tr.lose(op, n)
	}
	before := tr.before
	answer := tr.answer
	delay := tr.delay
	tr.mu.Unlock()
	if before != nil {
		before(op, n)
	}
	if err := s3test.Delay(req, delay); err != nil {
		return nil, err
	}
	switch lost {
	case unsent:
		<-req.Context().Done()
		return nil, req.Context().Err()
	case answer500, stalled:
		resp, err := tr.next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if lost == stalled {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		fail = true
	}
	if fail {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		if answer.code == "" {
			answer = s3Answer{http.StatusInternalServerError, "InternalError"}
		}
		return &http.Response{
			StatusCode: answer.status, Status: http.StatusText(answer.status),
			Header:  http.Header{"Content-Type": {"application/xml"}},
			Body:    io.NopCloser(strings.NewReader("<Error><Code>" + answer.code + "</Code><Message>injected</Message></Error>")),
			Request: req,
		}, nil
	}
	return tr.next.RoundTrip(req)
}

// reset clears the counts and the failure rule.
func (tr *transport) reset(fail func(op string, n int) bool) { tr.refuse(s3Answer{}, fail) }

// refuse clears the counts and makes the requests fail selects get answer.
func (tr *transport) refuse(answer s3Answer, fail func(op string, n int) bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.counts = map[string]int{}
	tr.fail, tr.answer = fail, answer
	tr.lose = nil
	tr.before = nil
}

// slow delays every later request by d (a slow S3 server or link).
func (tr *transport) slow(d time.Duration) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.delay = d
}

// snapshot returns a copy of the counts.
func (tr *transport) snapshot() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	c := make(map[string]int, len(tr.counts))
	for k, v := range tr.counts {
		c[k] = v
	}
	return c
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// must fails the test on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// digest returns the hex digest of data with algo, computed here.
func digest(algo crypto.Hash, data []byte) string {
	var h hash.Hash
	switch algo {
	case storage.CRC32:
		h = crc32.NewIEEE()
	case crypto.MD5:
		h = md5.New()
	case crypto.SHA1:
		h = sha1.New()
	case crypto.SHA256:
		h = sha256.New()
	case crypto.SHA512:
		h = sha512.New()
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
