// Package sqlite implements auth.Store on an SQLite database file, using the
// pure Go driver modernc.org/sqlite. It is the embedded default user store.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	msqlite "modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMillis is how long a statement waits for another connection's
// write lock before failing with SQLITE_BUSY.
const busyTimeoutMillis = 5000

// maxConns bounds the store's connections. SQLite writes one transaction at
// a time, and in WAL mode each connection holds a shared lock on the file, so
// the descriptor of a connection the pool closes stays open (SQLite keeps it
// for reuse) until every connection is closed: an unbounded pool kept as many
// descriptors as the most logins ever looked up at once (48 after a burst of
// 50 sessions in test/reliability's TestLoad).
const maxConns = 4

// Store is an auth.Store kept in one SQLite file. It is safe for concurrent
// use, also by several processes sharing the file.
type Store struct {
	db *sql.DB
}

var _ auth.Store = (*Store)(nil)

// Open opens the SQLite database at path and brings its schema up to date.
// It creates missing parent directories with mode 0700 and a missing file
// with mode 0600; an existing file keeps its mode. The database uses WAL
// journaling, a busy timeout and foreign keys. It returns an error if path is
// empty, the file cannot be created or opened, the file system cannot do WAL,
// or a migration fails, including when the file's schema is newer than this
// program knows.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// SQLite would create the file 0644; create it first so it is 0600. The
	// -wal and -shm files SQLite makes beside it copy its mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s := &Store{db: db}
	if err := s.enableWAL(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", abs, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", abs, err)
	}
	return s, nil
}

// enableWAL switches the database to WAL journaling. The mode is kept in the
// file, so only the first Open of a new file changes it. SQLite takes the
// exclusive lock this needs without calling the busy handler, so when other
// processes open the same new file at the same moment it retries, for up to
// the busy timeout. It returns an error if the file system cannot do WAL.
func (s *Store) enableWAL(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeoutMillis * time.Millisecond)
	for {
		var mode string
		err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		switch {
		case err == nil && mode != "wal":
			return fmt.Errorf("cannot use WAL journaling: journal mode is %q", mode)
		case err == nil:
			return nil
		case !isBusy(err) || time.Now().After(deadline):
			return fmt.Errorf("enabling WAL journaling: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, of any kind.
func isBusy(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// dsn returns the driver's data source name for the absolute path abs: a
// file: URI, so that "?", "#" and "%" in the path are escaped rather than
// taken for the start of the query, with the pragmas every connection runs
// (journal_mode is set once, by enableWAL). _txlock=immediate makes
// transactions take the write lock at BEGIN, so two writers wait on the busy
// timeout instead of failing to upgrade a read lock.
func dsn(abs string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	u.RawQuery = q.Encode()
	return u.String()
}

// Ping checks that the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the database, waiting for queries in progress to finish.
func (s *Store) Close() error {
	return s.db.Close()
}
