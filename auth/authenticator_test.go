package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/test/syncbuf"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), t.TempDir()+"/users.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// user returns a valid user whose password is password, hashed with bcrypt
// at the minimum cost: argon2id takes most of a second under the race
// detector, and the tests need many users.
func user(t *testing.T, name, password string) *auth.User {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	u := &auth.User{Name: name, PasswordHash: string(h), Bucket: "bucket", Permissions: auth.PermList}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	return u
}

// argonUser is user with an argon2id hash, as HashPassword makes them.
func argonUser(t *testing.T, name, password string) *auth.User {
	t.Helper()
	u := user(t, name, password)
	h, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = h
	return u
}

func newAuthenticator(t *testing.T, store auth.Store, cfg auth.AuthenticatorConfig) *auth.Authenticator {
	t.Helper()
	a, err := auth.NewAuthenticator(store, cfg)
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	return a
}

// logValue is how slog's TextHandler writes a string value.
func logValue(s string) string {
	if s == "" || strings.ContainsAny(s, " \"=") {
		return strconv.Quote(s)
	}
	return s
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	users := []*auth.User{
		argonUser(t, "alice", "pw-alice-1"),
		user(t, "dis", "pw-dis-2"),
		user(t, "net", "pw-net-3"),
		user(t, "imported", "pw-imported-5"),
		{Name: "badhash", PasswordHash: "pw-plain-6", Bucket: "bucket"}, // as if edited by hand
	}
	users[1].Disabled = true
	users[2].AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, u := range users {
		if err := store.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	var logs syncbuf.Buffer
	a := newAuthenticator(t, store, auth.AuthenticatorConfig{
		Static: []*auth.User{user(t, "demo", "pw-demo-7"), user(t, "alice", "pw-static-alice-8")},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})

	const v4, v6 = "192.0.2.1", "2001:db8::5"
	tests := []struct {
		name, user, password, addr string
		want                       string // name of the user returned; "" for ErrDenied
		reason                     string // logged reason when denied
	}{
		{"right password (argon2id)", "alice", "pw-alice-1", v4, "alice", ""},
		{"name in upper case", "ALICE", "pw-alice-1", v6, "alice", ""},
		{"wrong password (argon2id)", "alice", "pw-alice-x", v4, "", "wrong password"},
		{"password of another user", "alice", "pw-net-3", v4, "", "wrong password"},
		{"empty password", "alice", "", v4, "", "wrong password"},
		{"huge password", "alice", strings.Repeat("p", 5000), v4, "", "wrong password"},
		{"unknown user", "mallory", "pw-alice-1", v4, "", "unknown user"},
		{"invalid name", "bad name!", "pw-alice-1", v4, "", "invalid name"},
		{"empty name", "", "pw-alice-1", v4, "", "invalid name"},
		{"disabled", "dis", "pw-dis-2", v4, "", "user disabled"},
		{"disabled, wrong password", "dis", "pw-dis-x", v4, "", "wrong password"},
		{"allowed IPv4 network", "net", "pw-net-3", "10.1.2.3", "net", ""},
		{"allowed network, IPv4-mapped IPv6 client", "net", "pw-net-3", "::ffff:10.1.2.3", "net", ""},
		{"allowed IPv6 network", "net", "pw-net-3", v6, "net", ""},
		{"IPv4 outside the networks", "net", "pw-net-3", v4, "", "client network not allowed"},
		{"mapped IPv4 outside the networks", "net", "pw-net-3", "::ffff:198.51.100.9", "", "client network not allowed"},
		{"IPv6 outside the networks", "net", "pw-net-3", "2001:db9::1", "", "client network not allowed"},
		{"no client address", "net", "pw-net-3", "", "", "client network not allowed"},
		{"outside the networks, wrong password", "net", "pw-net-x", "11.0.0.1", "", "wrong password"},
		{"bcrypt", "imported", "pw-imported-5", v4, "imported", ""},
		{"bcrypt, wrong password", "imported", "pw-imported-x", v4, "", "wrong password"},
		{"unusable stored hash", "badhash", "pw-plain-6", v4, "", "unusable password hash"},
		{"static user", "demo", "pw-demo-7", v4, "demo", ""},
		{"static user, wrong password", "Demo", "pw-demo-x", v4, "", "wrong password"},
		{"static user shadowed by the store", "alice", "pw-static-alice-8", v4, "", "wrong password"},
	}
	t.Run("logins", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var addr netip.Addr
				if tt.addr != "" {
					addr = netip.MustParseAddr(tt.addr)
				}
				u, err := a.Authenticate(t.Context(), tt.user, tt.password, addr)
				if tt.want == "" {
					if u != nil || !errors.Is(err, auth.ErrDenied) {
						t.Fatalf("Authenticate = %v, %v; want ErrDenied", u, err)
					}
					if err.Error() != auth.ErrDenied.Error() {
						t.Errorf("error %q tells more than ErrDenied", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if u.Name != tt.want || u.PasswordHash != "" {
					t.Errorf("Authenticate returned user %q with hash %q; want %q without hash", u.Name, u.PasswordHash, tt.want)
				}
			})
		}
	})

	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	denied := 0
	for _, tt := range tests {
		if strings.Contains(out, tt.password) && tt.password != "" {
			t.Errorf("log holds the password %q:\n%s", tt.password, out)
		}
		if tt.want != "" {
			continue
		}
		denied++
		name := strings.ToLower(tt.user)
		if tt.reason == "invalid name" {
			name = tt.user
		}
		client := netip.Addr{}.String()
		if tt.addr != "" {
			client = netip.MustParseAddr(tt.addr).Unmap().String()
		}
		want := fmt.Sprintf(`msg="login failed" user=%s client=%s reason=%s`, logValue(name), logValue(client), logValue(tt.reason))
		if !strings.Contains(out, want) {
			t.Errorf("%s: log lacks %s", tt.name, want)
		}
	}
	for _, u := range users {
		if strings.Contains(out, u.PasswordHash) {
			t.Errorf("log holds the password hash of %s", u.Name)
		}
	}
	if len(lines) != denied {
		t.Errorf("log has %d lines for %d failed logins:\n%s", len(lines), denied, out)
	}
	for _, l := range lines {
		wantLevel := "level=INFO"
		if strings.Contains(l, "unusable password hash") {
			wantLevel = "level=WARN"
		}
		if !strings.Contains(l, wantLevel) {
			t.Errorf("log line not at %s: %s", wantLevel, l)
		}
	}
	if n, err := store.CountUsers(t.Context()); err != nil || n != len(users) {
		t.Errorf("store holds %d users, %v; want %d: static users must not be stored", n, err, len(users))
	}
}

