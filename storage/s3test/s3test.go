// Package s3test starts real S3 servers for tests: rclone/gofakes3 in process
// over HTTP, s3ftp's embedded store, and versitygw (a production S3 gateway
// with a posix backend) as a child process. Tests run one table against every
// server.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/embedded"
)

// Server is an S3 endpoint a test can use.
type Server struct {
	Name      string // "gofakes3", "versitygw", ...
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	// Dir is where the server keeps objects as files ("" for in-memory servers).
	Dir string
}

// Client returns an S3 client for s whose checksum behaviour is that of
// storage.ChecksumsSupported (CRC32 on every upload) when supported, else
// storage.ChecksumsRequired (checksums only when required). rt, when not
// nil, carries the requests (to count or fail them); otherwise
// http.DefaultTransport does.
func (s *Server) Client(supported bool, rt http.RoundTripper) *s3.Client {
	o := s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:   &http.Client{Timeout: 5 * time.Minute, Transport: rt},
	}
	mode := storage.ChecksumsRequired
	if supported {
		mode = storage.ChecksumsSupported
	}
	mode.Apply(&o)
	return s3.New(o)
}

// NewBucket creates a bucket with a unique name and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := "t-" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s.Client(false, nil)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("%s: create bucket: %v", s.Name, err)
	}
	if s.Name == "gofakes3" {
		// gofakes3 answers ListMultipartUploads with NoSuchUpload until the
		// bucket has had a multipart upload; one begun and aborted makes it
		// list none, as real servers do.
		key := ".s3test-multipart"
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &name, Key: &key})
		if err == nil {
			_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &name, Key: &key, UploadId: up.UploadId})
		}
		if err != nil {
			t.Fatalf("%s: prepare the bucket's multipart uploads: %v", s.Name, err)
		}
	}
	return name
}

// Fake starts an in-process rclone/gofakes3 server (memory backend) over
// plain HTTP on 127.0.0.1, stopped when the test ends.
func Fake(t testing.TB) *Server {
	t.Helper()
	ak, sk := "fake-"+randomHex(4), randomHex(16)
	faker := gofakes3.New(s3mem.New(), gofakes3.WithV4Auth(map[string]string{ak: sk}), gofakes3.WithAutoBucket(true))
	ts := httptest.NewServer(faker.Server())
	t.Cleanup(ts.Close)
	return &Server{Name: "gofakes3", Endpoint: ts.URL, AccessKey: ak, SecretKey: sk}
}

// StrictEnv names the environment variable that, when set to 1, makes tests
// fail instead of skip when a real component they need (versitygw, curl,
// lftp, python3, PostgreSQL) is not installed. CI sets it.
const StrictEnv = "S3FTP_TEST_STRICT"

// Strict reports whether missing test components are failures (see StrictEnv).
func Strict() bool { return os.Getenv(StrictEnv) == "1" }

// All returns every server available: Fake and Embedded always, Versity
// when versitygw is installed (or S3FTP_TEST_STRICT=1, which makes its
// absence fatal).
func All(t testing.TB) []*Server {
	t.Helper()
	servers := []*Server{Fake(t), Embedded(t)}
	if VersityInstalled() || Strict() {
		servers = append(servers, Versity(t))
	} else {
		t.Logf("versitygw not installed: testing against gofakes3 only")
	}
	return servers
}

