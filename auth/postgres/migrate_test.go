package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/s3ftp/s3ftp/auth/authtest"
	"github.com/s3ftp/s3ftp/test/pgtest"
)

// TestMigrate runs the migration tests on one server, each subtest on
// databases of its own.
func TestMigrate(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	tests := []struct {
		name string
		test func(t *testing.T, srv *pgtest.Server)
	}{
		{"Twice", testMigrateTwice},
		{"ConcurrentOpens", testMigrateConcurrentOpens},
		{"RefusesNewerSchema", testMigrateRefusesNewerSchema},
		{"WaitsForLock", testMigrateWaitsForLock},
		{"RoleWithoutCreate", testMigrateRoleWithoutCreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, srv)
		})
	}
}

// versions returns the versions recorded in schema_migrations, one entry
// per row.
func versions(t *testing.T, dbURL string) []int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkVersions fails the test unless schema_migrations holds exactly one
// row for each migration.
func checkVersions(t *testing.T, dbURL string) {
	t.Helper()
	want := make([]int, len(migrations))
	for i := range want {
		want[i] = i + 1
	}
	if got := versions(t, dbURL); !slices.Equal(got, want) {
		t.Fatalf("schema_migrations holds %v, want %v", got, want)
	}
}

func testMigrateTwice(t *testing.T, srv *pgtest.Server) {
	s, dbURL := openNew(t, srv)
	if err := s.CreateUser(t.Context(), authtest.MinimalUser(t, "kept")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	checkVersions(t, dbURL)
	if _, err := s.GetUser(t.Context(), "kept"); err != nil {
		t.Fatalf("user lost on reopening: %v", err)
	}
}

// testMigrateConcurrentOpens opens new databases from several goroutines
// at once, as replicas starting together do, a few times over to give a
// race a chance to show.
func testMigrateConcurrentOpens(t *testing.T, srv *pgtest.Server) {
	const rounds, n = 3, 8
	for range rounds {
		dbURL := srv.NewDatabase(t)
		stores := make([]*Store, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = Open(t.Context(), dbURL)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				continue
			}
			stores[i].Close()
		}
		checkVersions(t, dbURL)
	}
}

func testMigrateRefusesNewerSchema(t *testing.T, srv *pgtest.Server) {
	s, dbURL := openNew(t, srv)
	if err := s.CreateUser(t.Context(), authtest.MinimalUser(t, "kept")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	exec(t, dbURL, `INSERT INTO schema_migrations (version) VALUES ($1)`, len(migrations)+1)
	s, err := Open(t.Context(), dbURL)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer program succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open error %q does not say the schema is newer", err)
	}
	// The refused database is left as it was.
	if got := versions(t, dbURL); len(got) != len(migrations)+1 {
		t.Errorf("schema_migrations holds %v after the refusal", got)
	}
}

// testMigrateWaitsForLock holds the migration lock in another transaction:
// Open waits for it until its context ends, and succeeds once it is free.
func testMigrateWaitsForLock(t *testing.T, srv *pgtest.Server) {
	dbURL := srv.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	s, err := Open(ctx, dbURL)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded while another transaction held the migration lock")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open while the lock is held = %v, want context.DeadlineExceeded", err)
	}

	opened := make(chan error, 1)
	go func() {
		s, err := Open(t.Context(), dbURL)
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("Open returned %v while the lock was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("Open after the lock was released: %v", err)
	}
	checkVersions(t, dbURL)
}

// testMigrateRoleWithoutCreate opens an up-to-date database as a role that
// may use the tables but not create any, as a replica with a restricted
// role does once another has migrated; on a new database that role gets a
// permission error.
func testMigrateRoleWithoutCreate(t *testing.T, srv *pgtest.Server) {
	role := "app_" + strings.ToLower(rand.Text()[:12]) // roles belong to the whole server
	_, migrated := openNew(t, srv)
	fresh := srv.NewDatabase(t)
	exec(t, migrated, `CREATE ROLE `+role+` LOGIN`)
	for _, dbURL := range []string{migrated, fresh} {
		exec(t, dbURL, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	}
	exec(t, migrated, `GRANT SELECT ON schema_migrations TO `+role)
	exec(t, migrated, `GRANT SELECT, INSERT, UPDATE, DELETE ON users TO `+role)
	asRole := func(dbURL string) string { return strings.Replace(dbURL, "//postgres@", "//"+role+"@", 1) }

	s, err := Open(t.Context(), asRole(migrated))
	if err != nil {
		t.Fatalf("Open of a migrated database as %s: %v", role, err)
	}
	defer s.Close()
	if err := s.CreateUser(t.Context(), authtest.MinimalUser(t, "a")); err != nil {
		t.Errorf("CreateUser as %s: %v", role, err)
	}
	s2, err := Open(t.Context(), asRole(fresh))
	if err == nil {
		s2.Close()
		t.Fatalf("Open of a new database as %s, which may not create tables, succeeded", role)
	}
	if !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Open of a new database as %s = %v, want permission denied", role, err)
	}
}
