package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

var _ auth.ActivityStore = (*Store)(nil)

// RecordActivity applies updates in one transaction; see
// auth.ActivityStore. Updates of users that do not exist are skipped.
func (s *Store) RecordActivity(ctx context.Context, updates []auth.ActivityUpdate) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: record activity: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for _, up := range updates {
		if err := recordOne(ctx, tx, up); err != nil {
			return fmt.Errorf("sqlite: record activity of %q: %w", up.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: record activity: %w", err)
	}
	return nil
}

// recordOne applies one update inside tx.
func recordOne(ctx context.Context, tx *sql.Tx, up auth.ActivityUpdate) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO user_activity (name)
		SELECT name FROM users WHERE name = ? ON CONFLICT (name) DO NOTHING`, up.Name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE name = ?`, up.Name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // deleted since: nothing to record
		}
		if err != nil {
			return err
		}
	}
	exec := func(query string, args ...any) {
		if err == nil {
			_, err = tx.ExecContext(ctx, query, args...)
		}
	}
	if l := up.Login; l != nil {
		at := formatTime(l.Time)
		exec(`UPDATE user_activity SET last_login_at = ?, last_login_addr = ?
			WHERE name = ? AND (last_login_at IS NULL OR last_login_at < ?)`, at, l.AddrText(), up.Name, at)
	}
	if f := up.Error; f != nil {
		at := formatTime(f.Time)
		exec(`UPDATE user_activity SET last_error_at = ?, last_error = ?
			WHERE name = ? AND (last_error_at IS NULL OR last_error_at < ?)`, at, f.Message, up.Name, at)
	}
	if len(up.Uploads) == 0 {
		return err
	}
	last := up.Uploads[len(up.Uploads)-1]
	at := formatTime(last.Time)
	exec(`UPDATE user_activity SET last_upload_at = ?, last_upload_path = ?, last_upload_size = ?
		WHERE name = ? AND (last_upload_at IS NULL OR last_upload_at < ?)`, at, last.Path, last.Size, up.Name, at)
	hour := last.Time.UTC().Truncate(time.Hour)
	exec(`INSERT INTO upload_hours (name, hour, uploads, bytes) VALUES (?, ?, ?, ?)
		ON CONFLICT (name, hour) DO UPDATE SET uploads = uploads + excluded.uploads, bytes = bytes + excluded.bytes`,
		up.Name, formatTime(hour), up.UploadCount, up.UploadBytes)
	exec(`DELETE FROM upload_hours WHERE name = ? AND hour < ?`, up.Name, formatTime(auth.ActivityWindowStart(last.Time)))
	for _, u := range up.Uploads {
		exec(`INSERT INTO recent_uploads (name, at, path, size) VALUES (?, ?, ?, ?)`,
			up.Name, formatTime(u.Time), u.Path, u.Size)
	}
	exec(`DELETE FROM recent_uploads WHERE name = ? AND id NOT IN
		(SELECT id FROM recent_uploads WHERE name = ? ORDER BY at DESC, id DESC LIMIT ?)`,
		up.Name, up.Name, auth.RecentUploads)
	return err
}

// activitySelect reads a user's name and activity summary; its first
// parameter is the window's start, in timeLayout.
const activitySelect = `SELECT u.name, a.last_login_at, coalesce(a.last_login_addr, ''),
	a.last_upload_at, coalesce(a.last_upload_path, ''), coalesce(a.last_upload_size, 0),
	a.last_error_at, coalesce(a.last_error, ''), coalesce(a.silent_notified, 0),
	(SELECT coalesce(sum(h.uploads), 0) FROM upload_hours h WHERE h.name = u.name AND h.hour >= ?1),
	(SELECT coalesce(sum(h.bytes), 0) FROM upload_hours h WHERE h.name = u.name AND h.hour >= ?1)
	FROM users u LEFT JOIN user_activity a ON a.name = u.name `

