package apitest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/auth/api/apitest"
	"github.com/s3ftp/s3ftp/auth/authtest"
	"github.com/s3ftp/s3ftp/auth/sqlite"
)

// token is the writable admin token of the test handler.
const token = "apitest-token-3f9c"

// newContract loads the admin API's document.
func newContract(t *testing.T) *apitest.Contract {
	t.Helper()
	doc, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := apitest.New(apitest.Config{Document: doc, UnroutedSchema: "Error"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newHandler returns the real admin API over a new SQLite store that holds
// the user cam01.
func newHandler(t *testing.T) http.Handler {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.CreateUser(t.Context(), authtest.MinimalUser(t, "cam01")); err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{Manager: auth.NewManager(store), Tokens: []api.Token{api.PlainToken(token, false)}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// recorder is a Reporter that keeps what it is told.
type recorder struct {
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

// fault is a server that departs from the document: the real handler with
// its request or its response changed.
type fault struct {
	request  func(r *http.Request)                          // may change the request the handler gets
	response func(status *int, h http.Header, body *[]byte) // may change the response
}

// wrap returns h with the fault.
func (f fault) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.request != nil {
			f.request(r)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		status, body := rec.Code, rec.Body.Bytes()
		if f.response != nil {
			f.response(&status, rec.Header(), &body)
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(status)
		w.Write(body)
	})
}

// editJSON decodes the JSON object *body, lets edit change it and encodes
// it back.
func editJSON(body *[]byte, edit func(m map[string]any)) {
	var m map[string]any
	if err := json.Unmarshal(*body, &m); err != nil {
		panic(err)
	}
	edit(m)
	*body, _ = json.Marshal(m)
}

// send sends a JSON request to the server at url, with the token if
// withToken, and discards the response.
func send(t *testing.T, url, method, path, body string, withToken bool) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if withToken {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestContractCatches checks the check: an exchange as the document says
// passes, and each way a server can depart from the document is reported,
// with the real handler made to depart in that way.
func TestContractCatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		method, path, body string
		noToken            bool
		fault              fault
		want               string // in the report; "" for none
	}{
		{name: "documented exchange", method: "GET", path: "/api/v1/users/cam01"},
		{name: "documented error", method: "GET", path: "/api/v1/users/nobody"},
		{name: "documented unrouted answer", method: "GET", path: "/api/v1/nothing"},
		{name: "undocumented response field", method: "GET", path: "/api/v1/users/cam01",
			fault: fault{response: func(_ *int, _ http.Header, b *[]byte) {
				editJSON(b, func(m map[string]any) { m["colour"] = "red" })
			}},
			want: "colour"},
		{name: "undocumented field in an error", method: "GET", path: "/api/v1/users/nobody",
			fault: fault{response: func(_ *int, _ http.Header, b *[]byte) {
				editJSON(b, func(m map[string]any) { m["error"].(map[string]any)["detail"] = "x" })
			}},
			want: "detail"},
		{name: "documented field missing", method: "GET", path: "/api/v1/users/cam01",
			fault: fault{response: func(_ *int, _ http.Header, b *[]byte) {
				editJSON(b, func(m map[string]any) { delete(m, "updated_at") })
			}},
			want: "updated_at"},
		{name: "field of the wrong type", method: "GET", path: "/api/v1/users/cam01",
			fault: fault{response: func(_ *int, _ http.Header, b *[]byte) {
				editJSON(b, func(m map[string]any) { m["disabled"] = "no" })
			}},
			want: "disabled"},
		{name: "field of the wrong format", method: "GET", path: "/api/v1/users/cam01",
			fault: fault{response: func(_ *int, _ http.Header, b *[]byte) {
				editJSON(b, func(m map[string]any) { m["created_at"] = "yesterday" })
			}},
			want: "created_at"},
		{name: "undocumented status", method: "GET", path: "/api/v1/users/cam01",
			fault: fault{response: func(s *int, _ http.Header, _ *[]byte) { *s = http.StatusAccepted }},
			want:  "status 202 is not documented"},
		{name: "undocumented content type", method: "GET", path: "/api/v1/users/cam01",
			fault: fault{response: func(_ *int, h http.Header, _ *[]byte) { h.Set("Content-Type", "text/plain") }},
			want:  "Content-Type"},
		{name: "required header missing", method: "GET", path: "/api/v1/users", noToken: true,
			fault: fault{response: func(_ *int, h http.Header, _ *[]byte) { h.Del("WWW-Authenticate") }},
			want:  "WWW-Authenticate"},
		{name: "body where none is documented", method: "DELETE", path: "/api/v1/users/cam01",
			fault: fault{response: func(_ *int, _ http.Header, b *[]byte) { *b = []byte("{}") }},
			want:  "has no body"},
		{name: "request field the document lacks accepted", method: "PATCH", path: "/api/v1/users/cam01",
			body: `{"colour": "red", "description": "lobby"}`,
			fault: fault{request: func(r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				editJSON(&b, func(m map[string]any) { delete(m, "colour") })
				r.Body = io.NopCloser(bytes.NewReader(b))
				r.ContentLength = int64(len(b))
			}},
			want: "want 4xx for a request the document refuses"},
		{name: "request without a token accepted", method: "GET", path: "/api/v1/users", noToken: true,
			fault: fault{request: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }},
			want:  "want 401"},
		{name: "unrouted request answered 200", method: "GET", path: "/api/v1/nothing",
			fault: fault{response: func(s *int, _ http.Header, b *[]byte) { *s, *b = 200, []byte(`{}`) }},
			want:  "want 404"},
		{name: "unrouted answer not an Error", method: "POST", path: "/healthz",
			fault: fault{response: func(_ *int, _ http.Header, b *[]byte) { *b = []byte(`{"status": "ok"}`) }},
			want:  "unrouted schema"},
	}
	c := newContract(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rep recorder
			srv := httptest.NewServer(c.Handler(&rep, tt.fault.wrap(newHandler(t))))
			defer srv.Close()
			send(t, srv.URL, tt.method, tt.path, tt.body, !tt.noToken)
			got := rep.String()
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("reported %q, want a report with %q", got, tt.want)
			}
		})
	}
}

