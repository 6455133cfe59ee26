package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
)

// TestToError checks the one mapping from errors to statuses.
func TestToError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		status   int
		code     string
		field    string
		internal bool
	}{
		{"field error", fmt.Errorf("create: %w", &auth.FieldError{Field: "bucket", Message: "bad"}), 400, "invalid", "bucket", false},
		{"bare invalid", fmt.Errorf("x: %w", auth.ErrInvalid), 400, "invalid", "", false},
		{"api error", badRequest("limit", "bad"), 400, "invalid", "limit", false},
		{"unauthorized", ErrUnauthorized, 401, "unauthorized", "", false},
		{"forbidden", ErrForbidden, 403, "forbidden", "", false},
		{"not found", fmt.Errorf(`user "x": %w`, auth.ErrNotFound), 404, "not_found", "", false},
		{"exists", fmt.Errorf(`user "x": %w`, auth.ErrExists), 409, "exists", "", false},
		{"too large", &http.MaxBytesError{Limit: 10}, 413, "too_large", "", false},
		{"not ready", &notReadyError{errors.New("s3 down")}, 503, "unavailable", "", true},
		{"deadline", fmt.Errorf("sqlite: get: %w", context.DeadlineExceeded), 503, "unavailable", "", true},
		{"other", errors.New("sqlite: disk I/O error at /var/lib/s3ftp/users.db"), 500, "internal", "", true},
	}
	for _, tt := range tests {
		e, internal := toError(tt.err)
		if e.Status != tt.status || e.Code != tt.code || e.Field != tt.field || internal != tt.internal || e.Message == "" {
			t.Errorf("%s: %+v internal=%v; want %d %s field %q internal=%v", tt.name, e, internal, tt.status, tt.code, tt.field, tt.internal)
		}
		if internal && (e.Message != "internal error" && e.Message != "not ready" && e.Message != "the user store did not answer in time") {
			t.Errorf("%s: an internal error shows %q", tt.name, e.Message)
		}
	}
}

// TestErrorUnwrap checks that an Error wraps the sentinel of its code.
func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want error
	}{
		{codeNotFound, auth.ErrNotFound},
		{codeExists, auth.ErrExists},
		{codeInvalid, auth.ErrInvalid},
		{codeUnauthorized, ErrUnauthorized},
		{codeForbidden, ErrForbidden},
		{codeRouteNotFound, nil},
		{codeInternal, nil},
		{"", nil},
	}
	for _, tt := range tests {
		e := &Error{Status: 400, Code: tt.code, Message: "m"}
		if got := e.Unwrap(); got != tt.want {
			t.Errorf("code %q unwraps to %v, want %v", tt.code, got, tt.want)
		}
	}
	if got := (&Error{Status: 400, Code: "invalid", Field: "prefix", Message: "bad"}).Error(); got != "api: 400 invalid: prefix: bad" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Status: 502, Message: "Bad Gateway"}).Error(); got != "api: 502: Bad Gateway" {
		t.Errorf("Error() = %q", got)
	}
}
