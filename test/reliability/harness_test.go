// Package reliability proves, black-box, that the gateway holds under
// faults, attacks and load: the real s3ftp binary, real S3 servers (gofakes3
// in process, versitygw as a process) reached through a fault-injecting
// proxy (test/faultproxy), and a real FTP client (jlaffaye/ftp). What each
// test leaves behind is checked through the S3 API. Tests print their
// measurements as lines starting with "FIGURE " (test/run shows them); see
// docs/reliability.md.
package reliability

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/faultproxy"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// binary is the s3ftp binary TestMain builds.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(s3ftpbin.Main(m, &binary))
}

// env is a running gateway whose S3 traffic goes through a fault proxy.
type env struct {
	*s3ftpbin.Process
	S3     *s3test.Server    // the S3 server behind the proxy
	Proxy  *faultproxy.Proxy // between the gateway and S3
	Direct *s3.Client        // talks to S3 without the proxy
	Bucket string
	Prefix string // the user's key prefix, ending in "/"
	User   string
	Pass   string
	// Passwords holds every user's password by name.
	Passwords map[string]string
	config    string // the gateway's configuration file, for restart
}

// start runs a gateway for one user, dev (prefix dev/), in a fresh bucket
// of srv, with S3 behind a fault proxy, and the "key: value" config lines
// of extra (s3-timeout: 3s unless extra sets it).
func start(t testing.TB, srv *s3test.Server, extra ...string) *env {
	t.Helper()
	return startUsers(t, srv, []string{"dev"}, extra...)
}

// startUsers is start with several users sharing the bucket, each with
// the prefix NAME/ and a random password (in Passwords); the first is the
// env's User.
func startUsers(t testing.TB, srv *s3test.Server, users []string, extra ...string) *env {
	t.Helper()
	p, err := faultproxy.New(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	e := &env{S3: srv, Proxy: p, Direct: srv.Client(false, nil), Bucket: srv.NewBucket(t), Passwords: map[string]string{}}
	dataDir := t.TempDir()
	for _, u := range users {
		e.Passwords[u] = randomHex(8)
		s3ftpbin.AddUser(t, binary, u, e.Passwords[u], "--bucket", e.Bucket, "--prefix", u+"/", "--data-dir", dataDir)
	}
	e.User, e.Pass, e.Prefix = users[0], e.Passwords[users[0]], users[0]+"/"
	if !hasKey(extra, "s3-timeout") {
		extra = append(extra, "s3-timeout: 3s")
	}
	e.config = s3ftpbin.WriteConfig(t, dataDir, p.URL(), srv.AccessKey, srv.SecretKey, extra...)
	e.Process = s3ftpbin.Start(t, srv.Name, binary, "serve", "--config", e.config)
	return e
}

// restart starts the gateway again with the same configuration and data
// directory (its users, its upload journal) after Kill.
func (e *env) restart(t testing.TB) {
	t.Helper()
	e.Process = s3ftpbin.Start(t, e.S3.Name, binary, "serve", "--config", e.config)
}

func hasKey(lines []string, key string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, key+":") {
			return true
		}
	}
	return false
}

// login opens a logged-in FTP session, closed when the test ends.
func (e *env) login(t testing.TB, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	c, err := e.dial(opts...)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	t.Cleanup(func() { c.Quit() })
	return c
}

// dial connects and logs in.
func (e *env) dial(opts ...ftp.DialOption) (*ftp.ServerConn, error) {
	c, err := ftp.Dial(e.Addr, append([]ftp.DialOption{ftp.DialWithTimeout(20 * time.Second)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if err := c.Login(e.User, e.Pass); err != nil {
		c.Quit()
		return nil, err
	}
	return c, nil
}

// object is what S3 holds under a key.
type object struct {
	Size int64
	ETag string
}

// objects lists the whole bucket through S3 directly.
func (e *env) objects(t testing.TB) map[string]object {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]object{}
	pages := s3.NewListObjectsV2Paginator(e.Direct, &s3.ListObjectsV2Input{Bucket: &e.Bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("list objects: %v", err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = object{aws.ToInt64(o.Size), aws.ToString(o.ETag)}
		}
	}
	return out
}

// uploads returns the keys of the multipart uploads in progress in the
// bucket, sorted.
func (e *env) uploads(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.Direct.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &e.Bucket})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	sort.Strings(keys)
	return keys
}

// waitPart waits until the multipart upload of name has a part in S3.
func (e *env) waitPart(t *testing.T, name string) {
	t.Helper()
	key := e.Prefix + strings.TrimPrefix(name, "/")
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := e.Direct.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &e.Bucket, Prefix: &key})
		if err == nil {
			for _, u := range out.Uploads {
				parts, perr := e.Direct.ListParts(ctx, &s3.ListPartsInput{Bucket: &e.Bucket, Key: u.Key, UploadId: u.UploadId})
				if perr == nil && len(parts.Parts) > 0 {
					cancel()
					return
				}
			}
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("no part of a multipart upload of %s in S3 (last error: %v)", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireClean fails the test if S3 holds an object or a multipart upload
// for the FTP path name.
func (e *env) requireClean(t testing.TB, name string) {
	t.Helper()
	key := e.Prefix + strings.TrimPrefix(name, "/")
	if o, ok := e.objects(t)[key]; ok {
		t.Errorf("object %s left behind (%d bytes)", key, o.Size)
	}
	for _, k := range e.uploads(t) {
		if k == key {
			t.Errorf("multipart upload of %s left behind", key)
		}
	}
}

// usage is the gateway process's goroutines and open file descriptors.
type usage struct{ Goroutines, FDs int }

func (u usage) String() string { return fmt.Sprintf("%d goroutines, %d fds", u.Goroutines, u.FDs) }

// usage reads go_goroutines from the admin API's /metrics and counts
// /proc/PID/fd.
func (e *env) usage(t testing.TB) usage {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.Cmd.Process.Pid))
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return usage{Goroutines: int(e.metric(t, "go_goroutines")), FDs: len(fds)}
}

