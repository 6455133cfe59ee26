// Package authtest holds the conformance tests every auth.Store must pass,
// whatever keeps the users (SQLite, PostgreSQL, ...).
package authtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// Two well-formed hashes; stores keep them and never check them.
const (
	hashA = "$argon2id$v=19$m=19456,t=2,p=1$X5vHEOaRJAo82C4otVqz7Q$ujvKqJdMTEyj4c8dxAkNh978ekbpcy5tWn9OW+bNPt8"
	hashB = "$2a$04$.7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S"
)

// clockSlack allows for a store whose clock (a database server's) is not
// the test's.
const clockSlack = time.Minute

// TestStore runs the conformance suite, each test in a parallel subtest on
// a store of its own. open must return a new, empty store each time it is
// called; the suite closes it when the subtest ends. Names are compared in
// byte order, so an SQL store must sort them with a binary collation.
func TestStore(t *testing.T, open func(t *testing.T) auth.Store) {
	runSuite(t, open, []suiteTest[auth.Store]{
		{"CreateGet", testCreateGet},
		{"CreateGetZeroFields", testCreateGetZeroFields},
		{"CreateExists", testCreateExists},
		{"GetNotFound", testGetNotFound},
		{"Update", testUpdate},
		{"UpdateNotFound", testUpdateNotFound},
		{"Delete", testDelete},
		{"Count", testCount},
		{"List", testList},
		{"ListPages", testListPages},
		{"NoSharedMemory", testNoSharedMemory},
		{"ConcurrentCreates", testConcurrentCreates},
		{"CanceledContext", testCanceledContext},
		{"Ping", testPing},
	})
}

// suiteTest is one test of a conformance suite on a store of type S.
type suiteTest[S auth.Store] struct {
	name string
	test func(t *testing.T, s S)
}

// runSuite runs each test in a parallel subtest on a new store from open,
// closed when the subtest ends.
func runSuite[S auth.Store](t *testing.T, open func(t *testing.T) S, tests []suiteTest[S]) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.test(t, s)
		})
	}
}

// newUser returns a valid user with every field set.
func newUser(t *testing.T, name string) *auth.User {
	t.Helper()
	u := &auth.User{
		Name:         name,
		PasswordHash: hashA,
		Bucket:       "bucket-one",
		Prefix:       "tenants/acme/",
		Permissions:  auth.PermList | auth.PermDownload | auth.PermUpload,
		AllowedNetworks: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("192.168.1.7/32"),
			netip.MustParsePrefix("2001:db8::/32"),
			netip.MustParsePrefix("::ffff:172.16.0.0/108"),
		},
		RequireTLS:        true,
		Disabled:          true,
		Description:       `Zoë's scanner, floor 2; "quotes", commas`,
		ExpectUploadEvery: 90 * time.Minute,
	}
	if err := u.Validate(); err != nil {
		t.Fatalf("test user %q: %v", name, err)
	}
	return u
}

func create(t *testing.T, s auth.Store, u *auth.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Name, err)
	}
}

func get(t *testing.T, s auth.Store, name string) *auth.User {
	t.Helper()
	u, err := s.GetUser(t.Context(), name)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", name, err)
	}
	return u
}

