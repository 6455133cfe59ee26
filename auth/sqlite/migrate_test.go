package sqlite

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/s3ftp/s3ftp/auth/authtest"
)

// versions returns the versions recorded in schema_migrations.
func versions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var v []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		v = append(v, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func checkVersions(t *testing.T, s *Store) {
	t.Helper()
	v := versions(t, s)
	if len(v) != len(migrations) {
		t.Fatalf("schema_migrations holds %v, want 1 to %d", v, len(migrations))
	}
	for i, n := range v {
		if n != i+1 {
			t.Fatalf("schema_migrations holds %v, want 1 to %d", v, len(migrations))
		}
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(t.Context(), authtest.MinimalUser(t, "kept")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	checkVersions(t, s)
	if _, err := s.GetUser(t.Context(), "kept"); err != nil {
		t.Fatalf("user lost on reopening: %v", err)
	}
}

func TestMigrateConcurrentOpens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	checkVersions(t, stores[0])
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	next := len(migrations) + 1
	if _, err := s.db.ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'later')`, next); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer program succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open error %q does not say the schema is newer", err)
	}
}
