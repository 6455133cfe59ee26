package auth

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"time"
)

// UserPatch is a change to a user, as an administrator asks for it. A nil
// field is left as it is; Password (hashed here) and PasswordHash (imported
// as is) are mutually exclusive.
type UserPatch struct {
	Password        *string
	PasswordHash    *string
	Bucket          *string
	Prefix          *string
	Permissions     *Permissions
	AllowedNetworks *[]netip.Prefix
	RequireTLS      *bool
	Disabled        *bool
	Description     *string
	// ExpectUploadEvery: see User.ExpectUploadEvery.
	ExpectUploadEvery *time.Duration
}

// apply writes the fields set in p into u, then checks u, hashing a new
// password last so that a change refused for another reason costs no hash.
// hashes bounds how many passwords are hashed at once.
func (p UserPatch) apply(ctx context.Context, u *User, hashes chan struct{}) error {
	if p.Password != nil && p.PasswordHash != nil {
		return &FieldError{Field: "password", Message: "give either password or password_hash, not both"}
	}
	if p.PasswordHash != nil {
		if !IsHash(*p.PasswordHash) {
			return &FieldError{Field: "password_hash", Message: "not an argon2id or bcrypt hash (or its parameters are out of bounds)"}
		}
		u.PasswordHash = *p.PasswordHash
	}
	set(&u.Bucket, p.Bucket)
	set(&u.Prefix, p.Prefix)
	set(&u.Permissions, p.Permissions)
	if p.AllowedNetworks != nil {
		u.AllowedNetworks = append([]netip.Prefix(nil), (*p.AllowedNetworks)...)
	}
	set(&u.RequireTLS, p.RequireTLS)
	set(&u.Disabled, p.Disabled)
	set(&u.Description, p.Description)
	set(&u.ExpectUploadEvery, p.ExpectUploadEvery)
	if err := u.validateProfile(); err != nil {
		return err
	}
	if p.Password != nil {
		if err := checkPasswordLen(*p.Password); err != nil {
			return err
		}
		select {
		case hashes <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		hash, err := HashPassword(*p.Password)
		<-hashes
		if err != nil {
			return err
		}
		u.PasswordHash = hash
	}
	return u.Validate()
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Manager carries out administrative changes to users on a Store: it
// normalizes and validates them and hashes passwords, so that the HTTP API and
// the command line apply the same rules. Users it returns never carry their
// password hash.
type Manager struct {
	store  Store
	hashes chan struct{} // semaphore: passwords being hashed
}

// NewManager returns a Manager of the users in store. It hashes at most
// runtime.NumCPU() passwords at once.
func NewManager(store Store) *Manager {
	return &Manager{store: store, hashes: make(chan struct{}, runtime.NumCPU())}
}

// Get returns the user called name, or an error wrapping ErrNotFound (or
// ErrInvalid for a malformed name).
func (m *Manager) Get(ctx context.Context, name string) (*User, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	u, err := m.store.GetUser(ctx, n)
	if err != nil {
		return nil, err
	}
	return redact(u), nil
}

// List returns up to limit users after the name after (compared case
// insensitively, as names are), in name order.
func (m *Manager) List(ctx context.Context, after string, limit int) ([]*User, error) {
	users, err := m.store.ListUsers(ctx, strings.ToLower(after), limit)
	for i, u := range users {
		users[i] = redact(u)
	}
	return users, err
}

// Create adds a user called name with the fields of p, which must give a
// bucket and a password (or hash); permissions default to none and the
// prefix to "NAME/" (give "" for the whole bucket). It returns an error
// wrapping ErrInvalid (a *FieldError) or ErrExists.
func (m *Manager) Create(ctx context.Context, name string, p UserPatch) (*User, error) {
	if p.Password == nil && p.PasswordHash == nil {
		return nil, &FieldError{Field: "password", Message: "a password or password_hash is required"}
	}
	u := &User{Name: name}
	if p.Prefix == nil {
		p.Prefix = defaultPrefix(name)
	}
	if n, err := NormalizeName(name); err == nil {
		if _, err := m.store.GetUser(ctx, n); err == nil {
			return nil, fmt.Errorf("user %q: %w", n, ErrExists) // before spending a hash on it
		}
	}
	if err := p.apply(ctx, u, m.hashes); err != nil {
		return nil, err
	}
	if err := m.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return redact(u), nil
}

// Update changes the fields of p in the user called name (a nil field keeps
// its value). It returns an error wrapping ErrNotFound or ErrInvalid.
//
// Two concurrent updates of the same user may interleave: the last one to
// write wins for every field.
func (m *Manager) Update(ctx context.Context, name string, p UserPatch) (*User, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	u, err := m.store.GetUser(ctx, n)
	if err != nil {
		return nil, err
	}
	if err := p.apply(ctx, u, m.hashes); err != nil {
		return nil, err
	}
	if err := m.store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	return redact(u), nil
}

// Replace sets every field of the user called name from p, as PUT does:
// fields p leaves nil take their zero value, except the prefix, which takes
// "NAME/" as in Create, and the password, which is kept unless p gives one.
func (m *Manager) Replace(ctx context.Context, name string, p UserPatch) (*User, error) {
	prefix := p.Prefix
	if prefix == nil {
		prefix = defaultPrefix(name)
	}
	full := UserPatch{
		Password: p.Password, PasswordHash: p.PasswordHash,
		Bucket: orZero(p.Bucket), Prefix: prefix, Permissions: orZero(p.Permissions),
		AllowedNetworks: orZero(p.AllowedNetworks), RequireTLS: orZero(p.RequireTLS),
		Disabled: orZero(p.Disabled), Description: orZero(p.Description),
		ExpectUploadEvery: orZero(p.ExpectUploadEvery),
	}
	return m.Update(ctx, name, full)
}

// defaultPrefix is the prefix of a user called name when none is given:
// "name/", so that a forgotten prefix never opens a whole bucket.
func defaultPrefix(name string) *string {
	p := strings.ToLower(name) + "/"
	return &p
}

func orZero[T any](v *T) *T {
	if v == nil {
		return new(T)
	}
	return v
}

// SetPassword replaces the password of the user called name with password
// (hashed) or hash (imported), exactly one of which must be non-empty.
func (m *Manager) SetPassword(ctx context.Context, name, password, hash string) error {
	var p UserPatch
	switch {
	case password != "" && hash == "":
		p.Password = &password
	case hash != "" && password == "":
		p.PasswordHash = &hash
	default:
		return &FieldError{Field: "password", Message: "give either password or password_hash"}
	}
	_, err := m.Update(ctx, name, p)
	return err
}

// Delete removes the user called name, or returns an error wrapping
// ErrNotFound. Their files stay in S3.
func (m *Manager) Delete(ctx context.Context, name string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	return m.store.DeleteUser(ctx, n)
}

// redact returns u without its password hash.
func redact(u *User) *User {
	c := *u
	c.PasswordHash = ""
	c.AllowedNetworks = append([]netip.Prefix(nil), u.AllowedNetworks...)
	return &c
}

// Activity returns the user called name and its activity, counting the 24
// hours before now. A store without the ActivityStore capability shows no
// activity. It returns an error wrapping ErrNotFound (or ErrInvalid for a
// malformed name).
func (m *Manager) Activity(ctx context.Context, name string, now time.Time) (*User, *Activity, error) {
	u, err := m.Get(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	as, ok := m.store.(ActivityStore)
	if !ok {
		return u, &Activity{}, nil
	}
	a, err := as.GetActivity(ctx, u.Name, now)
	if err != nil {
		return nil, nil, err
	}
	return u, a, nil
}

// ListActivity returns the activity (without Recent) of the users that
// List(ctx, after, limit) returns, keyed by name; a user with no activity
// may be missing. A store without the ActivityStore capability returns an
// empty map.
func (m *Manager) ListActivity(ctx context.Context, after string, limit int, now time.Time) (map[string]*Activity, error) {
	as, ok := m.store.(ActivityStore)
	if !ok {
		return map[string]*Activity{}, nil
	}
	return as.ListActivity(ctx, strings.ToLower(after), limit, now)
}
