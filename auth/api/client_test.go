package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
)

// userManager is the interface the command line uses to manage users
// either on the store (auth.Manager) or through the API (api.Client).
type userManager interface {
	Get(ctx context.Context, name string) (*auth.User, error)
	List(ctx context.Context, after string, limit int) ([]*auth.User, error)
	Create(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error)
	Update(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error)
	Replace(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error)
	SetPassword(ctx context.Context, name, password, hash string) error
	Delete(ctx context.Context, name string) error
}

var (
	_ userManager = (*auth.Manager)(nil)
	_ userManager = (*api.Client)(nil)
)

// testClientMatchesManager runs the same steps on an auth.Manager and on an
// api.Client of a real server, and checks that they give the same users and
// the same kinds of errors.
func testClientMatchesManager(t *testing.T, open func(t *testing.T) auth.Store) {
	full := auth.UserPatch{
		PasswordHash: ptr(bcryptHash), Bucket: ptr("cams"), Prefix: ptr("/site/cam01"),
		Permissions: ptr(auth.PermUpload | auth.PermMkdir), RequireTLS: ptr(true), Description: ptr("lobby"),
		AllowedNetworks: ptr([]netip.Prefix{netip.MustParsePrefix("192.0.2.7/24"), netip.MustParsePrefix("2001:db8::/32")}),
	}
	steps := []struct {
		name string
		do   func(ctx context.Context, m userManager) (any, error)
	}{
		{"create", func(ctx context.Context, m userManager) (any, error) { return m.Create(ctx, "Cam01", full) }},
		{"create other", func(ctx context.Context, m userManager) (any, error) {
			return m.Create(ctx, "cam02", auth.UserPatch{PasswordHash: ptr(bcryptHash), Bucket: ptr("cams")})
		}},
		{"create duplicate", func(ctx context.Context, m userManager) (any, error) { return m.Create(ctx, "CAM01", full) }},
		{"create bad bucket", func(ctx context.Context, m userManager) (any, error) {
			return m.Create(ctx, "cam03", auth.UserPatch{PasswordHash: ptr(bcryptHash), Bucket: ptr("B")})
		}},
		{"create without password", func(ctx context.Context, m userManager) (any, error) {
			return m.Create(ctx, "cam03", auth.UserPatch{Bucket: ptr("cams")})
		}},
		{"create without name", func(ctx context.Context, m userManager) (any, error) { return m.Create(ctx, "", full) }},
		{"get", func(ctx context.Context, m userManager) (any, error) { return m.Get(ctx, "CAM01") }},
		{"get missing", func(ctx context.Context, m userManager) (any, error) { return m.Get(ctx, "nobody") }},
		{"get bad name", func(ctx context.Context, m userManager) (any, error) { return m.Get(ctx, "a/b") }},
		{"get empty name", func(ctx context.Context, m userManager) (any, error) { return m.Get(ctx, "") }},
		{"update", func(ctx context.Context, m userManager) (any, error) {
			return m.Update(ctx, "cam01", auth.UserPatch{Disabled: ptr(true), AllowedNetworks: ptr([]netip.Prefix{})})
		}},
		{"update missing", func(ctx context.Context, m userManager) (any, error) {
			return m.Update(ctx, "nobody", auth.UserPatch{Disabled: ptr(true)})
		}},
		{"update bad prefix", func(ctx context.Context, m userManager) (any, error) {
			return m.Update(ctx, "cam01", auth.UserPatch{Prefix: ptr("../x")})
		}},
		{"replace", func(ctx context.Context, m userManager) (any, error) {
			return m.Replace(ctx, "cam01", auth.UserPatch{Bucket: ptr("other-bucket"), Permissions: ptr(auth.PermList)})
		}},
		{"replace missing", func(ctx context.Context, m userManager) (any, error) {
			return m.Replace(ctx, "nobody", auth.UserPatch{Bucket: ptr("cams")})
		}},
		{"replace without bucket", func(ctx context.Context, m userManager) (any, error) {
			return m.Replace(ctx, "cam01", auth.UserPatch{})
		}},
		{"set password hash", func(ctx context.Context, m userManager) (any, error) {
			return nil, m.SetPassword(ctx, "cam01", "", bcryptHash)
		}},
		{"set no password", func(ctx context.Context, m userManager) (any, error) { return nil, m.SetPassword(ctx, "cam01", "", "") }},
		{"set both", func(ctx context.Context, m userManager) (any, error) {
			return nil, m.SetPassword(ctx, "cam01", "pw", bcryptHash)
		}},
		{"set password missing", func(ctx context.Context, m userManager) (any, error) {
			return nil, m.SetPassword(ctx, "nobody", "", bcryptHash)
		}},
		{"list all", func(ctx context.Context, m userManager) (any, error) { return m.List(ctx, "", 0) }},
		{"list one", func(ctx context.Context, m userManager) (any, error) { return m.List(ctx, "", 1) }},
		{"list after", func(ctx context.Context, m userManager) (any, error) { return m.List(ctx, "cam01", 10) }},
		{"list after all", func(ctx context.Context, m userManager) (any, error) { return m.List(ctx, "cam02", 0) }},
		{"delete", func(ctx context.Context, m userManager) (any, error) { return nil, m.Delete(ctx, "Cam01") }},
		{"delete again", func(ctx context.Context, m userManager) (any, error) { return nil, m.Delete(ctx, "cam01") }},
		{"delete bad name", func(ctx context.Context, m userManager) (any, error) { return nil, m.Delete(ctx, "") }},
	}
	ctx := t.Context()
	manager := auth.NewManager(open(t))
	client := newServer(t, open, nil).client(writeToken)
	for _, st := range steps {
		want, wantErr := st.do(ctx, manager)
		got, gotErr := st.do(ctx, client)
		if kind(gotErr) != kind(wantErr) {
			t.Errorf("%s: client error %v (%s), manager error %v (%s)", st.name, gotErr, kind(gotErr), wantErr, kind(wantErr))
		}
		if describe(t, got) != describe(t, want) {
			t.Errorf("%s: client returned %s\nmanager returned %s", st.name, describe(t, got), describe(t, want))
		}
	}
}

