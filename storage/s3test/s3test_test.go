package s3test_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestWaitVersity: another HTTP server on the port does not pass for
// versitygw, and versitygw's "address already in use" sends the caller to
// another port; a running versitygw answers.
func TestWaitVersity(t *testing.T) {
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	log := filepath.Join(t.TempDir(), "versitygw.log")
	msg := "failed to bind s3 listener: listen tcp: bind: address already in use\n"
	if err := os.WriteFile(log, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	if s3test.WaitVersity(t, strings.TrimPrefix(other.URL, "http://"), log) {
		t.Fatal("another server on the port passed for versitygw")
	}

	srv := s3test.Versity(t)
	if !s3test.WaitVersity(t, strings.TrimPrefix(srv.Endpoint, "http://"), filepath.Join(t.TempDir(), "none.log")) {
		t.Fatal("a running versitygw did not answer")
	}
}