// checkUser reports every field in which got differs from want. A nil and
// an empty AllowedNetworks are the same.
func checkUser(t *testing.T, got, want *auth.User) {
	t.Helper()
	diff := func(field string, g, w any) { t.Errorf("user %q: %s = %v, want %v", want.Name, field, g, w) }
	if got.Name != want.Name {
		diff("Name", got.Name, want.Name)
	}
	if got.PasswordHash != want.PasswordHash {
		diff("PasswordHash", got.PasswordHash, want.PasswordHash)
	}
	if got.Bucket != want.Bucket {
		diff("Bucket", got.Bucket, want.Bucket)
	}
	if got.Prefix != want.Prefix {
		diff("Prefix", got.Prefix, want.Prefix)
	}
	if got.Permissions != want.Permissions {
		diff("Permissions", got.Permissions, want.Permissions)
	}
	if !slices.Equal(got.AllowedNetworks, want.AllowedNetworks) {
		diff("AllowedNetworks", got.AllowedNetworks, want.AllowedNetworks)
	}
	if got.RequireTLS != want.RequireTLS {
		diff("RequireTLS", got.RequireTLS, want.RequireTLS)
	}
	if got.Disabled != want.Disabled {
		diff("Disabled", got.Disabled, want.Disabled)
	}
	if got.Description != want.Description {
		diff("Description", got.Description, want.Description)
	}
	if got.ExpectUploadEvery != want.ExpectUploadEvery {
		diff("ExpectUploadEvery", got.ExpectUploadEvery, want.ExpectUploadEvery)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		diff("CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		diff("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	}
}

// checkTime reports a timestamp that is not UTC, not whole microseconds or
// not between from and to (give or take clockSlack).
func checkTime(t *testing.T, field string, ts, from, to time.Time) {
	t.Helper()
	switch {
	case ts.Location() != time.UTC:
		t.Errorf("%s = %v: not UTC", field, ts)
	case !ts.Equal(ts.Truncate(time.Microsecond)):
		t.Errorf("%s = %v: not truncated to microseconds", field, ts)
	case ts.Before(from.Add(-clockSlack)) || ts.After(to.Add(clockSlack)):
		t.Errorf("%s = %v: not between %v and %v", field, ts, from, to)
	}
}

func testCreateGet(t *testing.T, s auth.Store) {
	u := newUser(t, "alice")
	before := time.Now()
	create(t, s, u)
	after := time.Now()
	checkTime(t, "CreatedAt", u.CreatedAt, before, after)
	checkTime(t, "UpdatedAt", u.UpdatedAt, before, after)
	if u.UpdatedAt.Before(u.CreatedAt) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", u.UpdatedAt, u.CreatedAt)
	}
	got := get(t, s, "alice")
	checkUser(t, got, u)
	checkTime(t, "stored CreatedAt", got.CreatedAt, before, after)
}

func testCreateGetZeroFields(t *testing.T, s auth.Store) {
	u := &auth.User{Name: "minimal", PasswordHash: hashB, Bucket: "bucket-two"}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	create(t, s, u)
	checkUser(t, get(t, s, "minimal"), u)
}

func testCreateExists(t *testing.T, s auth.Store) {
	first := newUser(t, "bob")
	create(t, s, first)
	second := newUser(t, "bob")
	second.Bucket = "other-bucket"
	err := s.CreateUser(t.Context(), second)
	if !errors.Is(err, auth.ErrExists) {
		t.Fatalf("second CreateUser(bob) = %v, want ErrExists", err)
	}
	checkUser(t, get(t, s, "bob"), first)
}

func testGetNotFound(t *testing.T, s auth.Store) {
	create(t, s, newUser(t, "carol"))
	for _, name := range []string{"nobody", "caro", "carol2"} {
		if u, err := s.GetUser(t.Context(), name); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("GetUser(%q) = %v, %v; want ErrNotFound", name, u, err)
		}
	}
}

func testUpdate(t *testing.T, s auth.Store) {
	tests := []struct {
		name   string
		change func(u *auth.User)
	}{
		{"every field", func(u *auth.User) {
			u.PasswordHash = hashB
			u.Bucket = "bucket-two"
			u.Prefix = "x/y/"
			u.Permissions = auth.AllPermissions
			u.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("fd00::/8")}
			u.RequireTLS = false
			u.Disabled = false
			u.Description = "moved"
			u.ExpectUploadEvery = 24 * time.Hour
		}},
		{"to zero values", func(u *auth.User) {
			u.Prefix = ""
			u.Permissions = 0
			u.AllowedNetworks = nil
			u.RequireTLS = false
			u.Disabled = false
			u.Description = ""
			u.ExpectUploadEvery = 0
		}},
		{"nothing", func(*auth.User) {}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("dave%d", i)
			orig := newUser(t, name)
			create(t, s, orig)
			u := newUser(t, name)
			tt.change(u)
			u.CreatedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) // must be ignored
			before := time.Now()
			if err := s.UpdateUser(t.Context(), u); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			after := time.Now()
			if !u.CreatedAt.Equal(orig.CreatedAt) {
				t.Errorf("after UpdateUser, CreatedAt = %v, want the original %v", u.CreatedAt, orig.CreatedAt)
			}
			checkTime(t, "UpdatedAt", u.UpdatedAt, before, after)
			if u.UpdatedAt.Before(orig.UpdatedAt) {
				t.Errorf("UpdatedAt went back from %v to %v", orig.UpdatedAt, u.UpdatedAt)
			}
			checkUser(t, get(t, s, name), u)
		})
	}
}

