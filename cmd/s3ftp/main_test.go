package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// runCmd runs the command line with stdin and returns stdout.
func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &bytes.Buffer{}, getenv: mapEnv(nil)})
	return out.String(), err
}

func TestUsersCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, err := runCmd(t, "s3cr3t-pass\n", "users", "add", "Cam01", "--bucket", "cams", "--prefix", "/site-a/cam01", "--permissions", "upload,mkdir", "--password-stdin", "--data-dir", dir)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if !strings.Contains(out, `added user cam01: bucket cams, prefix "site-a/cam01/", permissions upload,mkdir`) {
		t.Errorf("add printed %q", out)
	}
	if _, err := runCmd(t, "x\n", "users", "add", "cam01", "--bucket", "cams", "--password-stdin", "--data-dir", dir); err == nil {
		t.Errorf("adding a user twice succeeded")
	}
	for _, bad := range [][]string{
		{"users", "add", "cam02", "--bucket", "Bad_Bucket", "--password-stdin"},
		{"users", "add", "cam02", "--bucket", "cams", "--prefix", "../x", "--password-stdin"},
		{"users", "add", "cam02", "--bucket", "cams", "--permissions", "fly", "--password-stdin"},
		{"users", "add", "cam02", "--bucket", "cams"},
		{"users", "add", "--bucket", "cams", "--password-stdin"},
		{"users", "add", "cam02", "--bucket", "cams", "--expect-upload-every", "soon", "--password-stdin"},
		{"users", "expect", "cam01", "--expect-upload-every", "100ms"},
	} {
		if _, err := runCmd(t, "pw\n", append(bad, "--data-dir", dir)...); err == nil {
			t.Errorf("%v succeeded", bad)
		}
	}
	if _, err := runCmd(t, "", "users", "add", "cam03", "--bucket", "cams", "--password-stdin", "--data-dir", dir); err == nil {
		t.Errorf("empty password accepted")
	}
	out, err = runCmd(t, "", "users", "list", "--data-dir", dir)
	if err != nil || !regexp.MustCompile(`cam01\s+cams\s+site-a/cam01/\s+upload,mkdir\s+false`).MatchString(out) {
		t.Errorf("list = %q, %v", out, err)
	}
	for _, c := range []struct{ every, want string }{
		{"90m", "user cam01: expects an upload every 1h30m0s"},
		{"", "user cam01: no upload expectation"},
	} {
		out, err = runCmd(t, "", "users", "expect", "cam01", "--expect-upload-every", c.every, "--data-dir", dir)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("expect %q = %q, %v; want %q", c.every, out, err, c.want)
		}
	}
	if _, err := runCmd(t, "pw-cam04\n", "users", "add", "cam04", "--bucket", "cams", "--expect-upload-every", "2h", "--password-stdin", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	out, err = runCmd(t, "", "users", "show", "cam04", "--data-dir", dir)
	if err != nil || !regexp.MustCompile(`expect_upload_every:\s+2h0m0s`).MatchString(out) {
		t.Errorf("show = %q, %v", out, err)
	}
	db, err := os.ReadFile(filepath.Join(dir, "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte("s3cr3t-pass")) {
		t.Errorf("the password is stored in clear")
	}
	if _, err := runCmd(t, "", "users", "delete", "CAM01", "--data-dir", dir); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := runCmd(t, "", "users", "delete", "cam01", "--data-dir", dir); err == nil {
		t.Errorf("deleting a missing user succeeded")
	}
}

// startServe runs `s3ftp serve args...` until the test ends and returns the
// FTP address it printed and its stdout.
func startServe(t *testing.T, args ...string) (string, *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--ftp-listen", "127.0.0.1:0", "--passive-ports", "", "--api-listen", "127.0.0.1:0"}, args...),
			env{stdin: strings.NewReader(""), stdout: out, stderr: logs, getenv: mapEnv(nil)})
	}()
	var exited error
	running := true
	t.Cleanup(func() {
		cancel()
		if running {
			exited = <-done
		}
		if exited != nil {
			t.Errorf("serve: %v", exited)
		}
		if strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Errorf("errors logged:\n%s", logs)
		}
	})
	re := regexp.MustCompile(`FTP:\s+ftp://(\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case exited = <-done:
			running = false
			t.Fatalf("serve exited: %v\n%s", exited, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no address:\n%s\n%s", out, logs)
	return "", nil
}

// TestServeDemo: with no configuration, serve runs on the embedded store and
// the printed demo user can upload; the bytes land as a file under data-dir.
func TestServeDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, out := startServe(t, "--data-dir", dir, "--demo-password", "demo-pass-123")
	if !strings.Contains(out.String(), "demo user:  demo / demo-pass-123 -> bucket s3ftp, prefix demo/") {
		t.Errorf("startup output:\n%s", out)
	}
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("demo", "demo-pass-123"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("hello.txt", strings.NewReader("hello from the demo")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "s3", "s3ftp", "demo", "hello.txt"))
	if err != nil || string(got) != "hello from the demo" {
		t.Errorf("file in the embedded store = %q, %v", got, err)
	}
}

// TestServeNoDemo: the demo user exists neither with a config file nor once
// the store has users.
func TestServeNoDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := runCmd(t, "pw-123456\n", "users", "add", "alice", "--bucket", "b-alice", "--password-stdin", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	addr, out := startServe(t, "--data-dir", dir, "--demo-password", "demo-pass-123")
	if strings.Contains(out.String(), "demo user") {
		t.Errorf("demo user announced although the store has users:\n%s", out)
	}
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("demo", "demo-pass-123"); err == nil {
		t.Errorf("demo login succeeded")
	}
	c2, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Quit()
	if err := c2.Login("alice", "pw-123456"); err != nil {
		t.Fatal(err)
	}
	if err := c2.Stor("a.txt", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "s3", "b-alice", "alice", "a.txt")); err != nil {
		t.Errorf("alice's bucket was not created on demand: %v", err)
	}

	cfg := writeFile(t, "c.yaml", "data-dir: "+t.TempDir()+"\nftp-listen: 127.0.0.1:0\npassive-ports: \"\"\n")
	_, out = startServe(t, "--config", cfg, "--demo-password", "demo-pass-123")
	if strings.Contains(out.String(), "demo user") {
		t.Errorf("demo user announced with a config file:\n%s", out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	if out, err := runCmd(t, "", "version"); err != nil || !strings.HasPrefix(out, "s3ftp ") {
		t.Errorf("version = %q, %v", out, err)
	}
	for _, args := range [][]string{nil, {"bogus"}, {"users"}, {"users", "frob"}, {"config"}} {
		if _, err := runCmd(t, "", args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

// TestUsersThroughAPI: the users commands drive a running gateway's admin
// API (the token it generated), and changes apply at the next FTP login.
func TestUsersThroughAPI(t *testing.T) {
	t.Parallel()
	ftpAddr, out := startServe(t, "--data-dir", t.TempDir(), "--demo-password", "demo-pass-123")
	m := regexp.MustCompile(`admin API:\s+(http://\S+)/api/v1/ with token (\S+) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no admin API line in:\n%s", out)
	}
	apiURL, token := m[1], m[2]
	remote := func(stdin string, args ...string) (string, error) {
		t.Helper()
		return runCmd(t, stdin, append(args, "--api", apiURL, "--token", token)...)
	}
	login := func(name, password string) error {
		c, err := ftp.Dial(ftpAddr, ftp.DialWithTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Quit()
		return c.Login(name, password)
	}
	if out, err := remote("cam-pass-1\n", "users", "add", "cam07", "--bucket", "cams", "--permissions", "upload", "--password-stdin"); err != nil {
		t.Fatalf("add: %v %s", err, out)
	}
	if err := login("cam07", "cam-pass-1"); err != nil {
		t.Errorf("login after add: %v", err)
	}
	if out, err := remote("", "users", "show", "cam07"); err != nil || !strings.Contains(out, "prefix:") || !strings.Contains(out, "cam07/") {
		t.Errorf("show = %q, %v", out, err)
	}
	if _, err := remote("cam-pass-2\n", "users", "set-password", "cam07", "--password-stdin"); err != nil {
		t.Errorf("set-password: %v", err)
	}
	if err := login("cam07", "cam-pass-1"); err == nil {
		t.Errorf("the old password still works")
	}
	if _, err := remote("", "users", "disable", "cam07"); err != nil {
		t.Errorf("disable: %v", err)
	}
	if err := login("cam07", "cam-pass-2"); err == nil {
		t.Errorf("a disabled user logged in")
	}
	if _, err := remote("", "users", "enable", "cam07"); err != nil {
		t.Errorf("enable: %v", err)
	}
	if err := login("cam07", "cam-pass-2"); err != nil {
		t.Errorf("login after enable: %v", err)
	}
	if out, err := remote("", "users", "list"); err != nil || !strings.Contains(out, "cam07") {
		t.Errorf("list = %q, %v", out, err)
	}
	if _, err := remote("", "users", "delete", "cam07"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := login("cam07", "cam-pass-2"); err == nil {
		t.Errorf("a deleted user logged in")
	}
	if _, err := runCmd(t, "", "users", "list", "--api", apiURL, "--token", "wrong-token"); err == nil {
		t.Errorf("a wrong token was accepted")
	}
	resp, err := http.Get(apiURL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("readyz = %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestAPIRefusesOpenAddressWithoutToken: the API is not served on a
// non-loopback address unless a token is configured.
func TestAPIRefusesOpenAddressWithoutToken(t *testing.T) {
	t.Parallel()
	e := env{stderr: &bytes.Buffer{}, getenv: mapEnv(nil)}
	if _, err := parseConfig("serve", []string{"--api-listen", "0.0.0.0:8080"}, e); err == nil || !strings.Contains(err.Error(), "api-listen") {
		t.Errorf("no token on 0.0.0.0: %v", err)
	}
	if _, err := parseConfig("serve", []string{"--api-listen", "0.0.0.0:8080", "--api-token-hashes", api.HashToken("s3cr3t")}, e); err != nil {
		t.Errorf("with a token hash: %v", err)
	}
	if _, err := parseConfig("serve", []string{"--api-token-hashes", "md5:abc"}, e); err == nil || !strings.Contains(err.Error(), "api-token-hashes") {
		t.Errorf("bad token hash: %v", err)
	}
}

// TestServeMetricsAndEvents: a session moves the Prometheus counters served
// on the API listener, and a completed upload is POSTed, signed, to the
// configured webhook.
func TestServeMetricsAndEvents(t *testing.T) {
	t.Parallel()
	received := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		received <- r
		bodies <- b
	}))
	defer hook.Close()
	ftpAddr, out := startServe(t, "--data-dir", t.TempDir(), "--demo-password", "demo-pass-123",
		"--events-urls", hook.URL+"/hook", "--events-secret", "hook-secret")
	m := regexp.MustCompile(`admin API:\s+(http://\S+)/api/v1/`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no admin API line in:\n%s", out)
	}
	c, err := ftp.Dial(ftpAddr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("demo", "demo-pass-123"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("scan.pdf", strings.NewReader("%PDF-1.4 hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()

	select {
	case r := <-received:
		body := <-bodies
		if r.Header.Get("X-S3ftp-Event") != "upload" || !strings.Contains(string(body), `"key":"demo/scan.pdf"`) {
			t.Errorf("event %s %s", r.Header, body)
		}
		mac := hmac.New(sha256.New, []byte("hook-secret"))
		mac.Write([]byte(r.Header.Get("X-S3ftp-Timestamp") + "." + string(body)))
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-S3ftp-Signature") != want {
			t.Errorf("signature %q, want %q", r.Header.Get("X-S3ftp-Signature"), want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event received")
	}

	resp, err := http.Get(m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`s3ftp_sessions_total 1`,
		`s3ftp_logins_total{result="ok"} 1`,
		`s3ftp_transfers_total{op="upload",result="ok"} 1`,
		`s3ftp_transfer_bytes_total{direction="up"} 14`,
		`s3ftp_s3_request_duration_seconds_count{operation="PutObject"} 1`,
		`s3ftp_events_queued_total{type="upload"} 1`,
		`s3ftp_build_info{`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestUsageNamesEveryCommand: plain `s3ftp` lists every users command.
func TestUsageNamesEveryCommand(t *testing.T) {
	t.Parallel()
	_, err := runCmd(t, "")
	if err == nil {
		t.Fatal("s3ftp without a command succeeded")
	}
	for name := range userCommands {
		if !strings.Contains(err.Error(), "  s3ftp users "+name) {
			t.Errorf("usage lacks users %s:\n%s", name, err)
		}
	}
}
