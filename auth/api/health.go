package api

import (
	"context"
	"net/http"
	"time"
)

// readyTimeout bounds how long /readyz waits for Config.Ready.
const readyTimeout = 5 * time.Second

// statusJSON is the body of /healthz and of a successful /readyz.
type statusJSON struct {
	Status string `json:"status"`
}

// notReadyError is what /readyz fails with: a 503 whose cause is logged,
// not shown.
type notReadyError struct{ err error }

func (e *notReadyError) Error() string { return "not ready: " + e.err.Error() }

func (e *notReadyError) Unwrap() error { return e.err }

// healthz answers 200 while the process can serve HTTP at all.
func (s *server) healthz(*http.Request) (response, error) {
	return response{body: statusJSON{"ok"}}, nil
}

// readyz answers 200 if Config.Ready reports the gateway ready within
// readyTimeout, else 503.
func (s *server) readyz(r *http.Request) (response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		return response{}, &notReadyError{err}
	}
	return response{body: statusJSON{"ready"}}, nil
}
