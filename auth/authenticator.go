package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"time"
)

// AuthenticatorConfig holds the optional settings of an Authenticator. The
// zero value is usable; NewAuthenticator fills in the defaults.
type AuthenticatorConfig struct {
	// Static users are kept in memory and never written to the store. One is
	// consulted only when the store has no user of that name (the store
	// wins). Used for the demo user of an unconfigured server. Each must pass
	// Validate; names must be unique.
	Static []*User
	// MaxConcurrentHashes bounds how many password verifications run at once,
	// so a storm of logins cannot take 7 MiB (or more, for imported hashes)
	// per attempt. Default runtime.NumCPU().
	MaxConcurrentHashes int
	// Logger receives one line per failed login. Default: discard.
	Logger *slog.Logger
	// Throttle, when not nil, bans client addresses and user names with too
	// many failed logins (see Throttle).
	Throttle *Throttle
	// LoginCache is how long a successful login's password is remembered
	// (as an HMAC under a per-process key, never the password), so that the
	// same user logging in again with the same password, against the same
	// stored hash, skips the password hash: devices that log in for every
	// file. 0 (the default): every login verifies its password.
	LoginCache time.Duration
	// Now returns the current time, for the login cache. Default time.Now.
	Now func() time.Time
}

// withDefaults returns c with every unset field set to its default.
func (c AuthenticatorConfig) withDefaults() AuthenticatorConfig {
	if c.MaxConcurrentHashes <= 0 {
		c.MaxConcurrentHashes = runtime.NumCPU()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Authenticator checks logins against a Store. It is safe for concurrent use.
type Authenticator struct {
	store    Store
	static   map[string]*User
	hashes   chan struct{} // semaphore: one token per password verification in progress
	dummy    string        // argon2id hash verified for unknown users, so they cost the same
	log      *slog.Logger
	throttle *Throttle   // nil: no throttling
	logins   *loginCache // nil: every login verifies its password
}

// NewAuthenticator returns an Authenticator that looks users up in store,
// then in cfg.Static. It returns an error wrapping ErrInvalid if a static
// user is invalid or two share a name. It computes one argon2id hash (the
// dummy verified for unknown users), which takes up to a tenth of a second.
func NewAuthenticator(store Store, cfg AuthenticatorConfig) (*Authenticator, error) {
	if store == nil {
		return nil, errors.New("auth: NewAuthenticator: nil store")
	}
	cfg = cfg.withDefaults()
	static := make(map[string]*User, len(cfg.Static))
	for i, su := range cfg.Static {
		if su == nil {
			return nil, fmt.Errorf("auth: static user %d: %w", i, ErrInvalid)
		}
		u := cloneUser(su)
		if err := u.Validate(); err != nil {
			return nil, fmt.Errorf("auth: static user %q: %w", su.Name, err)
		}
		if _, dup := static[u.Name]; dup {
			return nil, fmt.Errorf("auth: static user %q listed twice: %w", u.Name, ErrInvalid)
		}
		static[u.Name] = u
	}
	// The dummy password is random and thrown away: nothing can match it.
	dummy, err := HashPassword(rand.Text())
	if err != nil {
		return nil, fmt.Errorf("auth: dummy hash: %w", err)
	}
	return &Authenticator{
		store:    store,
		static:   static,
		hashes:   make(chan struct{}, cfg.MaxConcurrentHashes),
		dummy:    dummy,
		log:      cfg.Logger,
		throttle: cfg.Throttle,
		logins:   newLoginCache(cfg.LoginCache, cfg.Now),
	}, nil
}

// Reasons for a failed login. They go to the log, never to the client.
const (
	reasonInvalidName = "invalid name"
	reasonUnknownUser = "unknown user"
	reasonBadPassword = "wrong password"
	reasonBadHash     = "unusable password hash"
	reasonDisabled    = "user disabled"
	reasonNetwork     = "client network not allowed"
	reasonThrottled   = "too many failed logins"
)

// ErrThrottled is returned (it wraps ErrDenied) for a login refused because
// the client address or the user name has too many recent failures.
var ErrThrottled = fmt.Errorf("too many failed logins: %w", ErrDenied)

// AddrBanned reports whether logins from addr are refused for now because of
// too many failures, so that a server can turn the client away on connection.
func (a *Authenticator) AddrBanned(addr netip.Addr) bool {
	if a.throttle == nil {
		return false
	}
	_, banned := a.throttle.AddrBanned(addr)
	return banned
}

// Authenticate checks a login by name and password from a client at addr and
// returns the user, with PasswordHash cleared. The name is case insensitive.
//
// It returns an error wrapping ErrDenied if the name is invalid or unknown,
// the password wrong, the user disabled or addr outside the user's
// AllowedNetworks; the reason is logged (at Info, with name and addr), never
// returned. An unknown name costs the same as a wrong password. With a
// LoginCache, a login with the password that passed the user's current
// hash within it is not hashed again (but for the password, every check is
// made on every login). Other errors
// (the store failing, ctx ending while waiting for a hashing slot) are
// returned wrapped, do not wrap ErrDenied and are left to the caller to log.
// A store failure never falls back to the static users. The password is never
// logged or returned.
func (a *Authenticator) Authenticate(ctx context.Context, name, password string, addr netip.Addr) (*User, error) {
	addr = addr.Unmap()
	norm, err := NormalizeName(name)
	if err != nil {
		return nil, a.deny(ctx, name, addr, reasonInvalidName, nil)
	}
	if a.throttle != nil {
		_, addrBanned := a.throttle.AddrBanned(addr)
		_, nameBanned := a.throttle.NameBanned(norm)
		if addrBanned || nameBanned {
			a.log.LogAttrs(ctx, slog.LevelInfo, "login failed",
				slog.String("user", norm), slog.String("client", addr.String()), slog.String("reason", reasonThrottled))
			return nil, ErrThrottled
		}
	}
	u, err := a.lookup(ctx, norm)
	if err != nil {
		return nil, err
	}
	hash := a.dummy
	if u != nil {
		hash = u.PasswordHash
	}
	cached := u != nil && a.logins.matches(norm, hash, password)
	ok := cached
	if !cached {
		select {
		case a.hashes <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("auth: waiting to verify password: %w", ctx.Err())
		}
		ok, err = VerifyPassword(hash, password)
		<-a.hashes
	}
	switch {
	case u == nil:
		return nil, a.deny(ctx, norm, addr, reasonUnknownUser, nil)
	case err != nil:
		return nil, a.deny(ctx, norm, addr, reasonBadHash, err)
	case !ok:
		return nil, a.deny(ctx, norm, addr, reasonBadPassword, nil)
	case u.Disabled:
		return nil, a.deny(ctx, norm, addr, reasonDisabled, nil)
	case !u.AllowsAddr(addr):
		return nil, a.deny(ctx, norm, addr, reasonNetwork, nil)
	}
	if a.throttle != nil {
		a.throttle.Succeeded(norm)
	}
	if !cached {
		a.logins.add(norm, hash, password)
	}
	u.PasswordHash = ""
	return u, nil
}

// lookup returns a copy of the user called name from the store or, failing
// that, from the static users; nil if neither has one.
func (a *Authenticator) lookup(ctx context.Context, name string) (*User, error) {
	u, err := a.store.GetUser(ctx, name)
	switch {
	case err == nil:
		return u, nil
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("auth: looking up user %q: %w", name, err)
	}
	if su, ok := a.static[name]; ok {
		return cloneUser(su), nil
	}
	return nil, nil
}

// deny logs a failed login and returns ErrDenied. cause, if not nil, is an
// internal problem worth an administrator's attention and raises the level to
// Warn. This is the one place every failed login passes through.
func (a *Authenticator) deny(ctx context.Context, name string, addr netip.Addr, reason string, cause error) error {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("user", name),
		slog.String("client", addr.String()),
		slog.String("reason", reason),
	}
	if cause != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", cause.Error()))
	}
	a.log.LogAttrs(ctx, level, "login failed", attrs...)
	if a.throttle != nil {
		addrBanned, nameBanned := a.throttle.Failed(addr, name)
		if addrBanned {
			until, _ := a.throttle.AddrBanned(addr)
			a.log.LogAttrs(ctx, slog.LevelWarn, "login throttled: client banned", slog.String("client", addr.String()), slog.Time("until", until))
		}
		if nameBanned {
			until, _ := a.throttle.NameBanned(name)
			a.log.LogAttrs(ctx, slog.LevelWarn, "login throttled: user name banned", slog.String("user", name), slog.Time("until", until))
		}
	}
	return ErrDenied
}

// cloneUser returns a copy of u that shares no memory with it.
func cloneUser(u *User) *User {
	c := *u
	c.AllowedNetworks = slices.Clone(u.AllowedNetworks)
	return &c
}
