package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// loginCache remembers, for a while, that a user's password matched their
// stored hash, so a device that logs in for every file (many cameras
// connect, log in, STOR and quit for each picture) costs one password hash
// per ttl instead of one per file: an argon2id verification is about 30 ms
// of CPU and 7 MiB, a picture's upload about 2 ms.
//
// What is kept per user name is an HMAC-SHA256, under a key drawn when the
// process starts and never stored, of the name, the stored hash and the
// password; never the password. A login hits only with the same password
// against the same stored hash: a password changed or an imported hash (in
// this gateway or another sharing the store) makes the next login verify
// again, since Authenticate looks the user up every time. Disabled users,
// allowed networks and throttling are checked on every login as before. A
// wrong password always costs a full verification. At most
// loginCacheEntries names are kept; expired entries are dropped when the
// cache is full.
type loginCache struct {
	ttl time.Duration
	now func() time.Time
	key [32]byte

	mu      sync.Mutex
	entries map[string]loginEntry
}

// loginCacheEntries bounds the user names a loginCache keeps (about 150
// bytes each).
const loginCacheEntries = 10000

// loginEntry is one remembered login.
type loginEntry struct {
	mac     [sha256.Size]byte
	expires time.Time
}

// newLoginCache returns a cache keeping logins for ttl, or nil if ttl is
// not positive (every login verifies its password).
func newLoginCache(ttl time.Duration, now func() time.Time) *loginCache {
	if ttl <= 0 {
		return nil
	}
	c := &loginCache{ttl: ttl, now: now, entries: map[string]loginEntry{}}
	_, _ = rand.Read(c.key[:]) // never fails (crypto/rand panics instead)
	return c
}

// sum returns the HMAC of a login: name, stored hash and password, each
// preceded by its length so that no two logins share an input.
func (c *loginCache) sum(name, hash, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key[:])
	for _, s := range []string{name, hash, password} {
		n := len(s)
		m.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		m.Write([]byte(s))
	}
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// matches reports whether name logged in with password against hash
// within the last ttl. A nil cache matches nothing.
func (c *loginCache) matches(name, hash, password string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.expires) {
		return false
	}
	mac := c.sum(name, hash, password)
	return hmac.Equal(mac[:], e.mac[:])
}

// add remembers that name's password matched hash, for ttl from now.
func (c *loginCache) add(name, hash, password string) {
	if c == nil {
		return
	}
	now := c.now()
	e := loginEntry{mac: c.sum(name, hash, password), expires: now.Add(c.ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[name]; !ok && len(c.entries) >= loginCacheEntries {
		for n, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, n)
			}
		}
		if len(c.entries) >= loginCacheEntries {
			return
		}
	}
	c.entries[name] = e
}
