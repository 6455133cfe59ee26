package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/s3ftp/s3ftp/auth"
)

// maxResponseBytes caps how much of a response the Client reads: a page of
// 1000 users is well under 2 MiB.
const maxResponseBytes = 32 << 20

// Client drives the admin API of a server, with the same methods and the
// same errors as auth.Manager, so the command line can manage users either
// way. It is safe for concurrent use if HTTP is.
//
// Errors: a 404 for a missing user wraps auth.ErrNotFound, a 409 wraps
// auth.ErrExists, a 400 naming a field is a *auth.FieldError (wrapping
// auth.ErrInvalid), a 401 wraps ErrUnauthorized and a 403 ErrForbidden. Any
// other error response is an *Error with its status, code and message. No
// error contains the token.
type Client struct {
	// BaseURL is where the server is, such as "http://127.0.0.1:8080"; the
	// routes' paths (/api/v1/users...) are appended to it.
	BaseURL string
	// Token is the admin token sent as "Authorization: Bearer Token".
	Token string
	// HTTP sends the requests. Nil means http.DefaultClient.
	HTTP *http.Client
}

// Get returns the user called name, or an error wrapping auth.ErrNotFound
// (or a *auth.FieldError for a malformed name).
func (c *Client) Get(ctx context.Context, name string) (*auth.User, error) {
	p, err := userPath(name)
	if err != nil {
		return nil, err
	}
	var u userJSON
	if err := c.do(ctx, http.MethodGet, p, nil, nil, &u); err != nil {
		return nil, err
	}
	return u.toUser()
}

// List returns up to limit users whose names sort after after, in name
// order, like auth.Manager.List. A limit from 1 to 1000 takes one request:
// one page. A limit <= 0 (every user) or above 1000 takes as many requests
// as needed, following the pages' "next"; users created or deleted meanwhile
// may or may not be listed.
func (c *Client) List(ctx context.Context, after string, limit int) ([]*auth.User, error) {
	users := []*auth.User{}
	for {
		n := maxListLimit
		if limit > 0 {
			n = min(limit-len(users), maxListLimit)
		}
		q := url.Values{"limit": {strconv.Itoa(n)}}
		if after != "" {
			q.Set("after", after)
		}
		var page userListJSON
		if err := c.do(ctx, http.MethodGet, usersPath, q, nil, &page); err != nil {
			return nil, err
		}
		for _, j := range page.Users {
			u, err := j.toUser()
			if err != nil {
				return nil, fmt.Errorf("api: list users: %w", err)
			}
			users = append(users, u)
		}
		if page.Next == "" || (limit > 0 && len(users) >= limit) {
			return users, nil
		}
		if page.Next <= after {
			return nil, fmt.Errorf("api: list users: the server's next page (%q) does not advance", page.Next)
		}
		after = page.Next
	}
}

// Create adds a user called name with the fields of p, as
// auth.Manager.Create does. It returns an error wrapping auth.ErrExists or
// auth.ErrInvalid (a *auth.FieldError).
func (c *Client) Create(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error) {
	var u userJSON
	if err := c.do(ctx, http.MethodPost, usersPath, nil, toPatchJSON(name, p), &u); err != nil {
		return nil, err
	}
	return u.toUser()
}

// Update changes the fields p sets in the user called name (PATCH), as
// auth.Manager.Update does. It returns an error wrapping auth.ErrNotFound or
// auth.ErrInvalid.
func (c *Client) Update(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error) {
	return c.change(ctx, http.MethodPatch, name, p)
}

// Replace sets every field of the user called name from p (PUT), as
// auth.Manager.Replace does: fields p leaves nil take their zero value, the
// password is kept unless p gives one. It returns an error wrapping
// auth.ErrNotFound or auth.ErrInvalid.
func (c *Client) Replace(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error) {
	return c.change(ctx, http.MethodPut, name, p)
}

func (c *Client) change(ctx context.Context, method, name string, p auth.UserPatch) (*auth.User, error) {
	path, err := userPath(name)
	if err != nil {
		return nil, err
	}
	var u userJSON
	if err := c.do(ctx, method, path, nil, toPatchJSON("", p), &u); err != nil {
		return nil, err
	}
	return u.toUser()
}

// SetPassword replaces the password of the user called name with password
// (hashed by the server) or hash (imported), exactly one of which must be
// non-empty. It returns an error wrapping auth.ErrNotFound or
// auth.ErrInvalid.
func (c *Client) SetPassword(ctx context.Context, name, password, hash string) error {
	path, err := userPath(name)
	if err != nil {
		return err
	}
	body := struct {
		Password     string `json:"password,omitempty"`
		PasswordHash string `json:"password_hash,omitempty"`
	}{password, hash}
	return c.do(ctx, http.MethodPost, path+"/password", nil, body, nil)
}

// Delete removes the user called name, or returns an error wrapping
// auth.ErrNotFound. Their files stay in S3.
func (c *Client) Delete(ctx context.Context, name string) error {
	path, err := userPath(name)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, path, nil, nil, nil)
}

// userPath returns the path of the user called name, or the
// *auth.FieldError auth.Manager would return for a malformed name.
func userPath(name string) (string, error) {
	n, err := auth.NormalizeName(name)
	if err != nil {
		return "", err
	}
	return usersPath + "/" + url.PathEscape(n), nil
}

// do sends a request with in (if not nil) as its JSON body and decodes the
// JSON response into out (if not nil). An error response is turned into an
// error by responseError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("api: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", contentTypeJSON)
	if in != nil {
		req.Header.Set("Content-Type", contentTypeJSON)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("api: %w", err) // a *url.Error: method and URL, never headers
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("api: %s %s: reading the response: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return responseError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("api: %s %s: decoding the response: %w", method, path, err)
	}
	return nil
}

// responseError returns the error for an error response: a *auth.FieldError
// for a 400 naming a field, else an *Error (which wraps the sentinel its code
// stands for). A body that is not an API error, say from a proxy, gives an
// *Error with the status alone, and the code "unauthorized" or "forbidden"
// for a 401 or a 403; its content is not repeated.
func responseError(status int, data []byte) error {
	var body errorBody
	if err := json.Unmarshal(data, &body); err != nil || body.Error.Code == "" {
		e := &Error{Status: status, Message: http.StatusText(status)}
		switch status {
		case http.StatusUnauthorized:
			e.Code = codeUnauthorized
		case http.StatusForbidden:
			e.Code = codeForbidden
		}
		return e
	}
	e := body.Error
	e.Status = status
	if status == http.StatusBadRequest && e.Code == codeInvalid && e.Field != "" {
		return &auth.FieldError{Field: e.Field, Message: e.Message}
	}
	return &e
}
