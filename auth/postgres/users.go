package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/s3ftp/s3ftp/auth"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// userColumns are the columns scanUser reads, in its order.
const userColumns = `name, password_hash, bucket, prefix, permissions, allowed_networks,
	require_tls, disabled, description, created_at, updated_at, expect_upload_every`

// GetUser returns the user called name, or an error wrapping auth.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (*auth.User, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name)
	u, err := scanUser(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns up to limit users (all if limit <= 0) whose names sort
// after after, in byte order of their names.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]*auth.User, error) {
	var lim any // LIMIT NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+userColumns+` FROM users WHERE name > $1 ORDER BY name LIMIT $2`, after, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*auth.User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return users, nil
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count users: %w", err)
	}
	return n, nil
}

// CreateUser inserts u and sets u.CreatedAt and u.UpdatedAt to the database
// server's current time (UTC, whole microseconds): one clock for every
// replica, so their times agree. It returns an error
// wrapping auth.ErrExists if the name is taken, and an *auth.FieldError if
// the description holds a NUL character, which PostgreSQL text cannot.
func (s *Store) CreateUser(ctx context.Context, u *auth.User) error {
	if err := checkText(u); err != nil {
		return err
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now(), $10)
		RETURNING created_at, updated_at`,
		u.Name, u.PasswordHash, u.Bucket, u.Prefix, u.Permissions.Names(),
		networks(u.AllowedNetworks), u.RequireTLS, u.Disabled, u.Description,
		int64(u.ExpectUploadEvery/time.Second),
	).Scan(&u.CreatedAt, &u.UpdatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("user %q: %w", u.Name, auth.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("postgres: create user %q: %w", u.Name, err)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return nil
}

// UpdateUser replaces every field of the user called u.Name but its
// creation time, sets u.UpdatedAt to the database server's current time and
// u.CreatedAt to the stored one. It returns an error wrapping
// auth.ErrNotFound if there is no such user, and an *auth.FieldError if the
// description holds a NUL character.
func (s *Store) UpdateUser(ctx context.Context, u *auth.User) error {
	if err := checkText(u); err != nil {
		return err
	}
	err := s.pool.QueryRow(ctx, `UPDATE users SET
		password_hash = $2, bucket = $3, prefix = $4, permissions = $5, allowed_networks = $6,
		require_tls = $7, disabled = $8, description = $9, updated_at = now(),
		expect_upload_every = $10
		WHERE name = $1 RETURNING created_at, updated_at`,
		u.Name, u.PasswordHash, u.Bucket, u.Prefix, u.Permissions.Names(),
		networks(u.AllowedNetworks), u.RequireTLS, u.Disabled, u.Description,
		int64(u.ExpectUploadEvery/time.Second),
	).Scan(&u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("user %q: %w", u.Name, auth.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update user %q: %w", u.Name, err)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return nil
}

// DeleteUser removes the user called name, or returns an error wrapping
// auth.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("postgres: delete user %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	return nil
}

// scanUser reads one row of userColumns. A value it cannot decode is an
// error naming the column.
func scanUser(row pgx.Row) (*auth.User, error) {
	var (
		u        auth.User
		perms    []string
		networks []netip.Prefix
		expect   int64
	)
	err := row.Scan(&u.Name, &u.PasswordHash, &u.Bucket, &u.Prefix, &perms, &networks,
		&u.RequireTLS, &u.Disabled, &u.Description, &u.CreatedAt, &u.UpdatedAt, &expect)
	if err != nil {
		return nil, err
	}
	u.ExpectUploadEvery = time.Duration(expect) * time.Second
	if err := auth.ValidateExpectUploadEvery(u.ExpectUploadEvery); err != nil {
		return nil, fmt.Errorf("user %q: column expect_upload_every: %w", u.Name, err)
	}
	if u.Permissions, err = auth.ParsePermissions(perms); err != nil {
		return nil, fmt.Errorf("user %q: column permissions: %w", u.Name, err)
	}
	for _, n := range networks {
		if !n.IsValid() { // pgx reads a NULL element as the zero Prefix
			return nil, fmt.Errorf("user %q: column allowed_networks: NULL network", u.Name)
		}
	}
	if len(networks) > 0 {
		u.AllowedNetworks = networks
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// networks returns n, or an empty list for nil: pgx sends a nil slice as
// NULL, which allowed_networks refuses.
func networks(n []netip.Prefix) []netip.Prefix {
	if n == nil {
		return []netip.Prefix{}
	}
	return n
}

// checkText refuses what PostgreSQL text cannot hold but auth.User.Validate
// lets through: a NUL character, possible only in the description.
func checkText(u *auth.User) error {
	if strings.ContainsRune(u.Description, 0) {
		return &auth.FieldError{Field: "description", Message: "must not contain NUL characters"}
	}
	return nil
}

// isUniqueViolation reports whether err is PostgreSQL refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}
