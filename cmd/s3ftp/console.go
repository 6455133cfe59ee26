package main

import (
	"log/slog"
	"net/http"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/console"
)

// withConsole returns the admin listener's handler: the web console under
// console.Prefix, apiHandler for everything else. The console signs in
// with tokens or console-password-hash; failed sign-ins are throttled per
// client address as FTP logins are (login-max-failures, login-failure-window).
func withConsole(apiHandler http.Handler, c *loadedConfig, m *auth.Manager, tokens []api.Token, log *slog.Logger) (http.Handler, error) {
	cfg := console.Config{Manager: m, Tokens: tokens, PasswordHash: c.ConsolePasswordHash, Logger: log}
	if c.LoginMaxFailures > 0 {
		t, err := auth.NewThrottle(auth.ThrottleConfig{MaxFailures: c.LoginMaxFailures, Window: c.LoginFailureWindow})
		if err != nil {
			return nil, err
		}
		cfg.Throttle = t
	}
	ch, err := console.NewHandler(cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, ch)
	mux.Handle("/", apiHandler)
	return mux, nil
}