func testUpdateNotFound(t *testing.T, s auth.Store) {
	err := s.UpdateUser(t.Context(), newUser(t, "ghost"))
	if !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("UpdateUser(ghost) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUser(t.Context(), "ghost"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("after UpdateUser of a missing user, GetUser = %v, want ErrNotFound", err)
	}
}

func testDelete(t *testing.T, s auth.Store) {
	keep := newUser(t, "erin")
	create(t, s, keep)
	create(t, s, newUser(t, "frank"))
	if err := s.DeleteUser(t.Context(), "frank"); err != nil {
		t.Fatalf("DeleteUser(frank): %v", err)
	}
	if _, err := s.GetUser(t.Context(), "frank"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("GetUser(frank) after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(t.Context(), "frank"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("second DeleteUser(frank) = %v, want ErrNotFound", err)
	}
	checkUser(t, get(t, s, "erin"), keep)
	// The name can be used again.
	create(t, s, newUser(t, "frank"))
}

func testCount(t *testing.T, s auth.Store) {
	count := func(want int) {
		t.Helper()
		n, err := s.CountUsers(t.Context())
		if err != nil || n != want {
			t.Fatalf("CountUsers = %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	for i := range 3 {
		create(t, s, newUser(t, fmt.Sprintf("u%d", i)))
		count(i + 1)
	}
	if err := s.CreateUser(t.Context(), newUser(t, "u0")); !errors.Is(err, auth.ErrExists) {
		t.Fatalf("CreateUser(u0) again = %v, want ErrExists", err)
	}
	count(3)
	if err := s.DeleteUser(t.Context(), "u1"); err != nil {
		t.Fatal(err)
	}
	count(2)
}

// listNames are created in this order; byte order differs from it and from
// the order of most locale collations ("-", ".", "0", "@", "_", "b").
var listNames = []string{"b", "a_b", "a", "a0", "a.b", "a@b", "a-b", "zz9", "ab"}

func sortedListNames() []string {
	s := slices.Clone(listNames)
	sort.Strings(s)
	return s
}

func createListUsers(t *testing.T, s auth.Store) map[string]*auth.User {
	users := map[string]*auth.User{}
	for _, n := range listNames {
		u := newUser(t, n)
		create(t, s, u)
		users[n] = u
	}
	return users
}

func names(users []*auth.User) []string {
	n := make([]string, len(users))
	for i, u := range users {
		n[i] = u.Name
	}
	return n
}

func testList(t *testing.T, s auth.Store) {
	users := createListUsers(t, s)
	all := sortedListNames()
	tests := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, all},
		{"", -1, all},
		{"", 3, all[:3]},
		{"", 100, all},
		{"a-", 0, all[1:]},
		{"a-b", 2, all[2:4]},
		{"a.b", 0, all[3:]},
		{"zz9", 0, nil},
		{"zzz", 5, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("after=%q,limit=%d", tt.after, tt.limit), func(t *testing.T) {
			got, err := s.ListUsers(t.Context(), tt.after, tt.limit)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			if !slices.Equal(names(got), tt.want) {
				t.Fatalf("ListUsers = %q, want %q", names(got), tt.want)
			}
			for _, u := range got {
				checkUser(t, u, users[u.Name])
			}
		})
	}
}

func testListPages(t *testing.T, s auth.Store) {
	createListUsers(t, s)
	for _, size := range []int{1, 2, 4, len(listNames), len(listNames) + 1} {
		var got []string
		after := ""
		for page := 0; ; page++ {
			if page > len(listNames)+1 {
				t.Fatalf("page size %d: pagination does not end", size)
			}
			users, err := s.ListUsers(t.Context(), after, size)
			if err != nil {
				t.Fatalf("ListUsers(%q, %d): %v", after, size, err)
			}
			if len(users) > size {
				t.Fatalf("ListUsers(%q, %d) returned %d users", after, size, len(users))
			}
			if len(users) == 0 {
				break
			}
			got = append(got, names(users)...)
			after = users[len(users)-1].Name
		}
		if want := sortedListNames(); !slices.Equal(got, want) {
			t.Errorf("page size %d: pages hold %q, want %q", size, got, want)
		}
	}
}

func testNoSharedMemory(t *testing.T, s auth.Store) {
	u := newUser(t, "grace")
	create(t, s, u)
	want := get(t, s, "grace")
	// Changing what was passed in or handed out must not change the store.
	u.AllowedNetworks[0] = netip.MustParsePrefix("0.0.0.0/0")
	u.Bucket = "changed"
	got := get(t, s, "grace")
	got.AllowedNetworks[0] = netip.MustParsePrefix("0.0.0.0/0")
	got.Description = "changed"
	checkUser(t, get(t, s, "grace"), want)
}

func testConcurrentCreates(t *testing.T, s auth.Store) {
	const workers, perWorker = 8, 5
	// Users are built here: t.Fatal must not be called from the goroutines.
	own := make([][]*auth.User, workers)
	same := make([]*auth.User, workers)
	for w := range workers {
		for i := range perWorker {
			own[w] = append(own[w], newUser(t, fmt.Sprintf("w%d-%d", w, i)))
		}
		same[w] = newUser(t, "contested")
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, workers*perWorker)
	contested := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			<-start
			contested <- s.CreateUser(t.Context(), same[w])
			for _, u := range own[w] {
				if err := s.CreateUser(t.Context(), u); err != nil {
					errs <- err
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	close(contested)
	for err := range errs {
		t.Errorf("concurrent CreateUser: %v", err)
	}
	won := 0
	for err := range contested {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, auth.ErrExists):
			t.Errorf("CreateUser(contested) = %v, want nil or ErrExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent CreateUser(contested) succeeded, want 1", won, workers)
	}
	n, err := s.CountUsers(t.Context())
	if want := workers*perWorker + 1; err != nil || n != want {
		t.Errorf("CountUsers = %d, %v; want %d", n, err, want)
	}
}

func testCanceledContext(t *testing.T, s auth.Store) {
	create(t, s, newUser(t, "heidi"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"GetUser", func() error { _, err := s.GetUser(ctx, "heidi"); return err }},
		{"ListUsers", func() error { _, err := s.ListUsers(ctx, "", 0); return err }},
		{"CountUsers", func() error { _, err := s.CountUsers(ctx); return err }},
		{"CreateUser", func() error { return s.CreateUser(ctx, newUser(t, "ivan")) }},
		{"UpdateUser", func() error { return s.UpdateUser(ctx, newUser(t, "heidi")) }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, "heidi") }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", c.name, err)
		}
	}
	if _, err := s.GetUser(t.Context(), "ivan"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("CreateUser with a canceled context created the user: GetUser = %v", err)
	}
	get(t, s, "heidi")
}

