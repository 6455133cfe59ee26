// Package apitest checks an HTTP API against its OpenAPI 3 document in
// tests: a Contract wraps the real handler of a test server and reports every
// exchange that the document does not describe, and tells which documented
// operations and fields no test exchange has used.
//
// To put new routes under the check, document them and send the tests'
// requests through Contract.Handler; Missing then fails the run until a test
// reaches each new operation and field:
//
//	c, err := apitest.New(apitest.Config{Document: doc, UnroutedSchema: "Error"})
//	srv := httptest.NewServer(c.Handler(t, handler))
//	// ... after every test (TestMain): c.Missing() must be empty
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// Reporter receives the violations a Contract finds; *testing.T is one. It
// is called from the goroutine that serves the request.
type Reporter interface {
	Errorf(format string, args ...any)
}

// Config holds what New needs.
type Config struct {
	// Document is the OpenAPI 3.0 document, in YAML or JSON. It may not
	// refer to other files. Required.
	Document []byte
	// UnroutedSchema names the schema, under components/schemas, of the
	// body of the 404 and 405 answers to requests that match no documented
	// operation. Required.
	UnroutedSchema string
}

// Contract is a loaded, valid OpenAPI document and a record of what the
// checked exchanges used of it. Its methods are safe for concurrent use.
type Contract struct {
	doc      *openapi3.T
	unrouted *openapi3.SchemaRef

	mu sync.Mutex
	// used maps every documented operation ("GET /path") and field
	// ("Schema.field", "Schema.field (request)" in request bodies) to
	// whether a checked exchange used it.
	used      map[string]bool
	exchanges int // exchanges checked
}

// New loads cfg.Document and validates it with kin-openapi (structure,
// references, examples against their schemas, no unknown keys). It returns
// an error naming the first problem if the document is not valid or the
// unrouted schema is missing.
func New(cfg Config) (*Contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(cfg.Document)
	if err != nil {
		return nil, fmt.Errorf("apitest: load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("apitest: the OpenAPI document is not valid: %w", err)
	}
	unrouted := doc.Components.Schemas[cfg.UnroutedSchema]
	if unrouted == nil {
		return nil, fmt.Errorf("apitest: the document has no schema %q for unrouted answers", cfg.UnroutedSchema)
	}
	c := &Contract{doc: doc, unrouted: unrouted, used: map[string]bool{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			c.used[method+" "+path] = false
			if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Value.Content {
					c.declare(mt.Schema, method+" "+path+" request", requestSuffix, map[string]bool{})
				}
			}
			for _, res := range op.Responses.Map() {
				for _, mt := range res.Value.Content {
					c.declare(mt.Schema, method+" "+path+" response", "", map[string]bool{})
				}
			}
		}
	}
	c.declare(unrouted, cfg.UnroutedSchema, "", map[string]bool{})
	return c, nil
}

// requestSuffix marks the fields of request bodies: a field counts as used
// there only when the server accepted a request that held it.
const requestSuffix = " (request)"