// TestAuthenticateUnknownCostsTheSame checks that an unknown user takes as
// long as a wrong password: both verify an argon2id hash. Without the dummy
// hash an unknown user would take a store lookup, a hundredth of the time.
func TestAuthenticateUnknownCostsTheSame(t *testing.T) {
	store := openStore(t)
	if err := store.CreateUser(t.Context(), argonUser(t, "alice", "pw-alice-1")); err != nil {
		t.Fatal(err)
	}
	a := newAuthenticator(t, store, auth.AuthenticatorConfig{})
	fastest := func(name string) (time.Duration, error) {
		best, errs := time.Duration(1<<62), []error{}
		for range 5 {
			start := time.Now()
			_, err := a.Authenticate(t.Context(), name, "pw-wrong", netip.MustParseAddr("192.0.2.1"))
			best = min(best, time.Since(start))
			errs = append(errs, err)
		}
		return best, errors.Join(errs...)
	}
	wrong, errWrong := fastest("alice")
	unknown, errUnknown := fastest("nobody")
	if !errors.Is(errWrong, auth.ErrDenied) || !errors.Is(errUnknown, auth.ErrDenied) ||
		errWrong.Error() != errUnknown.Error() {
		t.Fatalf("wrong password: %v; unknown user: %v; want the same ErrDenied", errWrong, errUnknown)
	}
	if unknown < wrong/3 {
		t.Errorf("an unknown user takes %v, a wrong password %v", unknown, wrong)
	}
}

// failingStore is a real store whose GetUser fails.
type failingStore struct {
	auth.Store
	err error
}

func (s failingStore) GetUser(ctx context.Context, name string) (*auth.User, error) {
	return nil, fmt.Errorf("get user %q: %w", name, s.err)
}

func TestAuthenticateStoreErrors(t *testing.T) {
	t.Parallel()
	injected := errors.New("database is down")
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name  string
		store func(auth.Store) auth.Store
		ctx   context.Context
		user  string
		want  error
	}{
		{"store fails", func(s auth.Store) auth.Store { return failingStore{s, injected} }, t.Context(), "alice", injected},
		{"store fails, static user", func(s auth.Store) auth.Store { return failingStore{s, injected} }, t.Context(), "demo", injected},
		{"store says not found", func(s auth.Store) auth.Store { return failingStore{s, auth.ErrNotFound} }, t.Context(), "alice", auth.ErrDenied},
		{"context canceled", func(s auth.Store) auth.Store { return s }, canceled, "alice", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := openStore(t)
			if err := base.CreateUser(t.Context(), user(t, "alice", "pw-alice-1")); err != nil {
				t.Fatal(err)
			}
			var logs syncbuf.Buffer
			a := newAuthenticator(t, tt.store(base), auth.AuthenticatorConfig{
				Static: []*auth.User{user(t, "demo", "pw-demo-7")},
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			password := "pw-" + tt.user + "-" + map[string]string{"alice": "1", "demo": "7"}[tt.user]
			u, err := a.Authenticate(tt.ctx, tt.user, password, netip.MustParseAddr("192.0.2.1"))
			if u != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate = %v, %v; want %v", u, err, tt.want)
			}
			if tt.want != auth.ErrDenied && errors.Is(err, auth.ErrDenied) {
				t.Errorf("store failure %v turned into ErrDenied", err)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(logs.String(), password) {
				t.Errorf("password leaked: error %q, log %q", err, logs.String())
			}
		})
	}
}

