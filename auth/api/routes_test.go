package api_test

import (
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth/api"
)

// TestRoutes checks the route table against the real server: every route
// is served, the public ones without a token and the others only with one.
func TestRoutes(t *testing.T) {
	t.Parallel()
	routes := api.Routes()
	seen := map[string]bool{}
	var public []string
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		if seen[key] {
			t.Errorf("route %s is listed twice", key)
		}
		seen[key] = true
		if rt.Public {
			public = append(public, key)
		}
	}
	if got := strings.Join(public, ", "); got != "GET /healthz, GET /readyz, GET /api/v1/openapi.yaml, GET /metrics" {
		t.Errorf("public routes: %s", got)
	}
	s := newServer(t, openSQLite, nil)
	for _, rt := range routes {
		path := strings.ReplaceAll(rt.Path, "{name}", "cam01")
		r := s.do(t, rt.Method, path, "", "")
		want := 401
		if rt.Public {
			want = 200
		}
		if r.status != want {
			t.Errorf("%s %s without a token: %d %s, want %d", rt.Method, path, r.status, r.body, want)
		}
	}
}
