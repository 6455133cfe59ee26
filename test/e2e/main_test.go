// Package e2e runs the built s3ftp binary with real FTP clients (curl, lftp,
// Python ftplib) against the embedded S3 store and against versitygw, and
// checks through the storage side what each operation left there.
//
// Every test starts its own `s3ftp serve` child process on 127.0.0.1:0; see
// README.md for what is needed and how to run it.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// binary is the s3ftp binary that TestMain builds for every test.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests builds the binary into a temporary directory, runs the tests and
// removes the directory.
func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "s3ftp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "s3ftp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "github.com/s3ftp/s3ftp/cmd/s3ftp")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build ./cmd/s3ftp:", err)
		return 1
	}
	return m.Run()
}
