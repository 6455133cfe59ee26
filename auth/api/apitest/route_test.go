package apitest

import (
	"errors"
	"maps"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestFindRoute checks OpenAPI path templating on the admin API's document:
// a {param} is one whole, non-empty, unescaped segment; a path without the
// method is errNoMethod, an unknown path errNoPath.
func TestFindRoute(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, target string
		want           string            // "METHOD template", or "" for an error
		params         map[string]string // of a match
		err            error             // without a match
	}{
		{"GET", "/healthz", "GET /healthz", map[string]string{}, nil},
		{"GET", "/api/v1/users?limit=2", "GET /api/v1/users", map[string]string{}, nil},
		{"GET", "/api/v1/openapi.yaml", "GET /api/v1/openapi.yaml", map[string]string{}, nil},
		{"PATCH", "/api/v1/users/cam01", "PATCH /api/v1/users/{name}", map[string]string{"name": "cam01"}, nil},
		{"GET", "/api/v1/users/a%20b", "GET /api/v1/users/{name}", map[string]string{"name": "a b"}, nil},
		{"GET", "/api/v1/users/a%2Fb", "GET /api/v1/users/{name}", map[string]string{"name": "a/b"}, nil},
		{"POST", "/api/v1/users/cam01/password", "POST /api/v1/users/{name}/password", map[string]string{"name": "cam01"}, nil},
		{"GET", "/api/v1/users/cam01/password", "", nil, errNoMethod},
		{"DELETE", "/api/v1/users", "", nil, errNoMethod},
		{"POST", "/healthz", "", nil, errNoMethod},
		{"GET", "/api/v1/users/", "", nil, errNoPath},
		{"GET", "/api/v1/users/cam01/", "", nil, errNoPath},
		{"GET", "/api/v1/nothing", "", nil, errNoPath},
		{"GET", "/", "", nil, errNoPath},
	}
	for _, tt := range tests {
		route, params, err := findRoute(doc, httptest.NewRequest(tt.method, tt.target, nil))
		switch {
		case tt.err != nil && !errors.Is(err, tt.err):
			t.Errorf("%s %s: error %v, want %v", tt.method, tt.target, err, tt.err)
		case tt.err == nil && (err != nil || route.Method+" "+route.Path != tt.want || !maps.Equal(params, tt.params)):
			t.Errorf("%s %s: %v %v %v, want %s %v", tt.method, tt.target, route, params, err, tt.want, tt.params)
		}
	}
}
