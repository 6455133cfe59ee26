package auth

import (
	"context"
	"net/netip"
	"time"
)

// RecentUploads is how many uploads per user an ActivityStore keeps for
// Activity.Recent: the newest ones.
const RecentUploads = 20

// Login is a successful FTP login.
type Login struct {
	Time time.Time  // UTC, whole microseconds once stored
	Addr netip.Addr // the client's address
}

// AddrText is how a store keeps the client's address: "" for none.
func (l *Login) AddrText() string {
	if !l.Addr.IsValid() {
		return ""
	}
	return l.Addr.String()
}

// ActivityWindowStart is the first hour counted in the 24 hours before now
// (Activity.Uploads24h): the start of the current hour, less 23 hours.
func ActivityWindowStart(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(-23 * time.Hour)
}

// Upload is a completed upload.
type Upload struct {
	Time time.Time // UTC, whole microseconds once stored
	Path string    // the FTP path the client used, relative to its home
	Size int64     // bytes stored
}

// Failure is the last error a user's session met (a failed transfer or
// command), as shown to an administrator.
type Failure struct {
	Time    time.Time
	Message string // what failed, without internal details
}

// Activity is what a user's devices did, as the gateways sharing a store
// recorded it. The zero Activity is a user never seen.
type Activity struct {
	LastLogin  *Login   // nil: never logged in
	LastUpload *Upload  // nil: never uploaded
	LastError  *Failure // nil: no error recorded
	// Uploads24h and Bytes24h count the uploads of the current hour and
	// the 23 before it (counts are kept per hour).
	Uploads24h int64
	Bytes24h   int64
	// Recent holds the newest uploads, newest first, at most
	// RecentUploads; only GetActivity fills it in.
	Recent []Upload
	// SilentNotified is set while a user.silent event has been announced
	// and no user.resumed since (see ActivityStore.SetSilentNotified).
	SilentNotified bool
}

// Silent reports whether the user u, with this activity, is silent at now:
// it expects uploads (ExpectUploadEvery > 0), is not disabled, and its last
// upload (or, if it never uploaded, its creation) is more than
// ExpectUploadEvery before now.
func (a *Activity) Silent(u *User, now time.Time) bool {
	if u.ExpectUploadEvery <= 0 || u.Disabled {
		return false
	}
	since := u.CreatedAt
	if a != nil && a.LastUpload != nil && a.LastUpload.Time.After(since) {
		since = a.LastUpload.Time
	}
	return now.Sub(since) > u.ExpectUploadEvery
}

// ActivityUpdate is what happened to one user since the last update, as a
// gateway sends it in a batch. Nil and empty fields change nothing.
type ActivityUpdate struct {
	Name  string
	Login *Login
	Error *Failure
	// Uploads are the newest uploads of the batch, oldest first (at most
	// RecentUploads are kept of them).
	Uploads []Upload
	// UploadCount and UploadBytes count every upload of the batch, also
	// those not in Uploads. They are added to the hour of the last upload.
	UploadCount int64
	UploadBytes int64
}

// ActivityStore is the capability of a Store that keeps the activity of its
// users, shared by every gateway using the store. Both stores of this
// module have it; callers find it by type assertion. Its methods are safe
// for concurrent use, also by several processes.
type ActivityStore interface {
	// RecordActivity applies the updates in one transaction: a login, an
	// upload or an error replaces the last one only if it is newer;
	// uploads are added to the hourly counts and to the recent uploads
	// (the oldest beyond RecentUploads are dropped, as are hourly counts
	// older than 24 hours). Updates of users that do not exist (any
	// more) are skipped. It returns the store's error, or ctx's.
	RecordActivity(ctx context.Context, updates []ActivityUpdate) error
	// GetActivity returns the activity of the user called name, with
	// Recent, counting the last 24 hours before now. A user with no
	// activity has the zero Activity. It returns an error wrapping
	// ErrNotFound if there is no such user.
	GetActivity(ctx context.Context, name string, now time.Time) (*Activity, error)
	// ListActivity returns the activity (without Recent) of the users
	// ListUsers(ctx, after, limit) would return, keyed by name; users
	// with no activity may be missing from the map.
	ListActivity(ctx context.Context, after string, limit int, now time.Time) (map[string]*Activity, error)
	// SetSilentNotified sets the user's SilentNotified flag to to if it is
	// !to now, and reports whether it changed it: of several gateways
	// trying at once exactly one sees true, and only it announces the
	// change. It returns false (and no error) for a user that does not
	// exist.
	SetSilentNotified(ctx context.Context, name string, to bool) (bool, error)
}