// GetActivity returns the activity of the user called name; see
// auth.ActivityStore. It returns an error wrapping auth.ErrNotFound if
// there is no such user.
func (s *Store) GetActivity(ctx context.Context, name string, now time.Time) (*auth.Activity, error) {
	row := s.db.QueryRowContext(ctx, activitySelect+`WHERE u.name = ?2`, formatTime(auth.ActivityWindowStart(now)), name)
	_, a, err := scanActivity(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get activity of %q: %w", name, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, path, size FROM recent_uploads
		WHERE name = ? ORDER BY at DESC, id DESC LIMIT ?`, name, auth.RecentUploads)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get activity of %q: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u  auth.Upload
			at string
		)
		if err := rows.Scan(&at, &u.Path, &u.Size); err != nil {
			return nil, fmt.Errorf("sqlite: get activity of %q: %w", name, err)
		}
		if u.Time, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("sqlite: get activity of %q: column at: %w", name, err)
		}
		a.Recent = append(a.Recent, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get activity of %q: %w", name, err)
	}
	return a, nil
}

// ListActivity returns the activity summaries of the users ListUsers(ctx,
// after, limit) would return; see auth.ActivityStore.
func (s *Store) ListActivity(ctx context.Context, after string, limit int, now time.Time) (map[string]*auth.Activity, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, activitySelect+`WHERE u.name > ?2 ORDER BY u.name LIMIT ?3`,
		formatTime(auth.ActivityWindowStart(now)), after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list activity: %w", err)
	}
	defer rows.Close()
	out := map[string]*auth.Activity{}
	for rows.Next() {
		name, a, err := scanActivity(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list activity: %w", err)
		}
		out[name] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list activity: %w", err)
	}
	return out, nil
}

// scanActivity reads one row of activitySelect.
func scanActivity(row interface{ Scan(...any) error }) (string, *auth.Activity, error) {
	var (
		name, loginAddr, path, msg string
		loginAt, uploadAt, errorAt sql.NullString
		size                       int64
		notified                   bool
		a                          auth.Activity
	)
	err := row.Scan(&name, &loginAt, &loginAddr, &uploadAt, &path, &size, &errorAt, &msg,
		&notified, &a.Uploads24h, &a.Bytes24h)
	if err != nil {
		return "", nil, err
	}
	a.SilentNotified = notified
	if loginAt.Valid {
		t, err := parseTime(loginAt.String)
		if err != nil {
			return "", nil, fmt.Errorf("user %q: column last_login_at: %w", name, err)
		}
		addr, _ := netip.ParseAddr(loginAddr) // "" stays the zero Addr
		a.LastLogin = &auth.Login{Time: t, Addr: addr}
	}
	if uploadAt.Valid {
		t, err := parseTime(uploadAt.String)
		if err != nil {
			return "", nil, fmt.Errorf("user %q: column last_upload_at: %w", name, err)
		}
		a.LastUpload = &auth.Upload{Time: t, Path: path, Size: size}
	}
	if errorAt.Valid {
		t, err := parseTime(errorAt.String)
		if err != nil {
			return "", nil, fmt.Errorf("user %q: column last_error_at: %w", name, err)
		}
		a.LastError = &auth.Failure{Time: t, Message: msg}
	}
	return name, &a, nil
}

// SetSilentNotified sets the user's silent_notified flag to to if it is
// !to, and reports whether it did; see auth.ActivityStore.
func (s *Store) SetSilentNotified(ctx context.Context, name string, to bool) (bool, error) {
	var (
		res sql.Result
		err error
	)
	if to {
		res, err = s.db.ExecContext(ctx, `INSERT INTO user_activity (name, silent_notified)
			SELECT name, 1 FROM users WHERE name = ?
			ON CONFLICT (name) DO UPDATE SET silent_notified = 1 WHERE user_activity.silent_notified = 0`, name)
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE user_activity SET silent_notified = 0
			WHERE name = ? AND silent_notified = 1`, name)
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: set silent_notified of %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: set silent_notified of %q: %w", name, err)
	}
	return n == 1, nil
}