func TestAuthenticateStaticUsers(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	demo := user(t, "demo", "pw-demo-7")
	demo.Name = "Demo"
	a := newAuthenticator(t, store, auth.AuthenticatorConfig{Static: []*auth.User{demo}})
	if demo.Name != "Demo" || demo.PasswordHash == "" {
		t.Errorf("NewAuthenticator changed the caller's static user: %+v", demo)
	}
	addr := netip.MustParseAddr("192.0.2.1")
	u, err := a.Authenticate(t.Context(), "demo", "pw-demo-7", addr)
	if err != nil {
		t.Fatal(err)
	}
	u.Bucket, u.Disabled = "changed", true
	u, err = a.Authenticate(t.Context(), "DEMO", "pw-demo-7", addr)
	if err != nil || u.Bucket != "bucket" {
		t.Fatalf("second login = %+v, %v: changing a returned user changed the static user", u, err)
	}
	// A user created later in the store takes the name over.
	if err := store.CreateUser(t.Context(), user(t, "demo", "pw-demo-stored")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(t.Context(), "demo", "pw-demo-7", addr); !errors.Is(err, auth.ErrDenied) {
		t.Errorf("static password still accepted after the store got the user: %v", err)
	}
	if _, err := a.Authenticate(t.Context(), "demo", "pw-demo-stored", addr); err != nil {
		t.Errorf("stored user's password refused: %v", err)
	}
}

func TestNewAuthenticatorErrors(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	demo := user(t, "demo", "pw-demo-7")
	upper := *demo
	upper.Name = "DEMO"
	badBucket := *demo
	badBucket.Bucket = "No"
	tests := []struct {
		name    string
		store   auth.Store
		static  []*auth.User
		invalid bool // the error wraps ErrInvalid
	}{
		{"nil store", nil, nil, false},
		{"nil static user", store, []*auth.User{nil}, true},
		{"invalid static user", store, []*auth.User{&badBucket}, true},
		{"duplicate static users", store, []*auth.User{demo, &upper}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := auth.NewAuthenticator(tt.store, auth.AuthenticatorConfig{Static: tt.static})
			if a != nil || err == nil || errors.Is(err, auth.ErrInvalid) != tt.invalid {
				t.Fatalf("NewAuthenticator = %v, %v; want an error (ErrInvalid: %v)", a, err, tt.invalid)
			}
		})
	}
}

// TestAuthenticateThrottle: too many failures ban the client and the name,
// even for the right password, and the ban is logged.
func TestAuthenticateThrottle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	if err := store.CreateUser(ctx, user(t, "cam01", "right password")); err != nil {
		t.Fatal(err)
	}
	th, err := auth.NewThrottle(auth.ThrottleConfig{MaxFailures: 3, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	a, err := auth.NewAuthenticator(store, auth.AuthenticatorConfig{Throttle: th, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	guesser, other := netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("203.0.113.6")
	for range 3 {
		if _, err := a.Authenticate(ctx, "cam01", "guess", guesser); !errors.Is(err, auth.ErrDenied) || errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if !a.AddrBanned(guesser) || a.AddrBanned(other) {
		t.Errorf("AddrBanned = %v for the guesser, %v for another client", a.AddrBanned(guesser), a.AddrBanned(other))
	}
	if _, err := a.Authenticate(ctx, "cam01", "right password", guesser); !errors.Is(err, auth.ErrThrottled) || !errors.Is(err, auth.ErrDenied) {
		t.Errorf("right password from a banned client: %v, want ErrThrottled", err)
	}
	if _, err := a.Authenticate(ctx, "cam01", "right password", other); !errors.Is(err, auth.ErrThrottled) {
		t.Errorf("right password for a banned name: %v, want ErrThrottled", err)
	}
	for _, want := range []string{`"msg":"login throttled: client banned"`, `"msg":"login throttled: user name banned"`, `"reason":"too many failed logins"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "right password") || strings.Contains(logs.String(), "guess") {
		t.Errorf("a password reached the logs")
	}
}
