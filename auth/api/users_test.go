package api_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// testUserLifecycle creates, reads and deletes a user over HTTP and checks
// the JSON shape scripts rely on.
func testUserLifecycle(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	before := time.Now().UTC().Add(-time.Minute)
	r := s.do(t, "POST", "/api/v1/users", writeToken, `{"name": "Cam01", "password_hash": "`+bcryptHash+`",
		"bucket": "b-cams", "prefix": "/cams/cam01", "permissions": ["upload", "mkdir"],
		"allowed_networks": ["192.0.2.7/24", "2001:db8::1"], "require_tls": true, "description": "lobby", "expect_upload_every": "90m"}`)
	if r.status != http.StatusCreated || r.header.Get("Location") != "/api/v1/users/cam01" {
		t.Fatalf("create: %d %q, Location %q", r.status, r.body, r.header.Get("Location"))
	}
	var created map[string]any
	r.decode(t, &created)
	keys := slices.Sorted(maps.Keys(created))
	want := []string{"allowed_networks", "bucket", "created_at", "description", "disabled", "expect_upload_every", "name", "permissions", "prefix", "require_tls", "updated_at"}
	if !slices.Equal(keys, want) {
		t.Errorf("user JSON keys = %v, want %v", keys, want)
	}
	wantFields := map[string]any{
		"name": "cam01", "bucket": "b-cams", "prefix": "cams/cam01/",
		"permissions": []any{"upload", "mkdir"}, "allowed_networks": []any{"192.0.2.0/24", "2001:db8::1/128"},
		"require_tls": true, "disabled": false, "description": "lobby", "expect_upload_every": "1h30m0s",
	}
	for k, v := range wantFields {
		if fmt.Sprint(created[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, created[k], v)
		}
	}
	for _, k := range []string{"created_at", "updated_at"} {
		ts, _ := created[k].(string)
		parsed, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !strings.HasSuffix(ts, "Z") || parsed.Before(before) {
			t.Errorf("%s = %q: want a recent RFC 3339 UTC time (%v)", k, ts, err)
		}
	}

	r = s.do(t, "GET", "/api/v1/users/CAM01", readToken, "")
	var got map[string]any
	r.decode(t, &got)
	if r.status != http.StatusOK || fmt.Sprint(got) != fmt.Sprint(created) {
		t.Errorf("get: %d %v, want %v", r.status, got, created)
	}

	if r := s.do(t, "DELETE", "/api/v1/users/cam01", writeToken, ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("delete: %d %q", r.status, r.body)
	}
	for _, method := range []string{"GET", "DELETE"} {
		r := s.do(t, method, "/api/v1/users/cam01", writeToken, "")
		if e := r.apiError(t); r.status != http.StatusNotFound || e.Code != "not_found" {
			t.Errorf("%s after delete: %d %+v", method, r.status, e)
		}
	}
}

