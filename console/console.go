// Package console is the web console of the fleet, served on the admin
// listener under /console/: every user with its status (active, silent,
// disabled) and activity, one user's page with its recent uploads and the
// forms that change it, and a form to add a user. Pages are rendered on
// the server from html/template with the assets embedded in the binary,
// and work without JavaScript.
//
// An administrator signs in with an admin token of the API (a read-only
// token may look but not change) or with the console password (argon2id).
// The session is an HttpOnly, SameSite=Strict cookie; every form carries
// the session's CSRF token, checked before anything else happens. Failed
// sign-ins are throttled per client address like FTP logins. Every change
// goes through the same auth.Manager as the API and the CLI, so the same
// rules and messages apply.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
)

// Prefix is the path under which the console is served.
const Prefix = "/console/"

// Cookie names: the session, and the CSRF token of the sign-in form (which
// has no session yet).
const (
	sessionCookie = "s3ftp_console"
	signInCookie  = "s3ftp_console_signin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// signInCSS styles the sign-in page, inline: the stylesheet under assets/
// needs a session. The Content-Security-Policy allows it by its hash.
const signInCSS = `body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}` +
	`main{max-width:24rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 3px #0002}` +
	`label{display:block;margin:.8rem 0 .2rem;font-weight:600}` +
	`input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #bbc;border-radius:4px}` +
	`button{margin-top:1rem;padding:.5rem 1rem;background:#1f5fbf;color:#fff;border:0;border-radius:4px}` +
	`.error{color:#b3261e;font-weight:600}.muted{color:#667}`

// csp is the Content-Security-Policy of every answer: nothing but the
// console's own stylesheet (and the sign-in page's inline style), no
// script, no framing, forms only to the console.
var csp = func() string {
	sum := sha256.Sum256([]byte(signInCSS))
	return "default-src 'none'; style-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// Config holds what the console needs.
type Config struct {
	// Manager carries out every change. Required.
	Manager *auth.Manager
	// Tokens are the admin tokens that sign in (read-only ones may only
	// look).
	Tokens []api.Token
	// PasswordHash, if set, is an argon2id (or bcrypt) hash of a password
	// that signs in with full rights.
	PasswordHash string
	// Throttle counts failed sign-ins per client address; nil: none.
	Throttle *auth.Throttle
	// SessionTTL is how long a session lasts; default 12h.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept; default 1000.
	MaxSessions int
	// PageSize is how many users the fleet page shows; default 50.
	PageSize int
	// Logger receives sign-ins, refusals and changes. Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 1000
	}
	if c.PageSize <= 0 {
		c.PageSize = 50
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// handler is the console.
type handler struct {
	cfg      Config
	log      *slog.Logger
	sessions *sessions
	pages    map[string]*template.Template
	assets   http.Handler
	mux      *http.ServeMux
}

// NewHandler returns the console, to be mounted at Prefix. It returns an
// error if Manager is missing or a template does not parse.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Manager == nil {
		return nil, errors.New("console: Config.Manager is required")
	}
	cfg = cfg.withDefaults()
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	h := &handler{
		cfg: cfg, log: cfg.Logger.With("component", "console"),
		sessions: newSessions(cfg.SessionTTL, cfg.MaxSessions),
		pages:    pages,
		assets:   http.StripPrefix(Prefix+"assets/", http.FileServerFS(sub)),
		mux:      http.NewServeMux(),
	}
	h.mux.HandleFunc("GET "+Prefix+"sign-in", h.signInPage)
	h.mux.HandleFunc("POST "+Prefix+"sign-in", h.signIn)
	h.mux.Handle("POST "+Prefix+"sign-out", h.auth(h.signOut, false))
	h.mux.Handle("GET "+Prefix+"assets/", h.auth(func(w http.ResponseWriter, r *http.Request, _ *session) { h.assets.ServeHTTP(w, r) }, false))
	h.mux.Handle("GET "+Prefix+"{$}", h.auth(h.fleet, false))
	h.mux.Handle("GET "+Prefix+"new", h.auth(h.newUserPage, false))
	h.mux.Handle("POST "+Prefix+"new", h.auth(h.createUser, true))
	h.mux.Handle("GET "+Prefix+"users/{name}", h.auth(h.userPage, false))
	h.mux.Handle("POST "+Prefix+"users/{name}", h.auth(h.updateUser, true))
	h.mux.Handle("POST "+Prefix+"users/{name}/password", h.auth(h.setPassword, true))
	h.mux.Handle("POST "+Prefix+"users/{name}/disabled", h.auth(h.setDisabled, true))
	h.mux.Handle("POST "+Prefix+"users/{name}/delete", h.auth(h.deleteUser, true))
	return h, nil
}

// parseTemplates parses one template set per page, each with the layout.
func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"since": since, "bytes": humanBytes, "ts": timestamp,
		"inc": func(i int) int { return i + 1 }, "dec": func(i int) int { return i - 1 },
		"signInCSS": func() template.CSS { return signInCSS },
	}
	pages := map[string]*template.Template{}
	for _, page := range []string{"sign-in", "fleet", "user", "new"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fields.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		pages[page] = t
	}
	return pages, nil
}

