package api_test

import (
	"bytes"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/s3ftp/s3ftp/auth/api"
)

// openAPIDoc is the part of an OpenAPI 3 document the tests read.
type openAPIDoc struct {
	OpenAPI    string                               `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node      `yaml:"paths"`
	Components map[string]map[string]map[string]any `yaml:"components"`
}

// operation is the part of an operation the tests read.
type operation struct {
	Security   *[]map[string][]string `yaml:"security"`
	Responses  map[string]any         `yaml:"responses"`
	Parameters []map[string]any       `yaml:"parameters"`
}

// fetchOpenAPI gets the document from a real server and parses it.
func fetchOpenAPI(t *testing.T) (*openAPIDoc, []byte) {
	t.Helper()
	s := newServer(t, openSQLite, nil)
	r := s.do(t, "GET", "/api/v1/openapi.yaml", "", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /api/v1/openapi.yaml: %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi: %q, want 3.x", doc.OpenAPI)
	}
	return &doc, r.body
}

// TestOpenAPIMatchesRoutes checks that the document lists exactly the
// routes of the route table, in both directions, with the right security
// and the error responses each can give.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := fetchOpenAPI(t)
	documented := map[string]operation{}
	for path, item := range doc.Paths {
		for key, node := range item {
			if key == "parameters" || key == "summary" || key == "description" {
				continue
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			documented[strings.ToUpper(key)+" "+path] = op
		}
	}
	served := map[string]api.Route{}
	for _, rt := range api.Routes() {
		served[rt.Method+" "+rt.Path] = rt
	}
	for key := range served {
		if _, ok := documented[key]; !ok {
			t.Errorf("%s is served but not documented", key)
		}
	}
	for key := range documented {
		if _, ok := served[key]; !ok {
			t.Errorf("%s is documented but not served", key)
		}
	}
	for key, rt := range served {
		op, ok := documented[key]
		if !ok {
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != rt.Public {
			t.Errorf("%s: documented as public=%v, served as public=%v", key, public, rt.Public)
		}
		var want []string
		if !rt.Public {
			want = append(want, "401", "500", "503") // 503: the store did not answer in time
			if rt.Method != "GET" {
				want = append(want, "403")
			}
			if strings.Contains(rt.Path, "{name}") {
				want = append(want, "400", "404")
			}
			if rt.Method == "POST" || rt.Method == "PUT" || rt.Method == "PATCH" {
				want = append(want, "400", "413")
			}
		}
		for _, code := range want {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: response %s is not documented", key, code)
			}
		}
	}
}

// TestOpenAPIDocument checks that the server serves openapi.yaml as it is
// in the source, and that UserInput is User plus the write-only password
// fields, so that a user as GET returns it can be sent back with PUT. The
// document's validity is TestOpenAPIValid's, its truth the contract's
// (contract_test.go).
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc, served := fetchOpenAPI(t)
	source, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(served, source) {
		t.Errorf("GET /api/v1/openapi.yaml is not openapi.yaml")
	}
	props := func(schema string) []string {
		p, _ := doc.Components["schemas"][schema]["properties"].(map[string]any)
		return slices.Sorted(maps.Keys(p))
	}
	wantInput := append(props("User"), "password", "password_hash")
	slices.Sort(wantInput)
	if !slices.Equal(props("UserInput"), wantInput) {
		t.Errorf("schema UserInput has %v, want %v", props("UserInput"), wantInput)
	}
}