// testCreateErrors checks that every refused body answers the right status,
// code and field.
func testCreateErrors(t *testing.T, open func(t *testing.T) auth.Store) {
	valid := `"password_hash": "` + bcryptHash + `", "bucket": "cams"`
	tests := []struct {
		name, body   string
		status       int
		code, field  string
		msgSubstring string
	}{
		{"no name", `{` + valid + `}`, 400, "invalid", "name", "required"},
		{"bad name", `{"name": "a b", ` + valid + `}`, 400, "invalid", "name", ""},
		{"no password", `{"name": "cam02", "bucket": "cams"}`, 400, "invalid", "password", ""},
		{"password and hash", `{"name": "cam02", "password": "x", ` + valid + `}`, 400, "invalid", "password", ""},
		{"bad hash", `{"name": "cam02", "password_hash": "nope", "bucket": "cams"}`, 400, "invalid", "password_hash", ""},
		{"empty password", `{"name": "cam02", "password": "", "bucket": "cams"}`, 400, "invalid", "password", ""},
		{"no bucket", `{"name": "cam02", "password_hash": "` + bcryptHash + `"}`, 400, "invalid", "bucket", ""},
		{"bad bucket", `{"name": "cam02", "password_hash": "` + bcryptHash + `", "bucket": "Bad_Bucket"}`, 400, "invalid", "bucket", ""},
		{"bad prefix", `{"name": "cam02", ` + valid + `, "prefix": "a/../b"}`, 400, "invalid", "prefix", ""},
		{"unknown permission", `{"name": "cam02", ` + valid + `, "permissions": ["fly"]}`, 400, "invalid", "permissions", ""},
		{"bad network", `{"name": "cam02", ` + valid + `, "allowed_networks": ["10.0.0.0/8", "nowhere"]}`, 400, "invalid", "allowed_networks", "entry 1"},
		{"long description", `{"name": "cam02", ` + valid + `, "description": "` + strings.Repeat("x", 1025) + `"}`, 400, "invalid", "description", ""},
		{"unknown field", `{"name": "cam02", ` + valid + `, "colour": "red"}`, 400, "invalid", "colour", "unknown field"},
		{"null field", `{"name": "cam02", ` + valid + `, "prefix": null}`, 400, "invalid", "prefix", "null"},
		{"wrong type", `{"name": "cam02", ` + valid + `, "disabled": "yes"}`, 400, "invalid", "disabled", "must be a boolean, not a string"},
		{"wrong element type", `{"name": "cam02", ` + valid + `, "permissions": ["list", 7]}`, 400, "invalid", "permissions", ""},
		{"malformed", `{"name": "cam02",, }`, 400, "invalid", "", "malformed JSON"},
		{"truncated", `{"name": "cam02"`, 400, "invalid", "", ""},
		{"two values", `{"name": "cam02", ` + valid + `} {}`, 400, "invalid", "", "exactly one"},
		{"empty body", ``, 400, "invalid", "", "empty"},
		{"not an object", `["cam02"]`, 400, "invalid", "", "object"},
		{"too large", `{"name": "cam02", ` + valid + `, "description": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", "", ""},
		{"exists", `{"name": "TAKEN", ` + valid + `}`, 409, "exists", "", ""},
	}
	s := newServer(t, open, nil)
	s.createUser(t, "taken", auth.UserPatch{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := s.do(t, "POST", "/api/v1/users", writeToken, tt.body)
			e := r.apiError(t)
			if r.status != tt.status || e.Code != tt.code || e.Field != tt.field || !strings.Contains(e.Message, tt.msgSubstring) {
				t.Errorf("got %d %+v, want %d %s field %q message with %q", r.status, e, tt.status, tt.code, tt.field, tt.msgSubstring)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// testPutVersusPatch checks that PATCH changes only the fields given and PUT
// all of them, keeping the password unless it is given.
func testPutVersusPatch(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	full := auth.UserPatch{
		Prefix: ptr("cams/lobby/"), Permissions: ptr(auth.PermUpload | auth.PermMkdir),
		AllowedNetworks: ptr([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}),
		RequireTLS:      ptr(true), Description: ptr("lobby"),
	}
	tests := []struct {
		name, method, body string
		status             int
		want               string // the user's JSON, without times, after the request
		field              string // for a 400
	}{
		{"patch one field", "PATCH", `{"disabled": true}`, 200,
			`{{name}} bucket-one cams/lobby/ [upload mkdir] [192.0.2.0/24] tls:true disabled:true lobby`, ""},
		{"patch empty", "PATCH", `{}`, 200,
			`{{name}} bucket-one cams/lobby/ [upload mkdir] [192.0.2.0/24] tls:true disabled:false lobby`, ""},
		{"patch clears with empty values", "PATCH", `{"allowed_networks": [], "permissions": [], "description": ""}`, 200,
			`{{name}} bucket-one cams/lobby/ [] [] tls:true disabled:false `, ""},
		{"patch with same name", "PATCH", `{"name": "{{NAME}}", "permissions": ["all"]}`, 200,
			`{{name}} bucket-one cams/lobby/ [list download upload overwrite delete rename mkdir rmdir] [192.0.2.0/24] tls:true disabled:false lobby`, ""},
		{"patch null", "PATCH", `{"description": null}`, 400, "", "description"},
		{"patch rename", "PATCH", `{"name": "cam02"}`, 400, "", "name"},
		{"patch invalid", "PATCH", `{"prefix": "../up"}`, 400, "", "prefix"},
		{"put zeroes what it leaves out", "PUT", `{"bucket": "other-bucket"}`, 200,
			`{{name}} other-bucket {{name}}/ [] [] tls:false disabled:false `, ""},
		{"put with the whole bucket", "PUT", `{"bucket": "other-bucket", "prefix": ""}`, 200,
			`{{name}} other-bucket  [] [] tls:false disabled:false `, ""},
		{"put all", "PUT", `{"name": "{{name}}", "bucket": "bkt-2", "prefix": "p", "permissions": ["list"], "allowed_networks": ["10.0.0.1"], "require_tls": false, "disabled": true, "description": "d"}`, 200,
			`{{name}} bkt-2 p/ [list] [10.0.0.1/32] tls:false disabled:true d`, ""},
		{"put without bucket", "PUT", `{"description": "x"}`, 400, "", "bucket"},
		{"put rename", "PUT", `{"name": "cam02", "bucket": "bkt-2"}`, 400, "", "name"},
		{"put null", "PUT", `{"bucket": "bkt-2", "permissions": null}`, 400, "", "permissions"},
		{"put unknown field", "PUT", `{"bucket": "bkt-2", "buckets": "b3"}`, 400, "", "buckets"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// One user per case, so the cases can run at once.
			name := fmt.Sprintf("user%02d", i)
			u := s.createUser(t, name, full)
			path := "/api/v1/users/" + name
			before := summary(t, s.do(t, "GET", path, readToken, ""))
			r := s.do(t, tt.method, path, writeToken, fill(tt.body, name))
			if tt.status != 200 {
				if e := r.apiError(t); r.status != tt.status || e.Field != tt.field {
					t.Errorf("%d %+v, want %d field %q", r.status, e, tt.status, tt.field)
				}
				if after := summary(t, s.do(t, "GET", path, readToken, "")); after != before {
					t.Errorf("a refused %s changed the user: %s, was %s", tt.method, after, before)
				}
				return
			}
			want := fill(tt.want, name)
			if got := summary(t, r); r.status != tt.status || got != want {
				t.Errorf("%d %s (%s)\nwant %d %s", r.status, got, r.body, tt.status, want)
			}
			if got := summary(t, s.do(t, "GET", path, readToken, "")); got != want {
				t.Errorf("GET after %s: %s\nwant %s", tt.method, got, want)
			}
			stored, err := s.store.GetUser(t.Context(), name)
			if err != nil || stored.PasswordHash != bcryptHash || !stored.CreatedAt.Equal(u.CreatedAt) {
				t.Errorf("%s changed the password or the creation time: %+v, %v", tt.method, stored, err)
			}
		})
	}
}

// fill puts name in place of {{name}}, and in upper case of {{NAME}}.
func fill(s, name string) string {
	return strings.NewReplacer("{{name}}", name, "{{NAME}}", strings.ToUpper(name)).Replace(s)
}

// summary returns the fields of a user response, times left out.
func summary(t *testing.T, r reply) string {
	t.Helper()
	var u struct {
		Name, Bucket, Prefix string
		Permissions          []string
		AllowedNetworks      []string `json:"allowed_networks"`
		RequireTLS           bool     `json:"require_tls"`
		Disabled             bool
		Description          string
	}
	r.decode(t, &u)
	return fmt.Sprintf("%s %s %s %v %v tls:%v disabled:%v %s", u.Name, u.Bucket, u.Prefix,
		u.Permissions, u.AllowedNetworks, u.RequireTLS, u.Disabled, u.Description)
}

// testPutRoundTrip checks that what GET returns can be sent back with PUT
// unchanged (created_at and updated_at are accepted and ignored).
func testPutRoundTrip(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	s.createUser(t, "cam01", auth.UserPatch{Permissions: ptr(auth.PermList), Description: ptr("x"),
		AllowedNetworks: ptr([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})})
	got := s.do(t, "GET", "/api/v1/users/cam01", writeToken, "")
	r := s.do(t, "PUT", "/api/v1/users/cam01", writeToken, string(got.body))
	if r.status != http.StatusOK || summary(t, r) != summary(t, got) {
		t.Errorf("PUT of GET's body: %d %s, want %s", r.status, r.body, got.body)
	}
}

// testSetPassword checks POST /api/v1/users/{name}/password.
func testSetPassword(t *testing.T, open func(t *testing.T) auth.Store) {
	const argonHash = "$argon2id$v=19$m=19456,t=2,p=1$X5vHEOaRJAo82C4otVqz7Q$ujvKqJdMTEyj4c8dxAkNh978ekbpcy5tWn9OW+bNPt8"
	tests := []struct {
		name, user, body string // user "" is the case's own user
		status           int
		field            string
		check            func(hash string) bool
	}{
		{"password", "", `{"password": "new secret"}`, 204, "", func(h string) bool {
			ok, _ := auth.VerifyPassword(h, "new secret")
			return ok
		}},
		{"hash", "", `{"password_hash": "` + argonHash + `"}`, 204, "", func(h string) bool { return h == argonHash }},
		{"both", "", `{"password": "a", "password_hash": "` + argonHash + `"}`, 400, "password", nil},
		{"neither", "", `{}`, 400, "password", nil},
		{"bad hash", "", `{"password_hash": "$2a$99$x"}`, 400, "password_hash", nil},
		{"unknown field", "", `{"pasword": "x"}`, 400, "pasword", nil},
		{"missing user", "nobody", `{"password": "x"}`, 404, "", nil},
		{"bad name", "no%20body", `{"password": "x"}`, 400, "name", nil},
	}
	s := newServer(t, open, nil)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("user%02d", i)
			s.createUser(t, name, auth.UserPatch{})
			target := tt.user
			if target == "" {
				target = name
			}
			r := s.do(t, "POST", "/api/v1/users/"+target+"/password", writeToken, tt.body)
			if r.status != tt.status {
				t.Fatalf("%d %q, want %d", r.status, r.body, tt.status)
			}
			stored, err := s.store.GetUser(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			if tt.status != 204 {
				if e := r.apiError(t); e.Field != tt.field {
					t.Errorf("field %q, want %q", e.Field, tt.field)
				}
				if stored.PasswordHash != bcryptHash {
					t.Errorf("a refused request changed the password")
				}
				return
			}
			if len(r.body) != 0 || !tt.check(stored.PasswordHash) {
				t.Errorf("body %q; stored hash %q does not match", r.body, stored.PasswordHash)
			}
		})
	}
}

// testList pages through 25 users 10 at a time and checks the limit and
// after parameters.
func testList(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	var all []string
	for i := range 25 {
		name := fmt.Sprintf("user%02d", i)
		s.createUser(t, name, auth.UserPatch{})
		all = append(all, name)
	}
	type page struct {
		Users []struct{ Name string }
		Next  *string
	}
	var names []string
	var pages []int
	after := ""
	for {
		r := s.do(t, "GET", "/api/v1/users?limit=10&after="+after, readToken, "")
		var p page
		r.decode(t, &p)
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		pages = append(pages, len(p.Users))
		for _, u := range p.Users {
			names = append(names, u.Name)
		}
		if p.Next == nil {
			break
		}
		if *p.Next != names[len(names)-1] {
			t.Errorf("next = %q, want the last name of the page %q", *p.Next, names[len(names)-1])
		}
		after = *p.Next
	}
	if !slices.Equal(pages, []int{10, 10, 5}) || !slices.Equal(names, all) {
		t.Errorf("pages of %v: %v, want 10, 10, 5 of %v", pages, names, all)
	}

	tests := []struct {
		query    string
		status   int
		count    int
		next     string
		field    string
		wantFrom string
	}{
		{"", 200, 25, "", "", "user00"},
		{"?limit=25", 200, 25, "", "", "user00"},
		{"?limit=24", 200, 24, "user23", "", "user00"},
		{"?limit=1000&after=USER20", 200, 4, "", "", "user21"},
		{"?after=zzz", 200, 0, "", "", ""},
		{"?limit=0", 400, 0, "", "limit", ""},
		{"?limit=1001", 400, 0, "", "limit", ""},
		{"?limit=ten", 400, 0, "", "limit", ""},
		{"?limit=10&page=2", 400, 0, "", "page", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			r := s.do(t, "GET", "/api/v1/users"+tt.query, writeToken, "")
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if e := r.apiError(t); e.Field != tt.field {
					t.Errorf("field %q, want %q", e.Field, tt.field)
				}
				return
			}
			var p struct {
				Users []struct{ Name string }
				Next  string
			}
			r.decode(t, &p)
			if len(p.Users) != tt.count || p.Next != tt.next || (tt.count > 0 && p.Users[0].Name != tt.wantFrom) {
				t.Errorf("%d users from %v, next %q; want %d from %s, next %q", len(p.Users), p.Users, p.Next, tt.count, tt.wantFrom, tt.next)
			}
			if tt.count == 0 && !strings.Contains(string(r.body), `"users":[]`) {
				t.Errorf("empty page %s: want \"users\": []", r.body)
			}
		})
	}
}

// testGetBadName checks that a malformed name in the path is a 400 naming
// the field, on every route that takes one.
func testGetBadName(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	for _, method := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		body := ""
		if method == "PUT" || method == "PATCH" {
			body = `{"bucket": "cams"}`
		}
		r := s.do(t, method, "/api/v1/users/-bad", writeToken, body)
		if e := r.apiError(t); r.status != 400 || e.Field != "name" {
			t.Errorf("%s: %d %+v, want 400 naming the field name", method, r.status, e)
		}
	}
}