func testPing(t *testing.T, s auth.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// MinimalUser returns a valid user with only the required fields, for a
// store's own tests.
func MinimalUser(t *testing.T, name string) *auth.User {
	t.Helper()
	u := &auth.User{Name: name, PasswordHash: hashB, Bucket: "bkt"}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	return u
}

// CheckRead reads the user name from s, after a store's test has written a
// column of its row behind the store's back, with GetUser and ListUsers.
// With wantErr both must fail with an error naming column (and not
// auth.ErrNotFound); otherwise both must succeed and check must accept the
// user.
func CheckRead(t *testing.T, s auth.Store, name, column string, wantErr bool, check func(*auth.User) bool) {
	t.Helper()
	u, err := s.GetUser(t.Context(), name)
	_, listErr := s.ListUsers(t.Context(), "", 0)
	if wantErr {
		for _, err := range []error{err, listErr} {
			if err == nil || errors.Is(err, auth.ErrNotFound) || !strings.Contains(err.Error(), column) {
				t.Errorf("read error = %v, want one naming %s", err, column)
			}
		}
		return
	}
	if err != nil || listErr != nil {
		t.Fatalf("GetUser: %v; ListUsers: %v", err, listErr)
	}
	if !check(u) {
		t.Errorf("read %+v", u)
	}
}
