package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/s3ftp/s3ftp/auth/authtest"
)

func TestActivityConformance(t *testing.T) {
	t.Parallel()
	authtest.TestActivity(t, func(t *testing.T) authtest.ActivityStore { return openTemp(t) })
}

// TestSharedActivity opens one file twice, as two gateways on one host would.
func TestSharedActivity(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	a, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	authtest.TestSharedActivity(t, a, b)
}
