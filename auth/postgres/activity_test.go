package postgres

import (
	"testing"

	"github.com/s3ftp/s3ftp/auth/authtest"
	"github.com/s3ftp/s3ftp/test/pgtest"
)

func testActivityConformance(t *testing.T, srv *pgtest.Server) {
	authtest.TestActivity(t, func(t *testing.T) authtest.ActivityStore {
		s, err := Open(t.Context(), srv.NewDatabase(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// testSharedActivity opens two stores on one database: two gateways
// sharing one PostgreSQL.
func testSharedActivity(t *testing.T, srv *pgtest.Server) {
	a, dbURL := openNew(t, srv)
	b, err := Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	authtest.TestSharedActivity(t, a, b)
}