// ServeHTTP sets the security headers of every answer and dispatches.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// auth wraps a page that needs a session: without one the browser is sent
// to the sign-in page. A change (a POST) must carry the session's CSRF
// token, or it is refused with 403, as it is for a read-only session.
func (h *handler) auth(next func(http.ResponseWriter, *http.Request, *session), change bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess *session
		if c, err := r.Cookie(sessionCookie); err == nil {
			sess = h.sessions.get(c.Value)
		}
		if sess == nil {
			http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !equal(r.PostFormValue("csrf"), sess.csrf) {
				h.log.Warn("console: CSRF token missing or wrong", "path", r.URL.Path, "client", clientAddr(r).String())
				http.Error(w, "forbidden: the form's CSRF token is missing or wrong; reload the page", http.StatusForbidden)
				return
			}
			if change && sess.readOnly {
				http.Error(w, "forbidden: signed in with a read-only token", http.StatusForbidden)
				return
			}
		}
		next(w, r, sess)
	})
}

// signInView is what the sign-in page shows.
type signInView struct {
	CSRF  string
	Error string
}

// signInPage serves the sign-in form with a fresh CSRF token, also set in
// a cookie of the sign-in path (double submit: the session does not exist
// yet).
func (h *handler) signInPage(w http.ResponseWriter, r *http.Request) {
	h.renderSignIn(w, r, http.StatusOK, "")
}

func (h *handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: token, Path: Prefix + "sign-in",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 3600})
	h.render(w, status, "sign-in", page{Title: "Sign in", Body: signInView{CSRF: token, Error: msg}})
}

// errSignIn is the one refusal of a sign-in, whatever was wrong.
const errSignIn = "Sign-in refused. Check the token or password."

// signIn checks the CSRF token, the throttle, then the token or password.
func (h *handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(signInCookie)
	if err != nil || !equal(r.PostFormValue("csrf"), c.Value) {
		http.Error(w, "forbidden: the form's CSRF token is missing or wrong; reload the sign-in page", http.StatusForbidden)
		return
	}
	addr := clientAddr(r)
	if t := h.cfg.Throttle; t != nil {
		if _, banned := t.AddrBanned(addr); banned {
			h.log.Warn("console: sign-in refused: too many failures", "client", addr.String())
			h.renderSignIn(w, r, http.StatusTooManyRequests, errSignIn)
			return
		}
	}
	readOnly, ok := h.check(r.PostFormValue("token"), r.PostFormValue("password"))
	if !ok {
		if t := h.cfg.Throttle; t != nil {
			t.Failed(addr, "")
		}
		h.log.Warn("console: sign-in refused", "client", addr.String())
		h.renderSignIn(w, r, http.StatusUnauthorized, errSignIn)
		return
	}
	sess := h.sessions.create(readOnly)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.id, Path: Prefix,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(h.cfg.SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Path: Prefix + "sign-in", MaxAge: -1})
	h.log.Info("console: signed in", "client", addr.String(), "read_only", readOnly)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// check returns whether token (an admin token) or password (the console
// password) signs in, and whether read-only.
func (h *handler) check(token, password string) (readOnly, ok bool) {
	if token != "" {
		matched, ro := api.MatchToken(h.cfg.Tokens, token)
		return ro, matched
	}
	if password != "" && h.cfg.PasswordHash != "" {
		ok, err := auth.VerifyPassword(h.cfg.PasswordHash, password)
		return false, ok && err == nil
	}
	return false, false
}

// signOut ends the session.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request, sess *session) {
	h.sessions.end(sess.id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
}

// page is what the layout renders around a page's Body.
type page struct {
	Title    string
	CSRF     string // empty on the sign-in page: no session, no sign-out form
	ReadOnly bool
	Flash    string
	Body     any
}

// render executes the page's template; a failure is logged (the status
// line is already sent).
func (h *handler) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := h.pages[name].Execute(w, p); err != nil {
		h.log.Error("console: rendering", "page", name, "err", err)
	}
}

// internal answers 500 for an error the administrator cannot fix: it is
// logged, not shown.
func (h *handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("console: internal error", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error; see the gateway's log", http.StatusInternalServerError)
}

// clientAddr is the address the request came from.
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// requestContext bounds the store calls of one request.
func requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
