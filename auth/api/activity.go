package api

import (
	"net/http"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// loginJSON is a user's last login.
type loginJSON struct {
	Time time.Time `json:"time"`
	Addr string    `json:"addr"` // "" when unknown
}

// uploadJSON is an upload.
type uploadJSON struct {
	Time time.Time `json:"time"`
	Path string    `json:"path"`
	Size int64     `json:"size"`
}

// failureJSON is a user's last error.
type failureJSON struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// activitySummaryJSON is a user's activity as the users list shows it.
// Absent events are null.
type activitySummaryJSON struct {
	LastLogin  *loginJSON   `json:"last_login"`
	LastUpload *uploadJSON  `json:"last_upload"`
	LastError  *failureJSON `json:"last_error"`
	Uploads24h int64        `json:"uploads_24h"`
	Bytes24h   int64        `json:"bytes_24h"`
	Silent     bool         `json:"silent"`
}

// activityJSON is the body of GET /api/v1/users/{name}/activity: the
// summary and the recent uploads, newest first ([] when none).
type activityJSON struct {
	activitySummaryJSON
	Recent []uploadJSON `json:"recent"`
}

// toActivitySummaryJSON returns the API form of a, the activity of u at now.
// A nil a is a user with no activity.
func toActivitySummaryJSON(u *auth.User, a *auth.Activity, now time.Time) activitySummaryJSON {
	if a == nil {
		a = &auth.Activity{}
	}
	j := activitySummaryJSON{Uploads24h: a.Uploads24h, Bytes24h: a.Bytes24h, Silent: a.Silent(u, now)}
	if l := a.LastLogin; l != nil {
		j.LastLogin = &loginJSON{Time: l.Time.UTC(), Addr: l.AddrText()}
	}
	if up := a.LastUpload; up != nil {
		j.LastUpload = &uploadJSON{Time: up.Time.UTC(), Path: up.Path, Size: up.Size}
	}
	if f := a.LastError; f != nil {
		j.LastError = &failureJSON{Time: f.Time.UTC(), Message: f.Message}
	}
	return j
}

// getActivity serves GET /api/v1/users/{name}/activity.
func (s *server) getActivity(r *http.Request) (response, error) {
	now := time.Now()
	u, a, err := s.cfg.Manager.Activity(r.Context(), r.PathValue("name"), now)
	if err != nil {
		return response{}, err
	}
	j := activityJSON{activitySummaryJSON: toActivitySummaryJSON(u, a, now), Recent: make([]uploadJSON, len(a.Recent))}
	for i, up := range a.Recent {
		j.Recent[i] = uploadJSON{Time: up.Time.UTC(), Path: up.Path, Size: up.Size}
	}
	return response{body: j, user: u.Name}, nil
}
