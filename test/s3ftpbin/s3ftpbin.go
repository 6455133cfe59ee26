// Package s3ftpbin builds the s3ftp binary for tests that drive it as a
// separate process (test/e2e, test/devices) and runs its one-shot commands.
package s3ftpbin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// Build compiles github.com/s3ftp/s3ftp/cmd/s3ftp into dir and returns the
// binary's path. It builds inside the s3ftp module's own directory, so that
// its go.mod (and its replace of ftpserverlib) applies even when the caller
// is another module (helm/). It allows five minutes.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "s3ftp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/s3ftp/s3ftp").Output()
	if err != nil {
		return "", fmt.Errorf("locate module github.com/s3ftp/s3ftp: %w", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/s3ftp")
	build.Dir = strings.TrimSpace(string(out))
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/s3ftp: %w", err)
	}
	return bin, nil
}

// Main is a TestMain body: it builds the binary into a temporary directory,
// stores its path in *bin, runs the tests and removes the directory. It
// returns the exit code for os.Exit.
func Main(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "s3ftp-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Env returns the process environment without S3FTP_* variables (other
// than S3FTP_TEST_STRICT), so a developer's environment cannot change the
// configuration under test.
func Env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "S3FTP_") && !strings.HasPrefix(kv, s3test.StrictEnv+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Run runs bin with args and stdin, fails the test unless it exits with
// status 0 within 30 s, and returns its stdout.
func Run(t testing.TB, bin, stdin string, args ...string) string {
	t.Helper()
	return RunEnv(t, bin, nil, stdin, args...)
}

// RunEnv is Run with env (KEY=VALUE) added to the environment of Env.
func RunEnv(t testing.TB, bin string, env []string, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(Env(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("s3ftp %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// AddUser runs `s3ftp users add NAME --password-stdin` with password and
// args (--bucket, --data-dir...), and fails the test unless it reports the
// user added.
func AddUser(t testing.TB, bin, name, password string, args ...string) {
	t.Helper()
	out := Run(t, bin, password+"\n", append([]string{"users", "add", name, "--password-stdin"}, args...)...)
	if !strings.Contains(out, "added user "+name) {
		t.Fatalf("users add printed %q", out)
	}
}

// WriteConfig writes a test's serve configuration file and returns its
// path: FTP and the admin API on 127.0.0.1:0, any passive port, JSON logs,
// data in dataDir, the S3 service at endpoint (path style) with the given
// keys, then the "key: value" lines of extra.
func WriteConfig(t testing.TB, dataDir, endpoint, accessKey, secretKey string, extra ...string) string {
	t.Helper()
	config := filepath.Join(t.TempDir(), "s3ftp.yaml")
	yaml := fmt.Sprintf(`ftp-listen: 127.0.0.1:0
passive-ports: ""
api-listen: 127.0.0.1:0
data-dir: %q
s3-endpoint: %q
s3-path-style: true
s3-access-key: %q
s3-secret-key: %q
log-format: json
`, dataDir, endpoint, accessKey, secretKey)
	for _, line := range extra {
		yaml += line + "\n"
	}
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config
}

// Process is a running `s3ftp serve`.
type Process struct {
	Cmd    *exec.Cmd
	Addr   string          // FTP control address, 127.0.0.1:PORT, from the startup lines
	APIURL string          // the admin API's base URL, http://127.0.0.1:PORT, if it runs
	Stdout *syncbuf.Buffer // what the process printed
	Log    string          // the file receiving its JSON log (stderr)

	exited chan error // receives the result of Wait, put back by whoever takes it
	killed bool       // by Kill: the cleanup expects no exit status
}

// The startup lines that give the FTP address and the admin API's URL.
var (
	ftpLine = regexp.MustCompile(`(?m)^\s*FTP:\s+ftp://(\S+) `)
	apiLine = regexp.MustCompile(`(?m)^\s*admin API:\s+(http://\S+)/api/v1/ `)
)

// Start runs bin with args (a serve command line), waits up to 20 s for the
// FTP address on stdout, and registers a cleanup that stops it with SIGTERM
// (unless Kill killed it), fails the test unless it exits with status 0
// within 15 s, and shows the end of its log if the test failed. name labels
// it in failures.
func Start(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	return StartEnv(t, name, bin, nil, args...)
}

// StartEnv is Start with env (KEY=VALUE) added to the environment of Env.
func StartEnv(t testing.TB, name, bin string, env []string, args ...string) *Process {
	t.Helper()
	logFile, err := os.CreateTemp(t.TempDir(), "s3ftp-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Log: logFile.Name(), Stdout: &syncbuf.Buffer{}, Cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, logFile
	p.Cmd.Env = append(Env(), env...)
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start s3ftp: %v", err)
	}
	go func() { p.exited <- p.Cmd.Wait() }()
	t.Cleanup(func() {
		defer logFile.Close()
		if !p.killed {
			p.stop(t)
		}
		if t.Failed() {
			t.Logf("s3ftp serve (%s) stdout:\n%s\nlog (last lines):\n%s", name, p.Stdout, tail(p.ReadLog(), 60))
		}
	})
	deadline := time.After(20 * time.Second)
	for {
		if m := ftpLine.FindStringSubmatch(p.Stdout.String()); m != nil {
			p.Addr = m[1]
			break
		}
		select {
		case err := <-p.exited:
			p.exited <- err // for the cleanup
			t.Fatalf("s3ftp serve exited at start (%v)\nstdout:\n%s\nlog:\n%s", err, p.Stdout, p.ReadLog())
		case <-deadline:
			t.Fatalf("s3ftp serve printed no FTP address within 20 s\nstdout:\n%s\nlog:\n%s", p.Stdout, p.ReadLog())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if m := apiLine.FindStringSubmatch(p.Stdout.String()); m != nil {
		p.APIURL = m[1]
	}
	return p
}

// stop stops the process with SIGTERM and fails the test unless it exits
// with status 0 within 15 s.
func (p *Process) stop(t testing.TB) {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("s3ftp serve exited with %v after SIGTERM (want status 0)", err)
		}
	case <-time.After(15 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.exited
		t.Errorf("s3ftp serve did not stop within 15 s of SIGTERM")
	}
}

// Kill kills the process with SIGKILL, as a crash would, and waits until it
// has exited; the cleanup then expects nothing of it. It is for the test's
// goroutine only.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.killed = true
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatalf("kill s3ftp serve: %v", err)
	}
	err := <-p.exited
	p.exited <- err
}

// ReadLog returns what the process has logged so far.
func (p *Process) ReadLog() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