// Embedded starts s3ftp's own embedded store (storage/embedded) in a
// temporary directory, stopped when the test ends.
func Embedded(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	ak, sk := "emb-"+randomHex(4), randomHex(16)
	srv, err := embedded.Start(context.Background(), embedded.Config{Dir: dir, AccessKey: ak, SecretKey: sk})
	if err != nil {
		t.Fatalf("start embedded store: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &Server{Name: "embedded", Endpoint: srv.Endpoint(), AccessKey: ak, SecretKey: sk, Dir: dir}
}

// VersityInstalled reports whether the versitygw binary can be found.
func VersityInstalled() bool { return VersityBinary() != "" }

// VersityBinary returns the versitygw binary's path, or "" if it is not on
// PATH or in $GOPATH/bin.
func VersityBinary() string { return findBinary("versitygw") }

// VersityArgs returns versitygw's command line (after the binary) for its
// posix backend in dir, listening on addr (HOST:PORT) with the given keys.
// It keeps connections open between requests (--keep-alive): versitygw
// otherwise closes each one after one response, where S3 services keep
// them for the client's next request (and the gateway's connection pool
// is part of what the tests and the benchmark measure).
func VersityArgs(accessKey, secretKey, addr, dir string) []string {
	return []string{"--access", accessKey, "--secret", secretKey, "--port", addr, "--keep-alive", "posix", dir}
}

// Versity starts versitygw (VersityArgs) in a temporary directory, stopped
// when the test ends. It skips the test when the versitygw binary is not on
// PATH or in $GOPATH/bin, unless S3FTP_TEST_STRICT=1.
func Versity(t testing.TB) *Server { return StartVersity(t).Server }

// VersityProcess is a running versitygw that a test may kill and start
// again on the same address and directory.
type VersityProcess struct {
	Server *Server
	bin    string
	addr   string // HOST:PORT
	log    string // its output
	cmd    *exec.Cmd
}

// StartVersity starts versitygw as Versity does and returns its process,
// killed when the test ends. A free port another process takes before
// versitygw binds it is replaced, up to three times.
func StartVersity(t testing.TB) *VersityProcess {
	t.Helper()
	bin := VersityBinary()
	if bin == "" {
		if Strict() {
			t.Fatalf("versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
		t.Skip("versitygw not installed; go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	}
	v := &VersityProcess{bin: bin, Server: &Server{Name: "versitygw", AccessKey: "vgw-" + randomHex(4), SecretKey: randomHex(16), Dir: t.TempDir()}}
	t.Cleanup(v.Kill)
	for attempt := 1; ; attempt++ {
		v.addr = freeAddr(t)
		v.Server.Endpoint = "http://" + v.addr
		v.log = filepath.Join(t.TempDir(), "versitygw.log")
		if v.Start(t) {
			return v
		}
		if attempt == 3 {
			t.Fatalf("versitygw: its free port was taken before it bound it, three times")
		}
	}
}

// Start runs versitygw on its address and waits until it answers; it
// returns false if another process holds the address (see WaitVersity).
func (v *VersityProcess) Start(t testing.TB) bool {
	t.Helper()
	logFile, err := os.OpenFile(v.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	v.cmd = exec.Command(v.bin, VersityArgs(v.Server.AccessKey, v.Server.SecretKey, v.addr, v.Server.Dir)...)
	v.cmd.Stdout, v.cmd.Stderr = logFile, logFile
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	if !WaitVersity(t, v.addr, v.log) {
		v.Kill()
		return false
	}
	return true
}

// Kill stops versitygw with SIGKILL, if it runs.
func (v *VersityProcess) Kill() {
	if v.cmd != nil && v.cmd.Process != nil && v.cmd.ProcessState == nil {
		_ = v.cmd.Process.Kill()
		_ = v.cmd.Wait()
	}
}

// findBinary looks for name on PATH and in $GOPATH/bin (or ~/go/bin).
func findBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// WaitVersity waits up to 20 s for versitygw, started with its output in
// logPath, to answer HTTP at addr (HOST:PORT) as versitygw (its Server
// header: another server that took the port between freeAddr and the
// start does not count), and returns true. It returns false when the log
// says the address was in use: the caller starts versitygw again on
// another port. Otherwise it ends the test.
func WaitVersity(t testing.TB, addr, logPath string) bool {
	t.Helper()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get("http://" + addr + "/"); err == nil {
			_ = resp.Body.Close()
			if resp.Header.Get("Server") == "VERSITYGW" {
				return true
			}
		}
		if log, _ := os.ReadFile(logPath); strings.Contains(string(log), "address already in use") {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("versitygw did not answer on %s: %s", addr, strings.TrimSpace(string(log)))
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// Delay waits d before a test transport sends req, as a slow S3 server or
// link would. If req's context ends first, it closes the body and returns
// the context's error for the RoundTripper to return.
func Delay(req *http.Request, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-req.Context().Done():
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return req.Context().Err()
	}
}
