package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
)

// apiServer is the running admin API (users, health checks).
type apiServer struct {
	addr           string
	generatedToken string // set when no token was configured
	srv            *http.Server
	done           chan error
}

// startAPI serves the admin API (and /metrics) on c.APIListen. Without a configured token
// (only allowed on loopback, see validate) it generates one for this run.
func startAPI(c *loadedConfig, m *auth.Manager, ready func(context.Context) error, metrics http.Handler, log *slog.Logger) (*apiServer, error) {
	a := &apiServer{done: make(chan error, 1)}
	tokens := c.apiTokens
	if len(tokens) == 0 {
		a.generatedToken = rand.Text()
		tokens = []api.Token{api.PlainToken(a.generatedToken, false)}
	}
	h, err := api.NewHandler(api.Config{Manager: m, Tokens: tokens, Ready: ready, Metrics: metrics, Logger: log})
	if err != nil {
		return nil, err
	}
	if h, err = withConsole(h, c, m, tokens, log); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.APIListen)
	if err != nil {
		return nil, fmt.Errorf("api-listen: %w", err)
	}
	a.addr = ln.Addr().String()
	a.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { a.done <- a.srv.Serve(ln) }()
	log.Info("admin API listening", "address", a.addr)
	return a, nil
}

// shutdown stops the API, waiting up to 5 s for requests in flight.
func (a *apiServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	<-a.done // http.ErrServerClosed
}

// redactURL returns u with any password replaced, for printing.
func redactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return parsed.Redacted()
}