// Handler returns h wrapped in the check: every exchange through it is
// checked against the document, and each violation goes to r. h's response
// reaches the client unchanged.
func (c *Contract) Handler(r Reporter, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			r.Errorf("contract: %s %s: read the request body: %v", req.Method, req.URL, err)
			http.Error(w, "contract check: cannot read the request body", http.StatusInternalServerError)
			return
		}
		checked := req.Clone(context.WithoutCancel(req.Context()))
		checked.Body = io.NopCloser(bytes.NewReader(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		if err := c.Check(checked, res); err != nil {
			r.Errorf("contract: %s %s answered %d: %v", req.Method, req.URL, res.StatusCode, err)
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// Check checks one exchange: req (whose body it reads) and the response res
// (whose body it reads and puts back). It returns an error describing every
// way in which the exchange departs from the document:
//   - a request that matches no documented operation must answer 404 (no such
//     path) or 405 (no such method) with a body of the unrouted schema;
//   - a request that the document refuses must answer 4xx, and 401 if it
//     lacks the credentials the operation requires;
//   - the status must be documented for the operation, the headers and the
//     body must match that response (a HEAD is checked as its GET, without
//     the body), and a response documented without content has no body.
//
// It also records which operations and fields the exchange used.
func (c *Contract) Check(req *http.Request, res *http.Response) error {
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("read the response body: %w", err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	head := req.Method == http.MethodHead
	if head {
		req.Method = http.MethodGet
	}
	route, params, err := findRoute(c.doc, req)
	if err != nil {
		c.mark("")
		return c.checkUnrouted(err, res, body)
	}
	op := route.Method + " " + route.Path
	c.mark(op)

	opts := &openapi3filter.Options{AuthenticationFunc: authenticate, IncludeResponseStatus: true}
	opts.WithCustomSchemaErrorFunc(schemaError)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	var errs []error
	reqErr := openapi3filter.ValidateRequest(req.Context(), in)
	var secErr *openapi3filter.SecurityRequirementsError
	switch {
	case errors.As(reqErr, &secErr) && res.StatusCode != http.StatusUnauthorized:
		errs = append(errs, fmt.Errorf("want 401 for a request without the credentials the document requires (%w)", reqErr))
	case reqErr != nil && (res.StatusCode < 400 || res.StatusCode > 499):
		errs = append(errs, fmt.Errorf("want 4xx for a request the document refuses (%w)", reqErr))
	}

	documented := route.Operation.Responses.Status(res.StatusCode)
	if documented == nil {
		return errors.Join(append(errs, fmt.Errorf("status %d is not documented for %s", res.StatusCode, op))...)
	}
	if head {
		// The document describes GET; HEAD has its status and no body.
		return errors.Join(errs...)
	}
	resIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(req.Context(), resIn); err != nil {
		errs = append(errs, err)
	}
	if len(documented.Value.Content) == 0 && len(body) > 0 {
		errs = append(errs, fmt.Errorf("a %d response of %s has no body, got %q", res.StatusCode, op, body))
	}
	if mt := documented.Value.Content.Get(res.Header.Get("Content-Type")); mt != nil {
		c.cover(mt.Schema, decodeJSON(body), op+" response", "")
	}
	if reqErr == nil && res.StatusCode < 300 && route.Operation.RequestBody != nil {
		if mt := route.Operation.RequestBody.Value.Content.Get(req.Header.Get("Content-Type")); mt != nil {
			reqBody, _ := io.ReadAll(req.Body)
			c.cover(mt.Schema, decodeJSON(reqBody), op+" request", requestSuffix)
		}
	}
	return errors.Join(errs...)
}

// checkUnrouted checks the answer to a request that matches no documented
// operation: 404 for an unknown path, 405 for an unknown method, with a body
// of the unrouted schema.
func (c *Contract) checkUnrouted(routeErr error, res *http.Response, body []byte) error {
	want := http.StatusNotFound
	if errors.Is(routeErr, errNoMethod) {
		want = http.StatusMethodNotAllowed
	}
	var errs []error
	if res.StatusCode != want {
		errs = append(errs, fmt.Errorf("want %d for a request that matches no documented operation (%w)", want, routeErr))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		errs = append(errs, fmt.Errorf("Content-Type %q, want application/json", ct))
	}
	v := decodeJSON(body)
	if err := c.unrouted.Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.SetSchemaErrorMessageCustomizer(schemaError)); err != nil {
		errs = append(errs, fmt.Errorf("body %q does not match the unrouted schema: %w", body, err))
	}
	c.cover(c.unrouted, v, "", "")
	return errors.Join(errs...)
}

// authenticate checks the credentials the document requires: for an HTTP
// bearer scheme, an Authorization header with a bearer token. Whether the
// token is one the server knows is the server's business (401 is documented).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q: only HTTP bearer is supported by the check", in.SecuritySchemeName)
	}
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// schemaError is the message of a value that does not match its schema:
// where and why, without the schema and the value kin-openapi adds.
func schemaError(err *openapi3.SchemaError) string {
	msg := fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
	var origin *openapi3.SchemaError
	if errors.As(err.Origin, &origin) {
		msg += ": " + schemaError(origin)
	}
	return msg
}

// decodeJSON returns body decoded as JSON, or nil if it is not JSON.
func decodeJSON(body []byte) any {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil
	}
	return v
}