// kind classifies an error by what a caller can branch on.
func kind(err error) string {
	var fe *auth.FieldError
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &fe):
		return "field " + fe.Field
	case errors.Is(err, auth.ErrNotFound):
		return "not found"
	case errors.Is(err, auth.ErrExists):
		return "exists"
	case errors.Is(err, auth.ErrInvalid):
		return "invalid"
	case errors.Is(err, api.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, api.ErrForbidden):
		return "forbidden"
	}
	return "other"
}

// describe prints a result of a userManager method, times left out but
// checked to be set.
func describe(t *testing.T, v any) string {
	t.Helper()
	one := func(u *auth.User) string {
		if u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() || u.PasswordHash != "" {
			t.Errorf("user %s: times %v %v, password hash %q", u.Name, u.CreatedAt, u.UpdatedAt, u.PasswordHash)
		}
		return fmt.Sprintf("{%s %s %s %v %v %v %v %s}", u.Name, u.Bucket, u.Prefix, u.Permissions,
			u.AllowedNetworks, u.RequireTLS, u.Disabled, u.Description)
	}
	switch v := v.(type) {
	case *auth.User:
		if v != nil {
			return one(v)
		}
	case []*auth.User:
		var s []string
		for _, u := range v {
			s = append(s, one(u))
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	return "nothing"
}

// testClientErrors checks how the Client maps error responses, including
// ones that do not come from the API, and that no error holds the token.
func testClientErrors(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	closed := newServer(t, open, nil)
	closed.store.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusBadGateway
		if strings.HasPrefix(r.URL.Path, "/denied/") {
			status = http.StatusUnauthorized
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html>%d from the proxy, Authorization: %s</html>", status, r.Header.Get("Authorization"))
	}))
	t.Cleanup(proxy.Close)
	huge := strings.Repeat("x", 70<<10)
	tests := []struct {
		name   string
		client *api.Client
		call   func(ctx context.Context, c *api.Client) error
		kind   string
		status int // for kind "other": the *api.Error's status
	}{
		{"no token", &api.Client{BaseURL: s.URL},
			func(ctx context.Context, c *api.Client) error { _, err := c.Get(ctx, "cam01"); return err }, "unauthorized", 0},
		{"bad token", &api.Client{BaseURL: s.URL, Token: "secret-wrong-token"},
			func(ctx context.Context, c *api.Client) error { _, err := c.List(ctx, "", 0); return err }, "unauthorized", 0},
		{"read-only token", s.client(readToken),
			func(ctx context.Context, c *api.Client) error { return c.Delete(ctx, "cam01") }, "forbidden", 0},
		{"too large", s.client(writeToken),
			func(ctx context.Context, c *api.Client) error {
				_, err := c.Update(ctx, "cam01", auth.UserPatch{Description: &huge})
				return err
			}, "other", 413},
		{"internal", closed.client(writeToken),
			func(ctx context.Context, c *api.Client) error { _, err := c.Get(ctx, "cam01"); return err }, "other", 500},
		{"wrong base URL", &api.Client{BaseURL: s.URL + "/admin", Token: writeToken},
			func(ctx context.Context, c *api.Client) error { _, err := c.Get(ctx, "cam01"); return err }, "other", 404},
		{"proxy error", &api.Client{BaseURL: proxy.URL, Token: writeToken},
			func(ctx context.Context, c *api.Client) error { _, err := c.Get(ctx, "cam01"); return err }, "other", 502},
		{"proxy 401", &api.Client{BaseURL: proxy.URL + "/denied", Token: writeToken},
			func(ctx context.Context, c *api.Client) error {
				_, err := c.Create(ctx, "cam01", auth.UserPatch{})
				return err
			}, "unauthorized", 0},
		{"no server", &api.Client{BaseURL: "http://127.0.0.1:1", Token: writeToken},
			func(ctx context.Context, c *api.Client) error { return c.Delete(ctx, "cam01") }, "other", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context(), tt.client)
			if kind(err) != tt.kind {
				t.Errorf("error %v is %s, want %s", err, kind(err), tt.kind)
			}
			var apiErr *api.Error
			if tt.status != 0 && (!errors.As(err, &apiErr) || apiErr.Status != tt.status) {
				t.Errorf("error %v: want an *api.Error with status %d", err, tt.status)
			}
			if err != nil && tt.client.Token != "" && strings.Contains(err.Error(), tt.client.Token) {
				t.Errorf("error %q holds the token", err)
			}
			if err != nil && strings.Contains(err.Error(), "<html>") {
				t.Errorf("error %q repeats the proxy's body", err)
			}
		})
	}
}

