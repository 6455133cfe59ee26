// Package api is the HTTP admin API of the gateway's users: create, read,
// change and delete users without restarting anything, from scripts and
// provisioning tools, with bearer admin tokens. It also serves /healthz,
// /readyz and its own OpenAPI document, and holds the Client the command
// line uses to drive a remote server.
//
// Every change goes through auth.Manager, so the API applies the same rules
// as the command line. Passwords, password hashes and tokens never appear in
// responses, errors or logs.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/s3ftp/s3ftp/auth"
)

// DefaultMaxBodyBytes is the largest request body the API reads unless
// Config.MaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 64 << 10

// Config holds what NewHandler needs. Manager is required; every other field
// has a default.
type Config struct {
	// Manager applies every change to the users. Required.
	Manager *auth.Manager
	// Tokens are the admin tokens accepted on /api/v1/users. With none,
	// every request there answers 401; see CheckListenAddr for the rule
	// about where such an API may listen.
	Tokens []Token
	// Ready reports whether the gateway can serve (user store and S3
	// reachable), for /readyz; it is called with a context that ends after
	// readyTimeout. Nil: always ready.
	Ready func(ctx context.Context) error
	// Logger receives one line per request that changes state, per refused
	// token and per internal error. Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies; a larger one answers 413. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Metrics serves GET /metrics (the Prometheus text format), without a
	// token like the health checks. Nil: /metrics answers an empty body in
	// that format.
	Metrics http.Handler
}

// withDefaults returns c with every unset optional field set to its default.
func (c Config) withDefaults() Config {
	if c.Ready == nil {
		c.Ready = func(context.Context) error { return nil }
	}
	if c.Metrics == nil {
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		})
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	c.Tokens = slices.Clone(c.Tokens)
	return c
}

// server serves the routes of the route table.
type server struct {
	cfg    Config
	tokens tokenChecker
	log    *slog.Logger
	mux    *http.ServeMux
}

// NewHandler returns the handler of the admin API: the routes of Routes()
// on a ServeMux, each behind the token check it needs, with JSON 404 and 405
// answers for anything else. It returns an error if cfg.Manager is nil.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Manager == nil {
		return nil, errors.New("api: NewHandler: Config.Manager is required")
	}
	cfg = cfg.withDefaults()
	s := &server{cfg: cfg, tokens: tokenChecker{tokens: cfg.Tokens}, log: cfg.Logger, mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		if rt.direct != nil {
			s.mux.Handle(rt.Method+" "+rt.Path, rt.direct)
			continue
		}
		s.mux.Handle(rt.Method+" "+rt.Path, s.serve(rt))
	}
	return s, nil
}

// ServeHTTP dispatches r to its route, or answers 404 or 405 in JSON where
// the ServeMux would answer in plain text.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	var allowed []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	e := &Error{Status: http.StatusNotFound, Code: codeRouteNotFound, Message: "no such route"}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		e = &Error{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed, Message: "method not allowed; see the Allow header"}
	}
	s.logRequest(r, s.respond(w, r, response{}, e), "", nil)
}

// serve returns the handler of rt: token check, body cap, the route's
// function, the response (or the error mapped by toError), and the log line.
func (s *server) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			res response
			err error
		)
		if !rt.Public {
			var readOnly bool
			readOnly, err = s.tokens.check(r)
			if err == nil && readOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
				err = ErrForbidden
			}
		}
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
			res, err = rt.handle(r)
		}
		if res.user == "" {
			res.user = r.PathValue("name")
		}
		// Log only a well-formed name: whatever else the client sent is
		// not repeated.
		user, nerr := auth.NormalizeName(res.user)
		if nerr != nil {
			user = ""
		}
		status := s.respond(w, r, res, err)
		s.logRequest(r, status, user, err)
	})
}

// respond writes res, or the Error that err maps to, and returns the status
// it sent.
func (s *server) respond(w http.ResponseWriter, r *http.Request, res response, err error) int {
	if err != nil {
		e, _ := toError(err)
		if e.Status == http.StatusUnauthorized {
			challenge := `Bearer realm="s3ftp"`
			if _, ok := bearerToken(r); ok {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
		}
		writeJSON(w, e.Status, errorBody{*e})
		return e.Status
	}
	status := res.status
	if status == 0 {
		status = http.StatusOK
	}
	if res.location != "" {
		w.Header().Set("Location", res.location)
	}
	if raw, ok := res.body.(rawBody); ok {
		w.Header().Set("Content-Type", raw.contentType)
		w.WriteHeader(status)
		w.Write(raw.data)
		return status
	}
	writeJSON(w, status, res.body)
	return status
}
