// Package e2e runs the built s3ftp binary with real FTP clients (curl, lftp,
// Python ftplib) against the embedded S3 store and against versitygw, and
// checks through the storage side what each operation left there.
//
// Every test starts its own `s3ftp serve` child process on 127.0.0.1:0; see
// README.md for what is needed and how to run it.
package e2e

import (
	"os"
	"testing"

	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// binary is the s3ftp binary that TestMain builds for every test.
var binary string

func TestMain(m *testing.M) {
	os.Exit(s3ftpbin.Main(m, &binary))
}
