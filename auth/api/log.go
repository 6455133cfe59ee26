package api

import (
	"context"
	"log/slog"
	"net/http"
)

// logRequest writes the one log line of a request, if it gets one:
//   - an internal error (see toError): level Error, with the error;
//   - a refused token (401, 403): level Warn;
//   - any other request that may change state (not GET or HEAD): level Info;
//   - other reads: level Debug.
//
// The line holds the method, the path (without the query), the status, the
// user acted on and the client address; never a body, a header or a token.
// err is what the route returned, nil if it succeeded.
func (s *server) logRequest(r *http.Request, status int, user string, err error) {
	level := slog.LevelDebug
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
	}
	if user != "" {
		attrs = append(attrs, slog.String("user", user))
	}
	attrs = append(attrs, slog.String("client", r.RemoteAddr))
	internal := false
	if err != nil {
		_, internal = toError(err)
	}
	switch {
	case internal:
		level = slog.LevelError
		attrs = append(attrs, slog.Any("error", err))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		level = slog.LevelWarn
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		level = slog.LevelInfo
	}
	// The request's context may be cancelled already; the line is still due.
	s.log.LogAttrs(context.WithoutCancel(r.Context()), level, "api request", attrs...)
}