// TestContractMissing checks that Missing lists what no exchange used,
// counting a request field only in a request the server accepted.
func TestContractMissing(t *testing.T) {
	t.Parallel()
	c := newContract(t)
	all := c.Missing()
	for _, key := range []string{"GET /healthz", "PATCH /api/v1/users/{name}", "User.created_at",
		"UserList.next", "Error.error.field", "UserInput.description (request)", "Password.password (request)"} {
		if !slices.Contains(all, key) {
			t.Errorf("Missing() = %v, without %s", all, key)
		}
	}
	srv := httptest.NewServer(c.Handler(t, newHandler(t)))
	defer srv.Close()
	send(t, srv.URL, "PATCH", "/api/v1/users/cam01", `{"description": "lobby"}`, true)
	send(t, srv.URL, "PATCH", "/api/v1/users/cam01", `{"prefix": "../up"}`, true) // refused: prefix stays missing
	after := c.Missing()
	for _, used := range []string{"PATCH /api/v1/users/{name}", "User.created_at", "UserInput.description (request)", "Error.error.field"} {
		if slices.Contains(after, used) {
			t.Errorf("%s is still missing after an exchange used it", used)
		}
	}
	for _, unused := range []string{"GET /healthz", "UserList.next", "UserInput.prefix (request)"} {
		if !slices.Contains(after, unused) {
			t.Errorf("%s is no longer missing, but no accepted exchange used it", unused)
		}
	}
	if n := c.Exchanges(); n != 2 {
		t.Errorf("Exchanges() = %d, want 2", n)
	}
}