// fdKinds counts the gateway's open fds by what they are: "socket",
// "anon_inode:[eventpoll]", a file's path, ...
func (e *env) fdKinds() map[string]int {
	dir := fmt.Sprintf("/proc/%d/fd", e.Cmd.Process.Pid)
	fds, _ := os.ReadDir(dir)
	kinds := map[string]int{}
	for _, fd := range fds {
		target, err := os.Readlink(dir + "/" + fd.Name())
		if err != nil {
			continue
		}
		if strings.HasPrefix(target, "socket:") {
			target = "socket"
		}
		kinds[target]++
	}
	return kinds
}

// sockets lists the gateway's TCP sockets (state, local and peer address)
// as ss(8) shows them, to say what a leak check found.
func (e *env) sockets() string {
	out, err := exec.Command("ss", "-Htanp").Output()
	if err != nil {
		return "ss: " + err.Error()
	}
	var b strings.Builder
	pid := fmt.Sprintf("pid=%d,", e.Cmd.Process.Pid)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, pid) {
			f := strings.Fields(line)
			if len(f) >= 5 {
				fmt.Fprintf(&b, "%s %s %s\n", f[0], f[3], f[4])
			}
		}
	}
	return b.String()
}

// metric returns the value of the unlabelled metric name from /metrics.
func (e *env) metric(t testing.TB, name string) float64 {
	t.Helper()
	if e.APIURL == "" {
		t.Fatal("the admin API is not running")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(e.APIURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not in /metrics", name)
	return 0
}

// requireNoLeak waits for the gateway's goroutines and fds to come back to
// within slack of base, and fails the test if they do not. The gateway's
// pool of idle connections to S3 (counted by the proxy; up to 64, each an
// fd and two goroutines, closed after 90 s idle) is allowed on top. On a
// busy machine the gateway closes what the load left more slowly, which is
// not a leak: so the wait goes on while the excess over the allowance
// still falls, and the test fails once it has not fallen for leakSettle
// (or after leakBound in all).
func (e *env) requireNoLeak(t testing.TB, base usage, slack int) usage {
	t.Helper()
	begin := time.Now()
	best, improved := -1, begin
	for {
		u := e.usage(t)
		pool := e.Proxy.Open()
		excess := max(0, u.Goroutines-(base.Goroutines+2*pool+slack)) + max(0, u.FDs-(base.FDs+pool+slack))
		if excess == 0 {
			return u
		}
		if best < 0 || excess < best {
			best, improved = excess, time.Now()
		}
		if time.Since(improved) > leakSettle || time.Since(begin) > leakBound {
			t.Errorf("leak: %v before, %v %v after (%d S3 connections in the pool, slack %d; no fall for %v); the gateway's fds: %v; its TCP sockets:\n%s",
				base, u, time.Since(begin).Round(time.Second), pool, slack, time.Since(improved).Round(time.Second), e.fdKinds(), e.sockets())
			return u
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// How long requireNoLeak waits for the counts to fall: leakSettle without
// a fall, leakBound in all.
const (
	leakSettle = 15 * time.Second
	leakBound  = 2 * time.Minute
)

// requireFailure fails the test unless err is an FTP error reply (4xx or
// 5xx) with a reason, and returns its code.
func requireFailure(t testing.TB, what string, err error) int {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code < 400 {
		t.Errorf("%s: %v, want an error reply", what, err)
		return 0
	}
	if strings.TrimSpace(te.Msg) == "" {
		t.Errorf("%s: reply %d without a reason", what, te.Code)
	}
	return te.Code
}

// requireTransient is requireFailure that also wants a transient reply
// (421, 425, 426, 450 or 451: the ones a device retries; a 5xx tells it
// the file is refused for good) and returns its code.
func requireTransient(t testing.TB, what string, err error) int {
	t.Helper()
	code := requireFailure(t, what, err)
	switch code {
	case 0, 421, 425, 426, 450, 451:
	default:
		t.Errorf("%s: reply %d %q, want a transient one (421/426/451)", what, code, err)
	}
	return code
}

// figure prints a measurement line that test/run and docs/reliability.md
// collect.
func figure(t testing.TB, format string, args ...any) {
	t.Helper()
	line := "FIGURE " + fmt.Sprintf(format, args...)
	fmt.Println(line)
	t.Log(line)
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
