package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema changes, in order; migration i+1 is
// migrations[i]. Append new ones; never edit or reorder applied ones.
var migrations = []string{
	// 1: users. Permissions and allowed_networks are comma separated text
	// (e.g. "list,upload", "10.0.0.0/8,2001:db8::/32") so the file stays
	// readable with the sqlite3 shell. Times are UTC text in timeLayout.
	`CREATE TABLE users (
		name             TEXT NOT NULL PRIMARY KEY,
		password_hash    TEXT NOT NULL,
		bucket           TEXT NOT NULL,
		prefix           TEXT NOT NULL DEFAULT '',
		permissions      TEXT NOT NULL DEFAULT '',
		allowed_networks TEXT NOT NULL DEFAULT '',
		require_tls      INTEGER NOT NULL DEFAULT 0 CHECK (require_tls IN (0, 1)),
		disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
		description      TEXT NOT NULL DEFAULT '',
		created_at       TEXT NOT NULL,
		updated_at       TEXT NOT NULL
	) STRICT`,
	// 2: upload expectations and activity. expect_upload_every is in
	// seconds (0: none). The activity of a user goes with it (ON DELETE
	// CASCADE); upload_hours keeps the uploads and bytes of each hour (the
	// hour's start in timeLayout), recent_uploads the newest uploads.
	`ALTER TABLE users ADD COLUMN expect_upload_every INTEGER NOT NULL DEFAULT 0 CHECK (expect_upload_every >= 0);
	CREATE TABLE user_activity (
		name             TEXT NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
		last_login_at    TEXT,
		last_login_addr  TEXT NOT NULL DEFAULT '',
		last_upload_at   TEXT,
		last_upload_path TEXT NOT NULL DEFAULT '',
		last_upload_size INTEGER NOT NULL DEFAULT 0,
		last_error_at    TEXT,
		last_error       TEXT NOT NULL DEFAULT '',
		silent_notified  INTEGER NOT NULL DEFAULT 0 CHECK (silent_notified IN (0, 1))
	) STRICT;
	CREATE TABLE upload_hours (
		name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
		hour    TEXT NOT NULL,
		uploads INTEGER NOT NULL,
		bytes   INTEGER NOT NULL,
		PRIMARY KEY (name, hour)
	) STRICT;
	CREATE TABLE recent_uploads (
		id   INTEGER PRIMARY KEY,
		name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
		at   TEXT NOT NULL,
		path TEXT NOT NULL,
		size INTEGER NOT NULL
	) STRICT;
	CREATE INDEX recent_uploads_name_at ON recent_uploads (name, at)`,
}

// createMigrationsTable creates the table that records applied migrations.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at TEXT NOT NULL
) STRICT`

// migrate applies the migrations the database lacks, each in its own
// transaction together with its row in schema_migrations. Transactions take
// the write lock at BEGIN (_txlock=immediate), so processes opening the same
// file at once apply each migration exactly once. It returns an error if the
// database has a version newer than the last migration.
func (s *Store) migrate(ctx context.Context) error {
	for i, m := range migrations {
		if err := s.applyMigration(ctx, i+1, m); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}

// applyMigration runs migration version with SQL stmt unless the database
// already has it, or has a newer one than this program knows.
func (s *Store) applyMigration(ctx context.Context, version int, stmt string) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// Inside the write transaction, so that concurrent Opens wait for each
	// other rather than race to create it.
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current.Int64 > int64(len(migrations)) {
		return fmt.Errorf("database schema version %d is newer than this program's %d", current.Int64, len(migrations))
	}
	if current.Int64 >= int64(version) {
		return tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, formatTime(time.Now()))
	if err != nil {
		return err
	}
	return tx.Commit()
}
