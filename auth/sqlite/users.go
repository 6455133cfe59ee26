package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// timeLayout is how times are stored: UTC with exactly six fractional digits,
// so the text sorts in time order and holds what PostgreSQL can.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// userColumns are the columns scanUser reads, in its order.
const userColumns = `name, password_hash, bucket, prefix, permissions, allowed_networks,
	require_tls, disabled, description, created_at, updated_at, expect_upload_every`

// GetUser returns the user called name, or an error wrapping auth.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (*auth.User, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns up to limit users (all if limit <= 0) whose names sort
// after after, in byte order of their names.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]*auth.User, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE name > ? ORDER BY name LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	users := []*auth.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return users, nil
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count users: %w", err)
	}
	return n, nil
}

// CreateUser inserts u and sets u.CreatedAt and u.UpdatedAt to the current
// time (UTC, whole microseconds). It returns an error wrapping auth.ErrExists
// if the name is taken.
func (s *Store) CreateUser(ctx context.Context, u *auth.User) error {
	now := now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Name, u.PasswordHash, u.Bucket, u.Prefix, u.Permissions.String(),
		formatNetworks(u.AllowedNetworks), u.RequireTLS, u.Disabled, u.Description,
		formatTime(now), formatTime(now), seconds(u.ExpectUploadEvery))
	if isUniqueViolation(err) {
		return fmt.Errorf("user %q: %w", u.Name, auth.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user %q: %w", u.Name, err)
	}
	u.CreatedAt, u.UpdatedAt = now, now
	return nil
}

// UpdateUser replaces every field of the user called u.Name but its
// creation time, sets u.UpdatedAt to the current time and u.CreatedAt to the
// stored one. It returns an error wrapping auth.ErrNotFound if there is no
// such user.
func (s *Store) UpdateUser(ctx context.Context, u *auth.User) error {
	now := now()
	var created string
	err := s.db.QueryRowContext(ctx, `UPDATE users SET
		password_hash = ?, bucket = ?, prefix = ?, permissions = ?, allowed_networks = ?,
		require_tls = ?, disabled = ?, description = ?, updated_at = ?, expect_upload_every = ?
		WHERE name = ? RETURNING created_at`,
		u.PasswordHash, u.Bucket, u.Prefix, u.Permissions.String(),
		formatNetworks(u.AllowedNetworks), u.RequireTLS, u.Disabled, u.Description,
		formatTime(now), seconds(u.ExpectUploadEvery), u.Name).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %q: %w", u.Name, auth.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update user %q: %w", u.Name, err)
	}
	createdAt, err := parseTime(created)
	if err != nil {
		return fmt.Errorf("sqlite: update user %q: created_at: %w", u.Name, err)
	}
	u.CreatedAt, u.UpdatedAt = createdAt, now
	return nil
}

// DeleteUser removes the user called name, or returns an error wrapping
// auth.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("sqlite: delete user %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: delete user %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	return nil
}

// scanUser reads one row of userColumns. A value it cannot decode is an
// error naming the column.
func scanUser(row interface{ Scan(...any) error }) (*auth.User, error) {
	var (
		u                    auth.User
		perms, networks      string
		createdAt, updatedAt string
		requireTLS, disabled bool
		expect               int64
	)
	err := row.Scan(&u.Name, &u.PasswordHash, &u.Bucket, &u.Prefix, &perms, &networks,
		&requireTLS, &disabled, &u.Description, &createdAt, &updatedAt, &expect)
	if err != nil {
		return nil, err
	}
	u.RequireTLS, u.Disabled = requireTLS, disabled
	if u.Permissions, err = auth.ParsePermissions(strings.Split(perms, ",")); err != nil {
		return nil, fmt.Errorf("user %q: column permissions: %w", u.Name, err)
	}
	if u.AllowedNetworks, err = parseNetworks(networks); err != nil {
		return nil, fmt.Errorf("user %q: column allowed_networks: %w", u.Name, err)
	}
	u.ExpectUploadEvery = time.Duration(expect) * time.Second
	if err := auth.ValidateExpectUploadEvery(u.ExpectUploadEvery); err != nil {
		return nil, fmt.Errorf("user %q: column expect_upload_every: %w", u.Name, err)
	}
	if u.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, fmt.Errorf("user %q: column created_at: %w", u.Name, err)
	}
	if u.UpdatedAt, err = parseTime(updatedAt); err != nil {
		return nil, fmt.Errorf("user %q: column updated_at: %w", u.Name, err)
	}
	return &u, nil
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// now returns the current time as the store keeps it: UTC, whole microseconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// seconds returns d in whole seconds, as expect_upload_every holds it.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// formatNetworks joins networks with commas.
func formatNetworks(networks []netip.Prefix) string {
	s := make([]string, len(networks))
	for i, n := range networks {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

// parseNetworks parses what formatNetworks wrote; "" is no networks.
func parseNetworks(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	networks := make([]netip.Prefix, len(parts))
	for i, p := range parts {
		n, err := netip.ParsePrefix(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		networks[i] = n
	}
	return networks, nil
}
