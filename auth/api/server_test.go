package api_test

import (
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
)

func TestNewHandlerNeedsManager(t *testing.T) {
	t.Parallel()
	if h, err := api.NewHandler(api.Config{}); err == nil || h != nil {
		t.Errorf("NewHandler without a Manager = %v, %v; want an error", h, err)
	}
}

// TestUnknownRoutes checks the JSON answers for what the route table does
// not hold.
func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	s := newServer(t, openSQLite, nil)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/", 404, "route_not_found", ""},
		{"GET", "/api/v1/groups", 404, "route_not_found", ""},
		{"GET", "/api/v1/users/cam01/files", 404, "route_not_found", ""},
		{"GET", "/api/v1/users/cam01/password", 405, "method_not_allowed", "POST"},
		{"DELETE", "/api/v1/users", 405, "method_not_allowed", "GET, HEAD, POST"},
		{"POST", "/api/v1/users/cam01", 405, "method_not_allowed", "GET, HEAD, PUT, PATCH, DELETE"},
		{"POST", "/healthz", 405, "method_not_allowed", "GET, HEAD"},
	}
	for _, tt := range tests {
		r := s.do(t, tt.method, tt.path, writeToken, "")
		if e := r.apiError(t); r.status != tt.status || e.Code != tt.code || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d %+v Allow %q; want %d %s Allow %q", tt.method, tt.path, r.status, e, r.header.Get("Allow"), tt.status, tt.code, tt.allow)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, ct)
		}
	}
}

// TestResponseHeaders checks that every response, success or error, is JSON
// and not cached.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	s := newServer(t, openSQLite, nil)
	s.createUser(t, "cam01", auth.UserPatch{})
	for _, rq := range []struct{ method, path, token, body string }{
		{"GET", "/healthz", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/api/v1/users", writeToken, ""},
		{"GET", "/api/v1/users", "", ""},
		{"GET", "/api/v1/users/cam01", writeToken, ""},
		{"GET", "/api/v1/users/nobody", writeToken, ""},
		{"PATCH", "/api/v1/users/cam01", writeToken, `{"disabled": true}`},
		{"PATCH", "/api/v1/users/cam01", writeToken, `{`},
		{"DELETE", "/api/v1/users/cam01", writeToken, ""},
	} {
		r := s.do(t, rq.method, rq.path, rq.token, rq.body)
		if r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" ||
			r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: %d with headers %v", rq.method, rq.path, r.status, r.header)
		}
	}
}

// TestMaxBodyBytes checks that Config.MaxBodyBytes caps every body.
func TestMaxBodyBytes(t *testing.T) {
	t.Parallel()
	s := newServer(t, openSQLite, func(c *api.Config) { c.MaxBodyBytes = 200 })
	s.createUser(t, "cam01", auth.UserPatch{})
	small := `{"description": "` + strings.Repeat("x", 100) + `"}`
	large := `{"description": "` + strings.Repeat("x", 200) + `"}`
	if r := s.do(t, "PATCH", "/api/v1/users/cam01", writeToken, small); r.status != 200 {
		t.Errorf("PATCH of %d bytes: %d %s", len(small), r.status, r.body)
	}
	for _, rq := range []struct{ method, path string }{
		{"PATCH", "/api/v1/users/cam01"},
		{"PUT", "/api/v1/users/cam01"},
		{"POST", "/api/v1/users"},
		{"POST", "/api/v1/users/cam01/password"},
	} {
		r := s.do(t, rq.method, rq.path, writeToken, large)
		if e := r.apiError(t); r.status != 413 || e.Code != "too_large" {
			t.Errorf("%s %s of %d bytes: %d %+v, want 413", rq.method, rq.path, len(large), r.status, e)
		}
	}
}
