package api_test

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
)

func TestHashAndParseToken(t *testing.T) {
	t.Parallel()
	// printf %s abc | sha256sum
	const abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := api.HashToken("abc"); got != abc {
		t.Errorf("HashToken(abc) = %s, want %s", got, abc)
	}
	want := api.Token{Hash: sha256.Sum256([]byte("abc")), ReadOnly: true}
	for _, s := range []string{abc, "sha256:" + strings.ToUpper(abc[7:])} {
		if tok, err := api.ParseToken(s, true); err != nil || tok != want {
			t.Errorf("ParseToken(%q) = %+v, %v; want %+v", s, tok, err, want)
		}
	}
	if got := api.PlainToken("abc", false); got != (api.Token{Hash: sha256.Sum256([]byte("abc"))}) {
		t.Errorf("PlainToken = %+v", got)
	}

	const secret = "plain-secret-token-pasted-by-mistake"
	for _, s := range []string{secret, "sha256:" + secret, "SHA256:" + abc[7:], abc[:len(abc)-1], abc + "0", abc[:len(abc)-1] + "g", "", "sha256:"} {
		if _, err := api.ParseToken(s, false); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("ParseToken(%q) = %v, want an error that does not repeat the input", s, err)
		}
	}
}

// TestTokenCheck sends requests with every kind of Authorization header to
// a real server.
func TestTokenCheck(t *testing.T) {
	t.Parallel()
	s := newServer(t, openSQLite, func(c *api.Config) {
		// A configured hash, as an operator writes it.
		tok, err := api.ParseToken(api.HashToken("configured-token"), false)
		if err != nil {
			t.Fatal(err)
		}
		c.Tokens = append(c.Tokens, tok)
	})
	tests := []struct {
		name, header string
		status       int
		challenge    string
	}{
		{"no header", "", 401, `Bearer realm="s3ftp"`},
		{"empty bearer", "Bearer ", 401, `Bearer realm="s3ftp"`},
		{"bad token", "Bearer wrong-token", 401, `Bearer realm="s3ftp", error="invalid_token"`},
		{"basic auth", "Basic " + writeToken, 401, `Bearer realm="s3ftp"`},
		{"token without scheme", writeToken, 401, `Bearer realm="s3ftp"`},
		{"token prefix", "Bearer " + writeToken[:len(writeToken)-1], 401, `Bearer realm="s3ftp", error="invalid_token"`},
		{"token with suffix", "Bearer " + writeToken + "x", 401, `Bearer realm="s3ftp", error="invalid_token"`},
		{"the hash itself", "Bearer " + api.HashToken(writeToken), 401, `Bearer realm="s3ftp", error="invalid_token"`},
		{"write token", "Bearer " + writeToken, 200, ""},
		{"lower-case scheme", "bearer " + writeToken, 200, ""},
		{"read token", "Bearer " + readToken, 200, ""},
		{"configured hash", "Bearer configured-token", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/api/v1/users", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("WWW-Authenticate") != tt.challenge {
				t.Errorf("%d, WWW-Authenticate %q; want %d, %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status, tt.challenge)
			}
		})
	}
}

// TestReadOnlyToken checks that a read-only token may GET every user route
// and gets 403 on every other, and that the write token may do both.
func TestReadOnlyToken(t *testing.T) {
	t.Parallel()
	s := newServer(t, openSQLite, nil)
	s.createUser(t, "cam01", auth.UserPatch{})
	tests := []struct {
		method, path, body string
		writeStatus        int
	}{
		{"GET", "/api/v1/users", "", 200},
		{"GET", "/api/v1/users/cam01", "", 200},
		{"HEAD", "/api/v1/users/cam01", "", 200},
		{"POST", "/api/v1/users", `{"name": "cam02", "bucket": "cams", "password_hash": "` + bcryptHash + `"}`, 201},
		{"PATCH", "/api/v1/users/cam01", `{"disabled": true}`, 200},
		{"PUT", "/api/v1/users/cam01", `{"bucket": "cams"}`, 200},
		{"POST", "/api/v1/users/cam01/password", `{"password_hash": "` + bcryptHash + `"}`, 204},
		{"DELETE", "/api/v1/users/cam01", "", 204},
	}
	// In order: the write token's requests change what the next ones see.
	for _, tt := range tests {
		r := s.do(t, tt.method, tt.path, readToken, tt.body)
		want := 403
		if tt.method == "GET" || tt.method == "HEAD" {
			want = 200
		}
		if r.status != want {
			t.Errorf("read-only %s %s: %d %s, want %d", tt.method, tt.path, r.status, r.body, want)
		}
		if want == 403 {
			if e := r.apiError(t); e.Code != "forbidden" {
				t.Errorf("read-only %s %s: code %q", tt.method, tt.path, e.Code)
			}
		}
		if r := s.do(t, tt.method, tt.path, writeToken, tt.body); r.status != tt.writeStatus {
			t.Errorf("write %s %s: %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.writeStatus)
		}
	}
}

func TestCheckListenAddr(t *testing.T) {
	t.Parallel()
	some := []api.Token{api.PlainToken("t", false)}
	tests := []struct {
		addr   string
		tokens []api.Token
		want   error // nil, api.ErrNoToken, or errAny for a parse error
	}{
		{"127.0.0.1:8080", nil, nil},
		{"127.1.2.3:8080", nil, nil},
		{"[::1]:8080", nil, nil},
		{"localhost:8080", nil, nil},
		{"LocalHost:0", nil, nil},
		{":8080", nil, api.ErrNoToken},
		{"0.0.0.0:8080", nil, api.ErrNoToken},
		{"[::]:8080", nil, api.ErrNoToken},
		{"192.0.2.1:8080", nil, api.ErrNoToken},
		{"api.example.com:8080", nil, api.ErrNoToken},
		{"0.0.0.0:8080", some, nil},
		{":8080", some, nil},
		{"no-port", nil, errAny},
	}
	for _, tt := range tests {
		err := api.CheckListenAddr(tt.addr, tt.tokens)
		switch {
		case tt.want == errAny && (err == nil || errors.Is(err, api.ErrNoToken)):
			t.Errorf("CheckListenAddr(%q) = %v, want a parse error", tt.addr, err)
		case tt.want != errAny && !errors.Is(err, tt.want) && err != tt.want:
			t.Errorf("CheckListenAddr(%q, %d tokens) = %v, want %v", tt.addr, len(tt.tokens), err, tt.want)
		}
	}
}

var errAny = errors.New("any error")

// TestTokenConfigurations checks a server with no tokens (every user route
// refused) and one with the same token both read-only and writable (the
// writable entry wins).
func TestTokenConfigurations(t *testing.T) {
	t.Parallel()
	none := newServer(t, openSQLite, func(c *api.Config) { c.Tokens = nil })
	for _, token := range []string{"", writeToken, " "} {
		if r := none.do(t, "GET", "/api/v1/users", token, ""); r.status != 401 {
			t.Errorf("no tokens configured, token %q: %d", token, r.status)
		}
	}
	if r := none.do(t, "GET", "/healthz", "", ""); r.status != 200 {
		t.Errorf("no tokens configured: healthz %d", r.status)
	}
	both := newServer(t, openSQLite, func(c *api.Config) {
		c.Tokens = []api.Token{api.PlainToken("shared", true), api.PlainToken("shared", false)}
	})
	body := `{"name": "cam01", "bucket": "cams", "password_hash": "` + bcryptHash + `"}`
	if r := both.do(t, "POST", "/api/v1/users", "shared", body); r.status != 201 {
		t.Errorf("token listed read-only and writable: %d %s", r.status, r.body)
	}
}
