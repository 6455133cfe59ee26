// Package postgres implements auth.Store on a PostgreSQL database, using
// jackc/pgx v5 and its connection pool. It is the store for several gateway
// replicas sharing one user base.
package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/s3ftp/s3ftp/auth"
)

// Store is an auth.Store kept in a PostgreSQL database. It is safe for
// concurrent use, also by several processes sharing the database.
type Store struct {
	pool *pgxpool.Pool
}

var _ auth.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at rawURL, of the form
// postgres://user:password@host:port/database?sslmode=... (pgx's pool_*
// parameters size the pool; settings missing from the URL come from the
// libpq environment: PGPASSWORD, PGSSLMODE, ...), and brings its schema up
// to date. Schema changes are versioned and each runs in a transaction that
// holds an advisory lock, so replicas may open the same database at once:
// each change is applied exactly once and the others wait for it. The first
// start needs the right to create tables; later ones do not. ctx bounds
// connecting and migrating, waiting included; the Store does not keep it.
//
// It returns an error if the URL cannot be parsed, the server cannot be
// reached or refuses the login, a migration fails, ctx ends, or the
// database's schema is newer than this program knows. No error holds the
// password: errors name the database by host, port and name, and a URL that
// cannot be parsed unambiguously is refused without the parser's message.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	cc := cfg.ConnConfig
	where := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))) + "/" + cc.Database
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	return s, nil
}

// Ping checks that the database can be reached, returning the error that
// prevents it (wrapping ctx's error if ctx ends first).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool, waiting for queries in
// progress to finish. It always returns nil.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
