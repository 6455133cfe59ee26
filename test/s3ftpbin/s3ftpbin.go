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
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// Build compiles github.com/s3ftp/s3ftp/cmd/s3ftp into dir and returns the
// binary's path. It allows five minutes.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "s3ftp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/s3ftp/s3ftp/cmd/s3ftp")
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Env()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("s3ftp %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
