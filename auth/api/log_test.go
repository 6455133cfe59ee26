package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
)

// logLine is one line of the JSON log.
type logLine struct {
	Level  string
	Msg    string
	Method string
	Path   string
	Status int
	User   string
	Error  string
}

func parseLogs(t *testing.T, logs string) []logLine {
	t.Helper()
	var lines []logLine
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if l == "" {
			continue
		}
		var line logLine
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, line)
	}
	return lines
}

// testRequestLog checks the one log line of each request: its level and
// that it names the method, path, status and user.
func testRequestLog(t *testing.T, open func(t *testing.T) auth.Store) {
	hash := `"password_hash": "` + bcryptHash + `"`
	tests := []struct {
		method, path, token, body string
		status                    int
		level, user               string
	}{
		{"POST", "/api/v1/users", writeToken, `{"name": "Cam01", "bucket": "cams", ` + hash + `}`, 201, "INFO", "cam01"},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam01", "bucket": "cams", ` + hash + `}`, 409, "INFO", "cam01"},
		{"POST", "/api/v1/users", writeToken, `{"name": "not a name", "bucket": "cams", ` + hash + `}`, 400, "INFO", ""},
		{"PATCH", "/api/v1/users/CAM01", writeToken, `{"disabled": true}`, 200, "INFO", "cam01"},
		{"PUT", "/api/v1/users/cam01", writeToken, `{"bucket": "cams"}`, 200, "INFO", "cam01"},
		{"POST", "/api/v1/users/cam01/password", writeToken, `{` + hash + `}`, 204, "INFO", "cam01"},
		{"PATCH", "/api/v1/users/cam01", readToken, `{"disabled": true}`, 403, "WARN", "cam01"},
		{"GET", "/api/v1/users/cam01", "", "", 401, "WARN", "cam01"},
		{"GET", "/api/v1/users/cam01", readToken, "", 200, "DEBUG", "cam01"},
		{"DELETE", "/api/v1/users/cam01", writeToken, "", 204, "INFO", "cam01"},
		{"DELETE", "/api/v1/users/cam01", writeToken, "", 404, "INFO", "cam01"},
		{"GET", "/api/v1/nothing", writeToken, "", 404, "DEBUG", ""},
	}
	s := newServer(t, open, nil)
	for _, tt := range tests {
		if r := s.do(t, tt.method, tt.path+"?after=x", tt.token, tt.body); r.status != tt.status {
			t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.status)
		}
	}
	// An internal error is logged with its cause.
	s.store.Close()
	if r := s.do(t, "DELETE", "/api/v1/users/cam01", writeToken, ""); r.status != http.StatusInternalServerError ||
		strings.Contains(string(r.body), "closed") {
		t.Errorf("DELETE on a closed store: %d %s", r.status, r.body)
	}
	lines := parseLogs(t, s.logs.String())
	if len(lines) != len(tests)+1 {
		t.Fatalf("%d log lines for %d requests:\n%s", len(lines), len(tests)+1, s.logs)
	}
	for i, tt := range tests {
		got := lines[i]
		want := logLine{Level: tt.level, Msg: "api request", Method: tt.method, Path: tt.path, Status: tt.status, User: tt.user}
		if got != want {
			t.Errorf("log line %d: %+v\nwant %+v", i, got, want)
		}
	}
	last := lines[len(lines)-1]
	if last.Level != "ERROR" || last.Status != 500 || last.User != "cam01" || !strings.Contains(last.Error, "closed") {
		t.Errorf("internal error logged as %+v", last)
	}
}

