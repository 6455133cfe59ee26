package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/auth/postgres"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/test/pgtest"
	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// The admin tokens every test server accepts.
const (
	writeToken = "test-write-token-5b1f0e2d9c"
	readToken  = "test-read-token-77a3c1e04b"
)

// bcryptHash is a valid bcrypt hash (cost 4, cheap to verify) used to create
// users without the cost of hashing a password with argon2id.
const bcryptHash = "$2a$04$.7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S"

// storeCase is a kind of user store the API is tested against.
type storeCase struct {
	name string
	// setup starts what the stores need (a database server) for the test t
	// and its subtests, or skips t, and returns a function that opens a
	// new, empty store, closed when the test that opened it ends.
	setup func(t *testing.T) func(t *testing.T) auth.Store
}

// stores returns the user stores the API is tested against.
func stores() []storeCase {
	return []storeCase{
		{"sqlite", func(*testing.T) func(*testing.T) auth.Store { return openSQLite }},
		{"postgres", func(t *testing.T) func(*testing.T) auth.Store {
			srv := pgtest.Start(t)
			return func(t *testing.T) auth.Store {
				t.Helper()
				s, err := postgres.Open(t.Context(), srv.NewDatabase(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		}},
	}
}

// openSQLite opens a new SQLite store in t.TempDir(), for the tests whose
// subject does not depend on the store.
func openSQLite(t *testing.T) auth.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storeTests are the tests that run against every store, each in a
// parallel subtest named for the store and the test.
func storeTests() []struct {
	name string
	test func(t *testing.T, open func(t *testing.T) auth.Store)
} {
	return []struct {
		name string
		test func(t *testing.T, open func(t *testing.T) auth.Store)
	}{
		{"UserLifecycle", testUserLifecycle},
		{"CreateErrors", testCreateErrors},
		{"PutVersusPatch", testPutVersusPatch},
		{"PutRoundTrip", testPutRoundTrip},
		{"SetPassword", testSetPassword},
		{"List", testList},
		{"GetBadName", testGetBadName},
		{"ClientMatchesManager", testClientMatchesManager},
		{"ClientErrors", testClientErrors},
		{"ClientListPages", testClientListPages},
		{"RequestLog", testRequestLog},
		{"NoSecrets", testNoSecrets},
		{"Activity", testActivity},
	}
}

// TestWithStores runs storeTests against every store. A store's server,
// if it has one, is started once for all of them.
func TestWithStores(t *testing.T) {
	t.Parallel()
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			open := sc.setup(t)
			for _, st := range storeTests() {
				t.Run(st.name, func(t *testing.T) {
					t.Parallel()
					st.test(t, open)
				})
			}
		})
	}
}

// testServer is the real handler on a real listener, over a real store,
// behind the contract check: every exchange is checked against the OpenAPI
// document (see contract_test.go).
type testServer struct {
	URL   string
	store auth.Store
	logs  *syncbuf.Buffer // JSON log lines, level Debug and up
}

// newServer starts the API over a new store from open, accepting writeToken
// and readToken (read-only). configure, if not nil, may change the Config.
func newServer(t *testing.T, open func(t *testing.T) auth.Store, configure func(*api.Config)) *testServer {
	t.Helper()
	store := open(t)
	logs := &syncbuf.Buffer{}
	cfg := api.Config{
		Manager: auth.NewManager(store),
		Tokens:  []api.Token{api.PlainToken(writeToken, false), api.PlainToken(readToken, true)},
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&cfg)
	}
	h, err := api.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	contract, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(contract.Handler(t, h))
	t.Cleanup(srv.Close)
	return &testServer{URL: srv.URL, store: store, logs: logs}
}

// client returns an api.Client of s with token.
func (s *testServer) client(token string) *api.Client {
	return &api.Client{BaseURL: s.URL, Token: token}
}

// reply is a response, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// apiError decodes an error body; it fails the test if the body is not one.
func (r reply) apiError(t *testing.T) api.Error {
	t.Helper()
	var b struct {
		Error api.Error `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("status %d: body %q is not an API error (%v)", r.status, r.body, err)
	}
	return b.Error
}

// decode decodes a JSON body into v; it fails the test if it cannot.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("status %d: body %q: %v", r.status, r.body, err)
	}
}

// do sends a request with a real net/http client. An empty token sends no
// Authorization header.
func (s *testServer) do(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	return doRequest(t, method, s.URL+path, token, body)
}

func doRequest(t *testing.T, method, url, token, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// createUser creates a user with the manager, straight on the store, with
// the cheap bcrypt hash and the given extra fields.
func (s *testServer) createUser(t *testing.T, name string, p auth.UserPatch) *auth.User {
	t.Helper()
	if p.Bucket == nil {
		p.Bucket = ptr("bucket-one")
	}
	if p.Password == nil && p.PasswordHash == nil {
		p.PasswordHash = ptr(bcryptHash)
	}
	u, err := auth.NewManager(s.store).Create(context.WithoutCancel(t.Context()), name, p)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ptr[T any](v T) *T { return &v }