// pageCapper is an http.RoundTripper that lowers the limit of list
// requests to 10 and counts requests, so the Client's following of pages
// can be tested without a thousand users.
type pageCapper struct{ requests atomic.Int32 }

func (p *pageCapper) RoundTrip(r *http.Request) (*http.Response, error) {
	p.requests.Add(1)
	r = r.Clone(r.Context())
	q := r.URL.Query()
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 10 {
		q.Set("limit", "10")
		r.URL.RawQuery = q.Encode()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// testClientListPages checks that List follows "next" for a limit the
// server will not serve in one page, and stops at the limit.
func testClientListPages(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	for i := range 25 {
		s.createUser(t, fmt.Sprintf("user%02d", i), auth.UserPatch{})
	}
	tests := []struct {
		after             string
		limit             int
		count, requests   int
		first, last, name string
	}{
		{"", 0, 25, 3, "user00", "user24", "all"},
		{"", 15, 15, 2, "user00", "user14", "more than a page"},
		{"", 5, 5, 1, "user00", "user04", "one page"},
		{"user19", 0, 5, 1, "user20", "user24", "after"},
		{"user24", 0, 0, 1, "", "", "none after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			capper := &pageCapper{}
			c := &api.Client{BaseURL: s.URL, Token: readToken, HTTP: &http.Client{Transport: capper}}
			users, err := c.List(t.Context(), tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != tt.count || int(capper.requests.Load()) != tt.requests ||
				(tt.count > 0 && (users[0].Name != tt.first || users[len(users)-1].Name != tt.last)) {
				t.Errorf("List(%q, %d): %d users in %d requests; want %d (%s..%s) in %d",
					tt.after, tt.limit, len(users), capper.requests.Load(), tt.count, tt.first, tt.last, tt.requests)
			}
		})
	}
}
