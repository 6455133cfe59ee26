package auth

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// mapStore is a Store of users in a map, changed by the test between
// logins; its other methods are not called.
type mapStore struct {
	Store
	mu    sync.Mutex
	users map[string]User
}

func (s *mapStore) GetUser(_ context.Context, name string) (*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return nil, ErrNotFound
	}
	return &u, nil
}

func (s *mapStore) set(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.Name] = u
}

func bcryptHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// TestLoginCache checks which logins skip the password hash: with the only
// hashing slot taken, a login the cache answers succeeds at once, and any
// other waits for the slot until its context ends.
func TestLoginCache(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	addr := netip.MustParseAddr("192.0.2.1")
	oldHash, newHash := bcryptHash(t, "pw-old-7"), bcryptHash(t, "pw-new-7")
	type step struct {
		do       func(s *mapStore, clock *time.Time) // before the login, may be nil
		user     string
		password string
		want     string // "cached", "hashed" (needs the slot), "denied" (cached, then refused)
	}
	tests := []struct {
		name  string
		cache time.Duration
		steps []step
	}{
		{"same password within the ttl", ttl, []step{
			{nil, "cam", "pw-old-7", "hashed"},
			{nil, "cam", "pw-old-7", "cached"},
			{func(_ *mapStore, c *time.Time) { *c = c.Add(ttl - time.Second) }, "cam", "pw-old-7", "cached"},
		}},
		{"the ttl runs from the last hashed login", ttl, []step{
			{nil, "cam", "pw-old-7", "hashed"},
			{func(_ *mapStore, c *time.Time) { *c = c.Add(ttl / 2) }, "cam", "pw-old-7", "cached"},
			{func(_ *mapStore, c *time.Time) { *c = c.Add(ttl / 2) }, "cam", "pw-old-7", "hashed"},
			{nil, "cam", "pw-old-7", "cached"},
		}},
		{"a wrong password is always hashed", ttl, []step{
			{nil, "cam", "pw-old-7", "hashed"},
			{nil, "cam", "pw-wrong-7", "hashed"},
			{nil, "cam", "pw-old-7", "cached"},
		}},
		{"a changed password", ttl, []step{
			{nil, "cam", "pw-old-7", "hashed"},
			{func(s *mapStore, _ *time.Time) { s.set(User{Name: "cam", PasswordHash: newHash, Bucket: "b"}) }, "cam", "pw-old-7", "hashed"},
			{nil, "cam", "pw-new-7", "hashed"},
			{nil, "cam", "pw-new-7", "cached"},
		}},
		{"a disabled user is refused", ttl, []step{
			{nil, "cam", "pw-old-7", "hashed"},
			{func(s *mapStore, _ *time.Time) {
				s.set(User{Name: "cam", PasswordHash: oldHash, Bucket: "b", Disabled: true})
			}, "cam", "pw-old-7", "denied"},
		}},
		{"one user's login is not another's", ttl, []step{
			{nil, "cam", "pw-old-7", "hashed"},
			{nil, "cam2", "pw-old-7", "hashed"},
		}},
		{"no cache", 0, []step{
			{nil, "cam", "pw-old-7", "hashed"},
			{nil, "cam", "pw-old-7", "hashed"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
			s := &mapStore{users: map[string]User{
				"cam":  {Name: "cam", PasswordHash: oldHash, Bucket: "b"},
				"cam2": {Name: "cam2", PasswordHash: oldHash, Bucket: "b"},
			}}
			a, err := NewAuthenticator(s, AuthenticatorConfig{MaxConcurrentHashes: 1, LoginCache: tt.cache, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tt.steps {
				if st.do != nil {
					st.do(s, &clock)
				}
				a.hashes <- struct{}{} // the only slot: taken
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
				_, err := a.Authenticate(ctx, st.user, st.password, addr)
				cancel()
				<-a.hashes
				got := "cached"
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					got = "hashed"
					_, err = a.Authenticate(t.Context(), st.user, st.password, addr) // now with the slot
					current, _ := s.GetUser(t.Context(), st.user)
					wantOK, _ := VerifyPassword(current.PasswordHash, st.password)
					if (err == nil) != wantOK {
						t.Fatalf("step %d: login with the slot free: %v, want success %v", i, err, wantOK)
					}
				case errors.Is(err, ErrDenied):
					got = "denied"
				case err != nil:
					t.Fatalf("step %d: %v", i, err)
				}
				if got != st.want {
					t.Fatalf("step %d (%s, %s): %s, want %s", i, st.user, st.password, got, st.want)
				}
			}
		})
	}
}

// TestLoginCacheBounded checks that the cache keeps at most
// loginCacheEntries names, making room by dropping expired ones.
func TestLoginCacheBounded(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	c := newLoginCache(time.Minute, func() time.Time { return clock })
	for i := range loginCacheEntries + 10 {
		c.add(string(rune('a'+i%26))+time.Duration(i).String(), "h", "p")
	}
	if len(c.entries) != loginCacheEntries {
		t.Fatalf("%d entries, want %d", len(c.entries), loginCacheEntries)
	}
	c.add("new", "h", "p")
	if c.matches("new", "h", "p") || len(c.entries) != loginCacheEntries {
		t.Fatalf("a name added to a full cache: matches %v, %d entries; want false, %d", c.matches("new", "h", "p"), len(c.entries), loginCacheEntries)
	}
	clock = clock.Add(time.Minute)
	c.add("new", "h", "p")
	if !c.matches("new", "h", "p") || len(c.entries) != 1 {
		t.Fatalf("after expiry: new matches %v, %d entries, want true and 1", c.matches("new", "h", "p"), len(c.entries))
	}
}

// BenchmarkAuthenticate measures a device's repeated login with its
// password hashed by HashPassword (argon2id), every time ("hashed") or
// answered by the login cache ("cached").
func BenchmarkAuthenticate(b *testing.B) {
	hash, err := HashPassword("pw-camera-7")
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("192.0.2.1")
	for _, bc := range []struct {
		name  string
		cache time.Duration
	}{{"hashed", 0}, {"cached", time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			s := &mapStore{users: map[string]User{"cam": {Name: "cam", PasswordHash: hash, Bucket: "b"}}}
			a, err := NewAuthenticator(s, AuthenticatorConfig{LoginCache: bc.cache})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := a.Authenticate(b.Context(), "cam", "pw-camera-7", addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
