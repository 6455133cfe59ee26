package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth/api"
)

// TestHealth checks /healthz and /readyz, with no token, when ready and
// when not.
func TestHealth(t *testing.T) {
	t.Parallel()
	// The cause of a failed readiness check is logged, never shown.
	const cause = "s3 endpoint s3.internal.example:9000 refused the connection"
	tests := []struct {
		name        string
		ready       func(context.Context) error
		readyStatus int
	}{
		{"no check", nil, 200},
		{"ready", func(ctx context.Context) error { return ctx.Err() }, 200},
		{"not ready", func(context.Context) error { return errors.New(cause) }, 503},
		{"check times out", func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return nil // the test fails: a check must get a deadline
			}
			return context.DeadlineExceeded
		}, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, openSQLite, func(c *api.Config) { c.Ready = tt.ready })
			if r := s.do(t, "GET", "/healthz", "", ""); r.status != 200 || string(r.body) != "{\"status\":\"ok\"}\n" {
				t.Errorf("healthz: %d %q", r.status, r.body)
			}
			r := s.do(t, "GET", "/readyz", "", "")
			if r.status != tt.readyStatus {
				t.Errorf("readyz: %d %s, want %d", r.status, r.body, tt.readyStatus)
			}
			if r.status == 503 {
				if e := r.apiError(t); e.Code != "unavailable" || strings.Contains(string(r.body), "s3.internal") {
					t.Errorf("readyz: %+v", e)
				}
				if tt.name == "not ready" && !strings.Contains(s.logs.String(), cause) {
					t.Errorf("the cause is not in the log:\n%s", s.logs)
				}
			}
		})
	}
}
