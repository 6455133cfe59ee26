package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// Backend kinds a gateway can store its files in.
const (
	embeddedStore = "embedded"  // the default: S3 store inside the s3ftp process
	versityStore  = "versitygw" // s3ftp as a gateway to a separate versitygw process
)

// backend says which S3 store a gateway uses and how it reaches it.
type backend struct {
	name     string   // subtest name
	kind     string   // embeddedStore or versityStore
	checksum string   // --s3-checksum ("" keeps the default, auto)
	flags    []string // more serve flags, for the embedded store
	// writeDelay, for versitygw, puts a proxy in front of it that holds
	// each PUT and POST response this long (see slowS3).
	writeDelay time.Duration
}

// backends is the table most tests run against: the embedded store, and
// versitygw in both checksum modes.
var backends = []backend{
	{name: "embedded", kind: embeddedStore},
	{name: "versitygw", kind: versityStore, checksum: "when_required"},
	{name: "versitygw-crc32", kind: versityStore, checksum: "when_supported"},
}

// gateway is a running `s3ftp serve` child process and the FTP user the
// tests log in as.
type gateway struct {
	*s3ftpbin.Process // the s3ftp serve process: Addr, APIURL, Stdout, Cmd, Log

	Kind     string
	User     string
	Password string
	Bucket   string         // bucket of the user's files
	Prefix   string         // key prefix of the user's files, ending in "/"
	DataDir  string         // --data-dir
	S3       *s3test.Server // the external store; nil for the embedded one

	// S3Writes records the PUT and POST requests that S3 has carried out,
	// for a backend with a writeDelay; nil otherwise.
	S3Writes *requestLog
}

// startGateway starts `s3ftp serve` on 127.0.0.1:0 with the backend b, and
// stops it when the test ends.
//
// For the embedded store it relies on the demo user (bucket s3ftp, prefix
// demo/) with a password given by --demo-password. For versitygw it starts a
// server, creates a bucket, adds a user with `s3ftp users add` to a fresh
// data directory and points serve at the server with a --config file.
func startGateway(t *testing.T, b backend) *gateway {
	t.Helper()
	dataDir := t.TempDir()
	password := randomHex(12)
	switch b.kind {
	case embeddedStore:
		args := []string{
			"serve", "--ftp-listen", "127.0.0.1:0", "--passive-ports", "", "--api-listen", "127.0.0.1:0",
			"--data-dir", dataDir, "--demo-password", password, "--log-format", "json",
		}
		if b.checksum != "" {
			args = append(args, "--s3-checksum", b.checksum)
		}
		args = append(args, b.flags...)
		g := &gateway{Kind: b.kind, User: "demo", Password: password, Bucket: "s3ftp", Prefix: "demo/", DataDir: dataDir}
		g.start(t, args)
		return g
	case versityStore:
		srv := s3test.Versity(t)
		g := &gateway{Kind: b.kind, User: "e2e", Password: password, Bucket: srv.NewBucket(t), Prefix: "files/", DataDir: dataDir, S3: srv}
		s3ftpbin.AddUser(t, binary, g.User, password, "--bucket", g.Bucket, "--prefix", g.Prefix, "--data-dir", dataDir)
		endpoint := srv.Endpoint
		if b.writeDelay > 0 {
			g.S3Writes = &requestLog{}
			endpoint = slowS3(t, srv.Endpoint, b.writeDelay, g.S3Writes)
		}
		checksum := b.checksum
		if checksum == "" {
			checksum = "auto"
		}
		config := s3ftpbin.WriteConfig(t, dataDir, endpoint, srv.AccessKey, srv.SecretKey, "s3-checksum: "+checksum)
		g.start(t, []string{"serve", "--config", config})
		return g
	}
	t.Fatalf("unknown backend kind %q", b.kind)
	return nil
}

// start runs the binary with args (see s3ftpbin.Start: stopped with SIGTERM
// and checked to exit 0 when the test ends) and checks its startup lines.
func (g *gateway) start(t *testing.T, args []string) {
	t.Helper()
	g.Process = s3ftpbin.Start(t, g.Kind, binary, args...)
	if host, _, err := net.SplitHostPort(g.Addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("FTP address %q: want 127.0.0.1:PORT", g.Addr)
	}
	if g.Kind == embeddedStore {
		// The demo user must be announced with the password we chose.
		want := fmt.Sprintf("demo user:  %s / %s -> bucket %s, prefix %s", g.User, g.Password, g.Bucket, g.Prefix)
		waitFor(t, 5*time.Second, "the demo user line on stdout", func() bool { return strings.Contains(g.Stdout.String(), want) })
	}
}

// Pid returns the process id of the s3ftp process.
func (g *gateway) Pid() int { return g.Cmd.Process.Pid }

// Host returns the host of the FTP address (127.0.0.1).
func (g *gateway) Host() string {
	h, _, _ := net.SplitHostPort(g.Addr)
	return h
}

// Port returns the FTP control port.
func (g *gateway) Port() string {
	_, p, _ := net.SplitHostPort(g.Addr)
	return p
}

// URL returns the ftp:// URL of path (absolute, "/" separated) with the
// user's credentials in it.
func (g *gateway) URL(path string) string {
	return fmt.Sprintf("ftp://%s:%s@%s%s", g.User, g.Password, g.Addr, path)
}

// log returns what the process has logged so far.
func (g *gateway) log() string { return g.ReadLog() }

// requireTool returns the path of an installed client program. When it is
// missing the test is skipped, or fails under S3FTP_TEST_STRICT=1.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (apt-get install %s); %s=1 makes this a failure", name, name, s3test.StrictEnv)
	if s3test.Strict() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// waitFor polls cond every 50 ms and fails the test if it is not true
// within d; what names the awaited condition in the failure.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// exitCode returns the exit status carried by err from exec, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
