package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/s3ftp/s3ftp/auth"
)

var _ auth.ActivityStore = (*Store)(nil)

// RecordActivity applies updates in one transaction; see
// auth.ActivityStore. Updates of users that do not exist are skipped.
// Times are stored in whole microseconds (truncated).
func (s *Store) RecordActivity(ctx context.Context, updates []auth.ActivityUpdate) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, up := range updates {
			if err := recordOne(ctx, tx, up); err != nil {
				return fmt.Errorf("of %q: %w", up.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: record activity: %w", err)
	}
	return nil
}

// recordOne applies one update inside tx.
func recordOne(ctx context.Context, tx pgx.Tx, up auth.ActivityUpdate) error {
	var exists bool
	err := tx.QueryRow(ctx, `WITH ins AS (INSERT INTO user_activity (name)
		SELECT name FROM users WHERE name = $1 ON CONFLICT (name) DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)`, up.Name).Scan(&exists)
	if err != nil || !exists {
		return err // !exists: deleted since, nothing to record
	}
	b := &pgx.Batch{}
	if l := up.Login; l != nil {
		b.Queue(`UPDATE user_activity SET last_login_at = $2, last_login_addr = $3
			WHERE name = $1 AND (last_login_at IS NULL OR last_login_at < $2)`, up.Name, micro(l.Time), l.AddrText())
	}
	if f := up.Error; f != nil {
		b.Queue(`UPDATE user_activity SET last_error_at = $2, last_error = $3
			WHERE name = $1 AND (last_error_at IS NULL OR last_error_at < $2)`, up.Name, micro(f.Time), f.Message)
	}
	if len(up.Uploads) > 0 {
		last := up.Uploads[len(up.Uploads)-1]
		b.Queue(`UPDATE user_activity SET last_upload_at = $2, last_upload_path = $3, last_upload_size = $4
			WHERE name = $1 AND (last_upload_at IS NULL OR last_upload_at < $2)`, up.Name, micro(last.Time), last.Path, last.Size)
		b.Queue(`INSERT INTO upload_hours (name, hour, uploads, bytes) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name, hour) DO UPDATE SET uploads = upload_hours.uploads + excluded.uploads,
			bytes = upload_hours.bytes + excluded.bytes`,
			up.Name, last.Time.UTC().Truncate(time.Hour), up.UploadCount, up.UploadBytes)
		b.Queue(`DELETE FROM upload_hours WHERE name = $1 AND hour < $2`, up.Name, auth.ActivityWindowStart(last.Time))
		for _, u := range up.Uploads {
			b.Queue(`INSERT INTO recent_uploads (name, at, path, size) VALUES ($1, $2, $3, $4)`,
				up.Name, micro(u.Time), u.Path, u.Size)
		}
		b.Queue(`DELETE FROM recent_uploads WHERE name = $1 AND id NOT IN
			(SELECT id FROM recent_uploads WHERE name = $1 ORDER BY at DESC, id DESC LIMIT $2)`,
			up.Name, auth.RecentUploads)
	}
	return tx.SendBatch(ctx, b).Close()
}

// micro returns t in UTC truncated to microseconds: PostgreSQL would round.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// activitySelect reads a user's name and activity summary; $1 is the
// window's start.
const activitySelect = `SELECT u.name, a.last_login_at, coalesce(a.last_login_addr, ''),
	a.last_upload_at, coalesce(a.last_upload_path, ''), coalesce(a.last_upload_size, 0),
	a.last_error_at, coalesce(a.last_error, ''), coalesce(a.silent_notified, false),
	coalesce(h.uploads, 0), coalesce(h.bytes, 0)
	FROM users u LEFT JOIN user_activity a ON a.name = u.name
	LEFT JOIN LATERAL (SELECT sum(uploads)::bigint AS uploads, sum(bytes)::bigint AS bytes
		FROM upload_hours WHERE name = u.name AND hour >= $1) h ON true `

// GetActivity returns the activity of the user called name; see
// auth.ActivityStore. It returns an error wrapping auth.ErrNotFound if
// there is no such user.
func (s *Store) GetActivity(ctx context.Context, name string, now time.Time) (*auth.Activity, error) {
	_, a, err := scanActivity(s.pool.QueryRow(ctx, activitySelect+`WHERE u.name = $2`, auth.ActivityWindowStart(now), name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, auth.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get activity of %q: %w", name, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT at, path, size FROM recent_uploads
		WHERE name = $1 ORDER BY at DESC, id DESC LIMIT $2`, name, auth.RecentUploads)
	if err != nil {
		return nil, fmt.Errorf("postgres: get activity of %q: %w", name, err)
	}
	a.Recent, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (auth.Upload, error) {
		var u auth.Upload
		err := row.Scan(&u.Time, &u.Path, &u.Size)
		u.Time = u.Time.UTC()
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: get activity of %q: %w", name, err)
	}
	if len(a.Recent) == 0 {
		a.Recent = nil
	}
	return a, nil
}

// ListActivity returns the activity summaries of the users ListUsers(ctx,
// after, limit) would return; see auth.ActivityStore.
func (s *Store) ListActivity(ctx context.Context, after string, limit int, now time.Time) (map[string]*auth.Activity, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx, activitySelect+`WHERE u.name > $2 ORDER BY u.name LIMIT $3`,
		auth.ActivityWindowStart(now), after, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: list activity: %w", err)
	}
	defer rows.Close()
	out := map[string]*auth.Activity{}
	for rows.Next() {
		name, a, err := scanActivity(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list activity: %w", err)
		}
		out[name] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list activity: %w", err)
	}
	return out, nil
}

// scanActivity reads one row of activitySelect.
func scanActivity(row pgx.Row) (string, *auth.Activity, error) {
	var (
		name, loginAddr, path, msg string
		loginAt, uploadAt, errorAt *time.Time
		size                       int64
		a                          auth.Activity
	)
	err := row.Scan(&name, &loginAt, &loginAddr, &uploadAt, &path, &size, &errorAt, &msg,
		&a.SilentNotified, &a.Uploads24h, &a.Bytes24h)
	if err != nil {
		return "", nil, err
	}
	if loginAt != nil {
		addr, _ := netip.ParseAddr(loginAddr) // "" stays the zero Addr
		a.LastLogin = &auth.Login{Time: loginAt.UTC(), Addr: addr}
	}
	if uploadAt != nil {
		a.LastUpload = &auth.Upload{Time: uploadAt.UTC(), Path: path, Size: size}
	}
	if errorAt != nil {
		a.LastError = &auth.Failure{Time: errorAt.UTC(), Message: msg}
	}
	return name, &a, nil
}

// SetSilentNotified sets the user's silent_notified flag to to if it is
// !to, and reports whether it did; see auth.ActivityStore.
func (s *Store) SetSilentNotified(ctx context.Context, name string, to bool) (bool, error) {
	query := `UPDATE user_activity SET silent_notified = false WHERE name = $1 AND silent_notified`
	if to {
		query = `INSERT INTO user_activity (name, silent_notified) SELECT name, true FROM users WHERE name = $1
			ON CONFLICT (name) DO UPDATE SET silent_notified = true WHERE NOT user_activity.silent_notified`
	}
	tag, err := s.pool.Exec(ctx, query, name)
	if err != nil {
		return false, fmt.Errorf("postgres: set silent_notified of %q: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}
