package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema changes, in order; migration i+1 is
// migrations[i]. Append new ones; never edit or reorder applied ones. A
// migration may hold several statements.
var migrations = []string{
	// 1: users. Names sort in byte order (COLLATE "C"), whatever the
	// database's default collation, as auth.Store.ListUsers requires.
	// Permissions are a list of names ({list,upload}) and networks a cidr
	// list ({10.0.0.0/8,2001:db8::/32}): readable in psql, checked by the
	// server (a cidr has no host bits), and open to queries such as
	// inet '10.1.2.3' <<= ANY (allowed_networks).
	`CREATE TABLE users (
		name             text COLLATE "C" NOT NULL PRIMARY KEY,
		password_hash    text NOT NULL,
		bucket           text NOT NULL,
		prefix           text NOT NULL DEFAULT '',
		permissions      text[] NOT NULL DEFAULT '{}',
		allowed_networks cidr[] NOT NULL DEFAULT '{}',
		require_tls      boolean NOT NULL DEFAULT false,
		disabled         boolean NOT NULL DEFAULT false,
		description      text NOT NULL DEFAULT '',
		created_at       timestamptz NOT NULL DEFAULT now(),
		updated_at       timestamptz NOT NULL DEFAULT now()
	)`,
	// 2: upload expectations and activity. expect_upload_every is in
	// seconds (0: none). The activity of a user goes with it (ON DELETE
	// CASCADE); upload_hours keeps the uploads and bytes of each hour,
	// recent_uploads the newest uploads.
	`ALTER TABLE users ADD COLUMN expect_upload_every bigint NOT NULL DEFAULT 0 CHECK (expect_upload_every >= 0);
	CREATE TABLE user_activity (
		name             text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
		last_login_at    timestamptz,
		last_login_addr  text NOT NULL DEFAULT '',
		last_upload_at   timestamptz,
		last_upload_path text NOT NULL DEFAULT '',
		last_upload_size bigint NOT NULL DEFAULT 0,
		last_error_at    timestamptz,
		last_error       text NOT NULL DEFAULT '',
		silent_notified  boolean NOT NULL DEFAULT false
	);
	CREATE TABLE upload_hours (
		name    text COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
		hour    timestamptz NOT NULL,
		uploads bigint NOT NULL,
		bytes   bigint NOT NULL,
		PRIMARY KEY (name, hour)
	);
	CREATE TABLE recent_uploads (
		id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		name text COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
		at   timestamptz NOT NULL,
		path text NOT NULL,
		size bigint NOT NULL
	);
	CREATE INDEX recent_uploads_name_at ON recent_uploads (name, at)`,
}

// migrationLock is the key of the transaction-level advisory lock every
// migration transaction takes first: "s3ftpmig" in ASCII. Advisory locks
// are per database, so databases on one server do not wait for each other.
const migrationLock int64 = 0x7333_6674_706d_6967

// createMigrationsTable creates the table that records applied migrations.
const createMigrationsTable = `CREATE TABLE schema_migrations (
	version    integer NOT NULL PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// migrate applies the migrations the database lacks, each in its own
// transaction together with its row in schema_migrations. Every transaction
// first takes a transaction-level advisory lock (pg_advisory_xact_lock), so
// replicas starting at once wait for each other: each migration is applied
// exactly once and none fails. The lock is released by the transaction's
// end, also when it fails or its connection is lost, so it can never be
// left behind on a pooled connection as a session lock could. It returns an
// error if a migration fails or the database has a version newer than the
// last migration.
func (s *Store) migrate(ctx context.Context) error {
	for {
		done, err := s.migrateOne(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateOne applies the first migration the database lacks, creating
// schema_migrations first if need be, and reports done when it lacks none.
func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		// Not CREATE TABLE IF NOT EXISTS: that needs the right to create
		// tables even when the table exists.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			return fmt.Errorf("schema_migrations: %w", err)
		}
		if !exists {
			if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
				return fmt.Errorf("creating schema_migrations: %w", err)
			}
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("schema_migrations: %w", err)
		}
		switch {
		case current > len(migrations):
			return fmt.Errorf("database schema version %d is newer than this program's %d", current, len(migrations))
		case current == len(migrations):
			done = true
			return nil
		}
		version := current + 1
		if _, err := tx.Exec(ctx, migrations[current]); err != nil {
			return fmt.Errorf("migration %d: %w", version, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
			return fmt.Errorf("migration %d: %w", version, err)
		}
		return nil
	})
	return done, err
}
