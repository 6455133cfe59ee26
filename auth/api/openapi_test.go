package api_test

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/s3ftp/s3ftp/auth"
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
			want = append(want, "401", "500")
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

// TestOpenAPIDocument checks the document's own consistency: every $ref
// resolves, every path parameter is declared, the schemas the API promises
// are there and User lists exactly the fields a user response has.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc, raw := fetchOpenAPI(t)
	var tree map[string]any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$ref: "?#/components/(\w+)/(\w+)"?`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("%s does not resolve", m[0])
		}
	}
	for _, name := range []string{"User", "UserInput", "Password", "Error", "UserList"} {
		if _, ok := doc.Components["schemas"][name]; !ok {
			t.Errorf("schema %s is missing", name)
		}
	}
	if _, ok := doc.Components["securitySchemes"]["bearer"]; !ok {
		t.Errorf("the bearer security scheme is missing")
	}
	// Every {param} of a path is declared as a required path parameter.
	for path, item := range doc.Paths {
		var declared []string
		if node, ok := item["parameters"]; ok {
			var params []map[string]any
			if err := node.Decode(&params); err != nil {
				t.Fatalf("%s: parameters: %v", path, err)
			}
			for _, p := range params {
				if ref, ok := p["$ref"].(string); ok {
					p = doc.Components["parameters"][strings.TrimPrefix(ref, "#/components/parameters/")]
				}
				if p["in"] == "path" && p["required"] == true {
					declared = append(declared, p["name"].(string))
				}
			}
		}
		for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
			if !slices.Contains(declared, m[1]) {
				t.Errorf("%s: path parameter %s is not declared", path, m[1])
			}
		}
	}

	// User's properties are the keys of a real user response.
	s := newServer(t, openSQLite, nil)
	s.createUser(t, "cam01", auth.UserPatch{})
	var got map[string]any
	s.do(t, "GET", "/api/v1/users/cam01", readToken, "").decode(t, &got)
	props := func(schema string) []string {
		p, _ := doc.Components["schemas"][schema]["properties"].(map[string]any)
		return slices.Sorted(maps.Keys(p))
	}
	if want := slices.Sorted(maps.Keys(got)); !slices.Equal(props("User"), want) {
		t.Errorf("schema User has %v, a response has %v", props("User"), want)
	}
	// UserInput is User plus the write-only password fields.
	wantInput := append(props("User"), "password", "password_hash")
	slices.Sort(wantInput)
	if !slices.Equal(props("UserInput"), wantInput) {
		t.Errorf("schema UserInput has %v, want %v", props("UserInput"), wantInput)
	}
}
