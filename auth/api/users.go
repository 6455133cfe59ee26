package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// Page sizes of GET /api/v1/users.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// usersPath is where the users are; a user is at usersPath/NAME.
const usersPath = "/api/v1/users"

// listUsers serves GET /api/v1/users?limit=N&after=NAME: up to limit users
// (default 100, at most 1000) whose names sort after after, in name order,
// and "next", the name to pass as after for the next page, only if more
// users follow. Unknown query parameters are a 400.
func (s *server) listUsers(r *http.Request) (response, error) {
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "after" {
			return response{}, badRequest(k, "unknown query parameter")
		}
	}
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return response{}, badRequest("limit", "must be a whole number from 1 to "+strconv.Itoa(maxListLimit))
		}
		limit = n
	}
	// Names are stored in lower case; a cursor in another case would sort
	// apart from them.
	after := strings.ToLower(q.Get("after"))
	users, err := s.cfg.Manager.List(r.Context(), after, limit+1)
	if err != nil {
		return response{}, err
	}
	now := time.Now()
	activity, err := s.cfg.Manager.ListActivity(r.Context(), after, limit+1, now)
	if err != nil {
		return response{}, err
	}
	page := userListJSON{Users: make([]userJSON, 0, min(len(users), limit)), Activity: map[string]activitySummaryJSON{}}
	if len(users) > limit {
		users = users[:limit]
		page.Next = users[limit-1].Name
	}
	for _, u := range users {
		page.Users = append(page.Users, toUserJSON(u))
		page.Activity[u.Name] = toActivitySummaryJSON(u, activity[u.Name], now)
	}
	return response{body: page}, nil
}

// getUser serves GET /api/v1/users/{name}.
func (s *server) getUser(r *http.Request) (response, error) {
	u, err := s.cfg.Manager.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return response{}, err
	}
	return response{body: toUserJSON(u)}, nil
}

// createUser serves POST /api/v1/users: the body is a user with its name
// and a password or password_hash; the answer is 201 with the user and its
// Location.
func (s *server) createUser(r *http.Request) (response, error) {
	var in userInput
	if err := decode(r, &in); err != nil {
		return response{}, err
	}
	p, err := in.patch()
	if err != nil {
		return response{user: in.Name.v}, err
	}
	if !in.Name.set {
		return response{}, &auth.FieldError{Field: "name", Message: "is required"}
	}
	u, err := s.cfg.Manager.Create(r.Context(), in.Name.v, p)
	if err != nil {
		return response{user: in.Name.v}, err
	}
	return response{
		status:   http.StatusCreated,
		body:     toUserJSON(u),
		user:     u.Name,
		location: usersPath + "/" + url.PathEscape(u.Name),
	}, nil
}

// replaceUser serves PUT /api/v1/users/{name}: every field takes the value
// in the body or, if absent, its zero value; the password is kept unless the
// body gives one. The user must exist.
func (s *server) replaceUser(r *http.Request) (response, error) {
	return s.change(r, s.cfg.Manager.Replace)
}

// updateUser serves PATCH /api/v1/users/{name}: the fields in the body
// change, the others keep their value.
func (s *server) updateUser(r *http.Request) (response, error) {
	return s.change(r, s.cfg.Manager.Update)
}

// change decodes a PUT or PATCH body and applies it with apply. A name in
// the body must be the one in the path (in any case).
func (s *server) change(r *http.Request, apply func(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error)) (response, error) {
	name := r.PathValue("name")
	var in userInput
	if err := decode(r, &in); err != nil {
		return response{}, err
	}
	p, err := in.patch()
	if err != nil {
		return response{}, err
	}
	if in.Name.set {
		if err := sameName(in.Name.v, name); err != nil {
			return response{}, err
		}
	}
	u, err := apply(r.Context(), name, p)
	if err != nil {
		return response{}, err
	}
	return response{body: toUserJSON(u)}, nil
}

// sameName returns a *auth.FieldError for "name" unless body and path name
// the same user.
func sameName(body, path string) error {
	b, err := auth.NormalizeName(body)
	if err != nil {
		return err
	}
	p, err := auth.NormalizeName(path)
	if err != nil {
		return err
	}
	if b != p {
		return &auth.FieldError{Field: "name", Message: "must be the name in the path (users cannot be renamed)"}
	}
	return nil
}

// setPassword serves POST /api/v1/users/{name}/password with
// {"password": "..."} or {"password_hash": "..."}; it answers 204.
func (s *server) setPassword(r *http.Request) (response, error) {
	var in passwordInput
	if err := decode(r, &in); err != nil {
		return response{}, err
	}
	if err := s.cfg.Manager.SetPassword(r.Context(), r.PathValue("name"), in.Password, in.PasswordHash); err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}

// deleteUser serves DELETE /api/v1/users/{name}; it answers 204. The
// user's files stay in S3.
func (s *server) deleteUser(r *http.Request) (response, error) {
	if err := s.cfg.Manager.Delete(r.Context(), r.PathValue("name")); err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}
