package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/s3ftp/s3ftp/auth"
)

// Sentinel errors of the admin API. The server maps them to statuses; the
// Client returns errors wrapping them for the matching responses.
var (
	// ErrUnauthorized: no bearer token, or one that matches no configured
	// token (401).
	ErrUnauthorized = errors.New("api: missing or invalid token")
	// ErrForbidden: a read-only token asked for a change (403).
	ErrForbidden = errors.New("api: token is read-only")
)

// Error codes, the "code" of an Error. Scripts may branch on them; they never
// change meaning.
const (
	codeInvalid          = "invalid"            // 400: bad field, malformed JSON, bad query parameter
	codeUnauthorized     = "unauthorized"       // 401
	codeForbidden        = "forbidden"          // 403
	codeNotFound         = "not_found"          // 404: no such user
	codeRouteNotFound    = "route_not_found"    // 404: no such route
	codeMethodNotAllowed = "method_not_allowed" // 405
	codeExists           = "exists"             // 409
	codeTooLarge         = "too_large"          // 413
	codeUnavailable      = "unavailable"        // 503: not ready
	codeInternal         = "internal"           // 500: details are in the server's log
)

// Error is the body of every error response, as {"error": Error}, and the
// error the Client returns for a response it has no sentinel for.
//
// Message is meant for people and is safe to show: it never holds internal
// details, secrets or request bodies. Field, when set, is the JSON name of the
// field (or query parameter) at fault.
type Error struct {
	Status  int    `json:"-"` // HTTP status code
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Error returns "api: STATUS CODE: FIELD: MESSAGE", without the code or the
// field if they are empty.
func (e *Error) Error() string {
	s := fmt.Sprintf("api: %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	s += ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Message
}

// Unwrap returns the sentinel error that e's code stands for (auth.ErrNotFound,
// auth.ErrExists, auth.ErrInvalid, ErrUnauthorized, ErrForbidden), or nil.
func (e *Error) Unwrap() error {
	switch e.Code {
	case codeNotFound:
		return auth.ErrNotFound
	case codeExists:
		return auth.ErrExists
	case codeInvalid:
		return auth.ErrInvalid
	case codeUnauthorized:
		return ErrUnauthorized
	case codeForbidden:
		return ErrForbidden
	}
	return nil
}

// errorBody is the JSON form of every error response.
type errorBody struct {
	Error Error `json:"error"`
}

// badRequest returns a 400 Error for field (which may be empty).
func badRequest(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeInvalid, Field: field, Message: msg}
}

// toError is the one mapping from errors to responses. It returns the Error
// to send and whether err is internal: then the response says only "internal
// error" and the caller must log err.
func toError(err error) (e *Error, internal bool) {
	var (
		apiErr   *Error
		fieldErr *auth.FieldError
		tooLarge *http.MaxBytesError
		notReady *notReadyError
	)
	switch {
	case errors.As(err, &apiErr):
		return apiErr, false
	case errors.As(err, &notReady):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "not ready"}, true
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}, false
	case errors.As(err, &fieldErr):
		return badRequest(fieldErr.Field, fieldErr.Message), false
	case errors.Is(err, auth.ErrInvalid):
		return badRequest("", "invalid user"), false
	case errors.Is(err, ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "a valid bearer token is required"}, false
	case errors.Is(err, ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: codeForbidden, Message: "this token may only read"}, false
	case errors.Is(err, auth.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: "user not found"}, false
	case errors.Is(err, auth.ErrExists):
		return &Error{Status: http.StatusConflict, Code: codeExists, Message: "a user with that name already exists"}, false
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the user store did not answer in time"}, true
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"}, true
}