// testNoSecrets runs a whole session with a known password, password hash
// and tokens, including every kind of error, and checks that none of them
// appears in the logs, in a response (headers or body) or in a Client error.
func testNoSecrets(t *testing.T, open func(t *testing.T) auth.Store) {
	const (
		password    = "Pa55wordOnlyInThisTest7f3e"
		newPassword = "SecondPa55wordOnlyInThisTest91c"
		badToken    = "WrongTokenOnlyInThisTest0d2a"
	)
	imported, err := auth.HashPassword("ImportedPa55wordOnlyInThisTest44b")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, open, nil)
	var responses []string
	send := func(method, path, token, body string) reply {
		r := s.do(t, method, path, token, body)
		responses = append(responses, fmt.Sprint(r.status, r.header, string(r.body)))
		return r
	}
	pw := func(p string) string { return `"password": "` + p + `"` }
	hashField := func(h string) string { return `"password_hash": "` + h + `"` }
	steps := []struct{ method, path, token, body string }{
		{"POST", "/api/v1/users", writeToken, `{"name": "cam01", "bucket": "cams", ` + pw(password) + `}`},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam01", "bucket": "cams", ` + pw(password) + `}`},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam02", "bucket": "cams", ` + pw(password) + `, ` + hashField(imported) + `}`},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam02", "bucket": "cams", ` + pw(password) + `, "passwrd": "` + password + `"}`},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam02", "bucket": "Bad Bucket", ` + pw(password) + `}`},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam02", "password": ["` + password + `"]}`},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam02", "password": "` + password},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam02", "password": ` + password + `}`},
		{"POST", "/api/v1/users", writeToken, `{"name": "cam02", "description": "` + strings.Repeat(password, 3000) + `"}`},
		{"POST", "/api/v1/users", readToken, `{"name": "cam02", "bucket": "cams", ` + pw(password) + `}`},
		{"POST", "/api/v1/users", badToken, `{"name": "cam02", "bucket": "cams", ` + pw(password) + `}`},
		{"GET", "/api/v1/users/cam01", badToken, ""},
		{"GET", "/api/v1/users/cam01", writeToken, ""},
		{"GET", "/api/v1/users", readToken, ""},
		{"POST", "/api/v1/users/cam01/password", writeToken, `{` + pw(newPassword) + `}`},
		{"POST", "/api/v1/users/cam01/password", writeToken, `{` + hashField(imported) + `}`},
		{"POST", "/api/v1/users/cam01/password", writeToken, `{` + hashField(imported+"x") + `}`},
		{"POST", "/api/v1/users/cam01/password", writeToken, `{` + pw(password) + `, ` + hashField(imported) + `}`},
		{"POST", "/api/v1/users/nobody/password", writeToken, `{` + pw(password) + `}`},
		{"PATCH", "/api/v1/users/cam01", writeToken, `{` + hashField(imported) + `, "description": "x"}`},
		{"PATCH", "/api/v1/users/cam01", writeToken, `{` + hashField(imported) + `, "prefix": "../x"}`},
		{"PUT", "/api/v1/users/cam01", writeToken, `{"bucket": "cams", ` + pw(password) + `}`},
		{"PUT", "/api/v1/users/cam01", writeToken, `{"bucket": "cams", ` + pw(strings.Repeat("y", 2000)) + `}`},
		{"GET", "/api/v1/users/cam01", writeToken, ""},
	}
	for _, st := range steps {
		send(st.method, st.path, st.token, st.body)
	}
	stored, err := s.store.GetUser(t.Context(), "cam01")
	if err != nil {
		t.Fatal(err)
	}
	c := s.client(writeToken)
	var clientErrs []string
	for _, err := range []error{
		func() error {
			_, err := c.Create(t.Context(), "cam01", auth.UserPatch{Password: ptr(password), Bucket: ptr("cams")})
			return err
		}(),
		c.SetPassword(t.Context(), "nobody", password, ""),
		c.SetPassword(t.Context(), "cam01", password, imported),
		func() error { _, err := s.client(badToken).Get(t.Context(), "cam01"); return err }(),
	} {
		if err == nil {
			t.Errorf("a client call that should fail succeeded")
			continue
		}
		clientErrs = append(clientErrs, err.Error())
	}
	// Last, an internal error while a password is being set.
	s.store.Close()
	send("POST", "/api/v1/users/cam01/password", writeToken, `{`+pw(password)+`}`)
	send("PUT", "/api/v1/users/cam01", writeToken, `{"bucket": "cams", `+hashField(imported)+`}`)

	logs := s.logs.String()
	if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, `"status":204`) {
		t.Fatalf("the session did not log what it should:\n%s", logs)
	}
	secrets := map[string]string{
		"password": password, "new password": newPassword, "imported hash": imported,
		"stored hash": stored.PasswordHash, "write token": writeToken, "read token": readToken,
		"bad token": badToken, "write token's hash": strings.TrimPrefix(api.HashToken(writeToken), "sha256:"),
	}
	for what, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold the %s", what)
		}
		for i, r := range responses {
			if strings.Contains(r, secret) {
				t.Errorf("response %d holds the %s: %s", i, what, r)
			}
		}
		for _, e := range clientErrs {
			if strings.Contains(e, secret) {
				t.Errorf("client error %q holds the %s", e, what)
			}
		}
	}
}
