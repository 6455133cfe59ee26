package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// contentTypeJSON is the Content-Type of every response but the OpenAPI
// document.
const contentTypeJSON = "application/json"

// userJSON is a user as the API shows it. It has no password fields: the
// password and its hash are write-only.
type userJSON struct {
	Name            string   `json:"name"`
	Bucket          string   `json:"bucket"`
	Prefix          string   `json:"prefix"`
	Permissions     []string `json:"permissions"`
	AllowedNetworks []string `json:"allowed_networks"`
	RequireTLS      bool     `json:"require_tls"`
	Disabled        bool     `json:"disabled"`
	Description     string   `json:"description"`
	// ExpectUploadEvery is a Go duration string ("1h0m0s"), "" for none.
	ExpectUploadEvery string    `json:"expect_upload_every"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// userListJSON is one page of users.
type userListJSON struct {
	Users    []userJSON                     `json:"users"`
	Activity map[string]activitySummaryJSON `json:"activity"`       // by name, for every user of Users
	Next     string                         `json:"next,omitempty"` // set only when more users follow
}

// toUserJSON returns the API form of u: permissions as names, networks as
// CIDR strings (both [] rather than null when empty), times in UTC.
func toUserJSON(u *auth.User) userJSON {
	networks := make([]string, len(u.AllowedNetworks))
	for i, n := range u.AllowedNetworks {
		networks[i] = n.String()
	}
	return userJSON{
		Name: u.Name, Bucket: u.Bucket, Prefix: u.Prefix,
		Permissions: u.Permissions.Names(), AllowedNetworks: networks,
		RequireTLS: u.RequireTLS, Disabled: u.Disabled, Description: u.Description,
		ExpectUploadEvery: auth.FormatExpectUploadEvery(u.ExpectUploadEvery),
		CreatedAt:         u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
}

// toUser is the inverse of toUserJSON, for the Client. It returns a
// *auth.FieldError if a permission or network does not parse.
func (j userJSON) toUser() (*auth.User, error) {
	perms, err := auth.ParsePermissions(j.Permissions)
	if err != nil {
		return nil, err
	}
	networks, err := parseNetworks(j.AllowedNetworks)
	if err != nil {
		return nil, err
	}
	every, err := auth.ParseExpectUploadEvery(j.ExpectUploadEvery)
	if err != nil {
		return nil, err
	}
	return &auth.User{
		Name: j.Name, Bucket: j.Bucket, Prefix: j.Prefix, Permissions: perms,
		AllowedNetworks: networks, RequireTLS: j.RequireTLS, Disabled: j.Disabled,
		Description: j.Description, ExpectUploadEvery: every,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
	}, nil
}

// parseNetworks parses CIDR networks ("192.0.2.0/24") or single addresses
// ("192.0.2.7", taken as /32 or /128). A bad entry is a *auth.FieldError for
// "allowed_networks" that gives its index, not its value.
func parseNetworks(s []string) ([]netip.Prefix, error) {
	if len(s) == 0 {
		return nil, nil
	}
	networks := make([]netip.Prefix, len(s))
	for i, v := range s {
		n, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				return nil, &auth.FieldError{Field: "allowed_networks",
					Message: fmt.Sprintf("entry %d is not a network in CIDR notation (192.0.2.0/24) or an address", i)}
			}
			n = netip.PrefixFrom(a, a.BitLen())
		}
		networks[i] = n
	}
	return networks, nil
}

// opt is a JSON field that remembers whether it was present and whether it
// was null, which a pointer cannot tell apart.
type opt[T any] struct {
	set, null bool
	v         T
}

// UnmarshalJSON records that the field was present and decodes it.
func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.null = true
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

// ptr returns nil for an absent field, else a pointer to its value.
func (o opt[T]) ptr() *T {
	if !o.set {
		return nil
	}
	return &o.v
}

// userInput is the body of POST, PUT and PATCH on users. created_at and
// updated_at are accepted and ignored, so that what GET returns can be edited
// and sent back.
type userInput struct {
	Name            opt[string]   `json:"name"`
	Password        opt[string]   `json:"password"`
	PasswordHash    opt[string]   `json:"password_hash"`
	Bucket          opt[string]   `json:"bucket"`
	Prefix          opt[string]   `json:"prefix"`
	Permissions     opt[[]string] `json:"permissions"`
	AllowedNetworks opt[[]string] `json:"allowed_networks"`
	RequireTLS      opt[bool]     `json:"require_tls"`
	Disabled        opt[bool]     `json:"disabled"`
	Description     opt[string]   `json:"description"`
	// ExpectUploadEvery is a Go duration string; "" clears it.
	ExpectUploadEvery opt[string] `json:"expect_upload_every"`
	CreatedAt         opt[string] `json:"created_at"`
	UpdatedAt         opt[string] `json:"updated_at"`
}

// patch returns the change in, with absent fields nil. No field may be null:
// it is a *auth.FieldError naming the field (the API has no "unset": send the
// empty value, "", [] or false, instead).
func (in *userInput) patch() (auth.UserPatch, error) {
	nulls := []struct {
		name string
		null bool
	}{
		{"name", in.Name.null}, {"password", in.Password.null}, {"password_hash", in.PasswordHash.null},
		{"bucket", in.Bucket.null}, {"prefix", in.Prefix.null}, {"permissions", in.Permissions.null},
		{"allowed_networks", in.AllowedNetworks.null}, {"require_tls", in.RequireTLS.null},
		{"disabled", in.Disabled.null}, {"description", in.Description.null},
		{"expect_upload_every", in.ExpectUploadEvery.null},
		{"created_at", in.CreatedAt.null}, {"updated_at", in.UpdatedAt.null},
	}
	for _, n := range nulls {
		if n.null {
			return auth.UserPatch{}, &auth.FieldError{Field: n.name, Message: `must not be null (send "", [] or false to clear it)`}
		}
	}
	p := auth.UserPatch{
		Password: in.Password.ptr(), PasswordHash: in.PasswordHash.ptr(),
		Bucket: in.Bucket.ptr(), Prefix: in.Prefix.ptr(),
		RequireTLS: in.RequireTLS.ptr(), Disabled: in.Disabled.ptr(), Description: in.Description.ptr(),
	}
	if in.Permissions.set {
		perms, err := auth.ParsePermissions(in.Permissions.v)
		if err != nil {
			return auth.UserPatch{}, err
		}
		p.Permissions = &perms
	}
	if in.AllowedNetworks.set {
		networks, err := parseNetworks(in.AllowedNetworks.v)
		if err != nil {
			return auth.UserPatch{}, err
		}
		p.AllowedNetworks = &networks
	}
	if in.ExpectUploadEvery.set {
		every, err := auth.ParseExpectUploadEvery(in.ExpectUploadEvery.v)
		if err != nil {
			return auth.UserPatch{}, err
		}
		p.ExpectUploadEvery = &every
	}
	return p, nil
}

// patchJSON is what the Client sends for a UserPatch: only the fields set.
type patchJSON struct {
	Name              string    `json:"name,omitempty"`
	Password          *string   `json:"password,omitempty"`
	PasswordHash      *string   `json:"password_hash,omitempty"`
	Bucket            *string   `json:"bucket,omitempty"`
	Prefix            *string   `json:"prefix,omitempty"`
	Permissions       *[]string `json:"permissions,omitempty"`
	AllowedNetworks   *[]string `json:"allowed_networks,omitempty"`
	RequireTLS        *bool     `json:"require_tls,omitempty"`
	Disabled          *bool     `json:"disabled,omitempty"`
	Description       *string   `json:"description,omitempty"`
	ExpectUploadEvery *string   `json:"expect_upload_every,omitempty"`
}

// toPatchJSON returns the body for p, with name set if it is not empty.
func toPatchJSON(name string, p auth.UserPatch) patchJSON {
	j := patchJSON{
		Name: name, Password: p.Password, PasswordHash: p.PasswordHash,
		Bucket: p.Bucket, Prefix: p.Prefix, RequireTLS: p.RequireTLS,
		Disabled: p.Disabled, Description: p.Description,
	}
	if p.Permissions != nil {
		names := p.Permissions.Names()
		j.Permissions = &names
	}
	if p.ExpectUploadEvery != nil {
		every := auth.FormatExpectUploadEvery(*p.ExpectUploadEvery)
		j.ExpectUploadEvery = &every
	}
	if p.AllowedNetworks != nil {
		networks := make([]string, len(*p.AllowedNetworks))
		for i, n := range *p.AllowedNetworks {
			networks[i] = n.String()
		}
		j.AllowedNetworks = &networks
	}
	return j
}

// passwordInput is the body of POST /api/v1/users/{name}/password: exactly
// one of the two fields.
type passwordInput struct {
	Password     string `json:"password"`
	PasswordHash string `json:"password_hash"`
}

// decode reads exactly one JSON object from r's body into v, which must not
// have fields the struct does not know. The body must already be capped with
// http.MaxBytesReader. Errors are *Error (400) naming the field where one is
// at fault, or the *http.MaxBytesError. No error repeats the body's content.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err)
		}
		return badRequest("", "the body must hold exactly one JSON value")
	}
	if raw[0] != '{' {
		return badRequest("", "the body must be a JSON object")
	}
	obj := json.NewDecoder(bytes.NewReader(raw))
	obj.DisallowUnknownFields()
	if err := obj.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// decodeError turns an error of encoding/json into one safe to show: the
// messages of encoding/json name Go types and may quote the input.
func decodeError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		field    *auth.FieldError
	)
	switch {
	case errors.As(err, &tooLarge), errors.As(err, &field):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("", "the body is empty; it must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the body ends in the middle of a JSON value")
	case errors.As(err, &syntax):
		return badRequest("", fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
	case errors.As(err, &typ):
		return badRequest(typ.Field, fmt.Sprintf("must be %s, not %s", jsonType(typ.Type), article(typ.Value)))
	}
	if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
		name = strings.TrimSuffix(name, `"`)
		return badRequest(name, "unknown field")
	}
	return badRequest("", "malformed JSON")
}

// jsonType names the JSON type that holds a Go value of type t.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonType(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a number"
}

// article puts "a" or "an" before a JSON type name from encoding/json.
func article(value string) string {
	value, _, _ = strings.Cut(value, " ") // "number 1e999": keep only the type
	if value == "" {
		return "that"
	}
	if strings.ContainsRune("aeiou", rune(value[0])) {
		return "an " + value
	}
	return "a " + value
}

// writeJSON sends v as the JSON body of a response with the given status.
// A nil v sends no body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only the types of this package are sent, and they always marshal.
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
