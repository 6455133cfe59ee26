package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/console"
)

const (
	adminToken = "admin-token-0123456789"
	readToken  = "read-token-0123456789"
	password   = "console password"
)

// env is the console on a real listener over a real SQLite store.
type env struct {
	url   string
	store *sqlite.Store
	m     *auth.Manager
}

func newEnv(t *testing.T, throttle *auth.Throttle) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	m := auth.NewManager(store)
	h, err := console.NewHandler(console.Config{Manager: m, PasswordHash: hash, Throttle: throttle, PageSize: 3,
		Tokens: []api.Token{api.PlainToken(adminToken, false), api.PlainToken(readToken, true)}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, store: store, m: m}
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	location string
	body     string
}

func (b *browser) get(path string) page {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

func read(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form of p.
func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field in %s", p.body)
	}
	return m[1]
}

// signIn signs b in with form (token or password) and returns the CSRF
// token of the session's forms.
func (b *browser) signIn(form url.Values) string {
	b.t.Helper()
	form.Set("csrf", csrf(b.t, b.get("/console/sign-in")))
	if p := b.post("/console/sign-in", form); p.status != http.StatusSeeOther || p.location != "/console/" {
		b.t.Fatalf("sign-in = %d %s: %s", p.status, p.location, p.body)
	}
	return csrf(b.t, b.get("/console/"))
}

func TestNoSessionRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.browser(t)
	for _, path := range []string{"/console/", "/console/new", "/console/users/x", "/console/assets/style.css"} {
		if p := b.get(path); p.status != http.StatusSeeOther || p.location != "/console/sign-in" {
			t.Errorf("GET %s without a session = %d %q, want a redirect to the sign-in page", path, p.status, p.location)
		}
	}
	for _, path := range []string{"/console/new", "/console/users/x/delete", "/console/sign-out"} {
		if p := b.post(path, url.Values{"csrf": {"x"}}); p.status != http.StatusSeeOther || p.location != "/console/sign-in" {
			t.Errorf("POST %s without a session = %d %q, want a redirect to the sign-in page", path, p.status, p.location)
		}
	}
	p := b.get("/console/sign-in")
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="token"`) {
		t.Errorf("sign-in page = %d %s", p.status, p.body)
	}
}

func TestSignInCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.browser(t)
	form := url.Values{"token": {adminToken}, "csrf": {csrf(t, b.get("/console/sign-in"))}}
	resp, err := b.c.PostForm(e.url+"/console/sign-in", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "s3ftp_console" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/console/", c)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
	if p := b.get("/console/assets/style.css"); p.status != http.StatusOK || !strings.Contains(p.body, "badge") {
		t.Errorf("stylesheet with a session = %d", p.status)
	}
}

func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	throttle, err := auth.NewThrottle(auth.ThrottleConfig{MaxFailures: 3, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, throttle)
	b := e.browser(t)
	token := csrf(t, b.get("/console/sign-in"))
	// Without or with a wrong CSRF token: 403, before anything is checked.
	for _, c := range []string{"", "forged"} {
		if p := b.post("/console/sign-in", url.Values{"token": {adminToken}, "csrf": {c}}); p.status != http.StatusForbidden {
			t.Errorf("sign-in with csrf %q = %d, want 403", c, p.status)
		}
	}
	// Wrong token, wrong password, nothing: one generic refusal.
	for _, form := range []url.Values{{"token": {"wrong"}}, {"password": {"wrong"}}} {
		form.Set("csrf", token)
		p := b.post("/console/sign-in", form)
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Sign-in refused. Check the token or password.") {
			t.Errorf("wrong credentials: %d %s", p.status, p.body)
		}
		token = csrf(t, p)
	}
	p := b.post("/console/sign-in", url.Values{"token": {"wrong again"}, "csrf": {token}})
	if p.status != http.StatusUnauthorized {
		t.Fatalf("third failure = %d", p.status)
	}
	// Throttled now: even the right token is refused, with the same words.
	p = b.post("/console/sign-in", url.Values{"token": {adminToken}, "csrf": {csrf(t, p)}})
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Sign-in refused. Check the token or password.") {
		t.Errorf("sign-in after 3 failures = %d, want 429 and the same refusal", p.status)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if _, err := e.m.Create(t.Context(), "cam", auth.UserPatch{Password: ptr("cam password"), Bucket: ptr("cams")}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	token := b.signIn(url.Values{"password": {password}})
	for _, c := range []string{"", "forged", token[:len(token)-1], token + "A"} {
		for _, path := range []string{"/console/users/cam/delete", "/console/users/cam", "/console/new", "/console/sign-out"} {
			if p := b.post(path, url.Values{"csrf": {c}, "confirm": {"cam"}, "name": {"x"}, "bucket": {"cams"}}); p.status != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q = %d, want 403", path, c, p.status)
			}
		}
	}
	if _, err := e.m.Get(t.Context(), "cam"); err != nil {
		t.Errorf("a forged request deleted the user: %v", err)
	}
	// Another session's token is no good either.
	other := e.browser(t)
	otherToken := other.signIn(url.Values{"token": {adminToken}})
	if p := b.post("/console/users/cam/delete", url.Values{"csrf": {otherToken}, "confirm": {"cam"}}); p.status != http.StatusForbidden {
		t.Errorf("another session's CSRF token = %d, want 403", p.status)
	}
}

func TestReadOnlyToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if _, err := e.m.Create(t.Context(), "cam", auth.UserPatch{Password: ptr("cam password"), Bucket: ptr("cams")}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	token := b.signIn(url.Values{"token": {readToken}})
	if p := b.get("/console/users/cam"); p.status != http.StatusOK || strings.Contains(p.body, `id="edit"`) {
		t.Errorf("read-only user page = %d (with the edit form: %v)", p.status, strings.Contains(p.body, `id="edit"`))
	}
	if p := b.post("/console/users/cam/delete", url.Values{"csrf": {token}, "confirm": {"cam"}}); p.status != http.StatusForbidden {
		t.Errorf("delete with a read-only session = %d, want 403", p.status)
	}
	if p := b.post("/console/sign-out", url.Values{"csrf": {token}}); p.status != http.StatusSeeOther {
		t.Errorf("sign-out of a read-only session = %d", p.status)
	}
}

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.browser(t)
	token := b.signIn(url.Values{"token": {adminToken}})

	// Refused input is shown next to its field, the form keeps what was typed.
	p := b.post("/console/new", url.Values{"csrf": {token}, "name": {"cam<1>"}, "password": {"long enough password"}, "bucket": {"cams"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="name-error"`) || !strings.Contains(p.body, `value="cam&lt;1&gt;"`) {
		t.Errorf("bad name: %d %s", p.status, p.body)
	}
	p = b.post("/console/new", url.Values{"csrf": {token}, "name": {"cam1"}, "password": {"long enough password"}, "bucket": {"cams"}, "expect_upload_every": {"soon"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="expect_upload_every-error"`) {
		t.Errorf("bad expectation: %d %s", p.status, p.body)
	}
	p = b.post("/console/new", url.Values{"csrf": {token}, "name": {"Cam1"}, "password": {"long enough password"}, "bucket": {"cams"},
		"permissions": {"upload", "mkdir"}, "allowed_networks": {"10.0.0.0/8\n192.0.2.7"}, "expect_upload_every": {"1h"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/console/users/cam1?") {
		t.Fatalf("create: %d %s %s", p.status, p.location, p.body)
	}
	u, err := e.m.Get(t.Context(), "cam1")
	if err != nil || u.Prefix != "cam1/" || u.Permissions != auth.PermUpload|auth.PermMkdir || len(u.AllowedNetworks) != 2 || u.ExpectUploadEvery != time.Hour {
		t.Fatalf("created %+v, %v", u, err)
	}
	if p := b.post("/console/new", url.Values{"csrf": {token}, "name": {"cam1"}, "password": {"long enough password"}, "bucket": {"cams"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "already exists") {
		t.Errorf("duplicate: %d", p.status)
	}

	// Edit: permissions and expectation; a bad bucket is refused by the Manager.
	edit := url.Values{"csrf": {token}, "bucket": {"cams"}, "prefix": {"cam1/"}, "permissions": {"upload", "list"}, "expect_upload_every": {""}}
	if p := b.post("/console/users/cam1", edit); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", p.status, p.body)
	}
	if u, _ := e.m.Get(t.Context(), "cam1"); u.Permissions != auth.PermUpload|auth.PermList || u.ExpectUploadEvery != 0 || len(u.AllowedNetworks) != 0 {
		t.Errorf("after edit: %+v", u)
	}
	edit.Set("bucket", "Bad_Bucket")
	if p := b.post("/console/users/cam1", edit); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="bucket-error"`) || !strings.Contains(p.body, `value="Bad_Bucket"`) {
		t.Errorf("bad bucket: %d", p.status)
	}

	// Password, disable.
	if p := b.post("/console/users/cam1/password", url.Values{"csrf": {token}, "password": {"a new password"}}); p.status != http.StatusSeeOther {
		t.Errorf("set password: %d %s", p.status, p.body)
	}
	stored, _ := e.store.GetUser(t.Context(), "cam1")
	if ok, _ := auth.VerifyPassword(stored.PasswordHash, "a new password"); !ok {
		t.Error("the password was not changed")
	}
	if p := b.post("/console/users/cam1/disabled", url.Values{"csrf": {token}, "disabled": {"1"}}); p.status != http.StatusSeeOther {
		t.Errorf("disable: %d", p.status)
	}
	if p := b.get("/console/?status=disabled"); !strings.Contains(p.body, `href="/console/users/cam1"`) {
		t.Errorf("the fleet does not list cam1 as disabled: %s", p.body)
	}

	// Delete needs the name typed again.
	if p := b.post("/console/users/cam1/delete", url.Values{"csrf": {token}, "confirm": {"cam"}}); p.status != http.StatusBadRequest {
		t.Errorf("delete without confirmation = %d", p.status)
	}
	if p := b.post("/console/users/cam1/delete", url.Values{"csrf": {token}, "confirm": {"cam1"}}); p.status != http.StatusSeeOther {
		t.Errorf("delete = %d", p.status)
	}
	if _, err := e.m.Get(t.Context(), "cam1"); err == nil {
		t.Error("the user was not deleted")
	}

	// Sign out: the session is gone.
	if p := b.post("/console/sign-out", url.Values{"csrf": {token}}); p.status != http.StatusSeeOther || p.location != "/console/sign-in" {
		t.Errorf("sign-out = %d %s", p.status, p.location)
	}
	if p := b.get("/console/"); p.status != http.StatusSeeOther {
		t.Errorf("after sign-out, the fleet = %d", p.status)
	}
}

// TestEscaping: names and paths from devices are shown as text.
func TestEscaping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if _, err := e.m.Create(t.Context(), "cam", auth.UserPatch{Password: ptr("cam password"), Bucket: ptr("cams"),
		Description: ptr(`<img src=x onerror=alert(1)>`)}); err != nil {
		t.Fatal(err)
	}
	evil := `/<script>alert("x")</script>.jpg`
	if err := e.store.RecordActivity(t.Context(), []auth.ActivityUpdate{{Name: "cam",
		Uploads: []auth.Upload{{Time: time.Now(), Path: evil, Size: 1}}, UploadCount: 1, UploadBytes: 1}}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn(url.Values{"token": {adminToken}})
	for _, path := range []string{"/console/", "/console/users/cam"} {
		p := b.get(path)
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "<img src=x") {
			t.Errorf("%s shows markup from a device or a description unescaped", path)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;.jpg") {
			t.Errorf("%s does not show the upload's name as text:\n%s", path, p.body)
		}
	}
}

func TestFleetPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, n := range []string{"a1", "a2", "a3", "a4", "b1", "silent1"} {
		p := auth.UserPatch{PasswordHash: ptr("$2a$04$.7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S"), Bucket: ptr("cams")}
		if n == "silent1" {
			p.ExpectUploadEvery = ptr(time.Second)
		}
		if _, err := e.m.Create(t.Context(), n, p); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser(t)
	b.signIn(url.Values{"token": {adminToken}})
	names := func(p page) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<td><a href="/console/users/([^"]+)">`).FindAllStringSubmatch(p.body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	if got := names(b.get("/console/")); strings.Join(got, ",") != "a1,a2,a3" {
		t.Errorf("page 1 = %v", got)
	}
	if got := names(b.get("/console/?page=2")); strings.Join(got, ",") != "a4,b1,silent1" {
		t.Errorf("page 2 = %v", got)
	}
	if got := names(b.get("/console/?q=A&sort=name&desc=1")); strings.Join(got, ",") != "a4,a3,a2" {
		t.Errorf("search a, descending = %v", got)
	}
	for {
		if got := names(b.get("/console/?status=silent")); strings.Join(got, ",") == "silent1" {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatal("silent1 never listed as silent")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ptr[T any](v T) *T { return &v }
