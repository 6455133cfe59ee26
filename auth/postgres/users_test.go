package postgres

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/authtest"
	"github.com/s3ftp/s3ftp/test/pgtest"
)

// TestUsers runs the tests of the users table on one server, each subtest
// on databases of its own.
func TestUsers(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	tests := []struct {
		name string
		test func(t *testing.T, srv *pgtest.Server)
	}{
		{"StoredForm", testStoredForm},
		{"ReadHandEdited", testReadHandEdited},
		{"HandInserted", testHandInserted},
		{"NULInDescription", testNULInDescription},
		{"ErrorsHidePasswordHash", testErrorsHidePasswordHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, srv)
		})
	}
}

// testStoredForm checks that the table stays readable with psql and that
// names sort in byte order whatever the database's collation.
func testStoredForm(t *testing.T, srv *pgtest.Server) {
	s, dbURL := openNew(t, srv)
	u := authtest.MinimalUser(t, "reader")
	u.Permissions = auth.PermList | auth.PermUpload
	u.AllowedNetworks = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("192.0.2.7/32"),
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tests := []struct{ sql, want string }{
		{`SELECT permissions::text FROM users`, "{list,upload}"},
		{`SELECT allowed_networks::text FROM users`, "{10.0.0.0/8,2001:db8::/32,192.0.2.7/32}"},
		{`SELECT pg_typeof(created_at)::text FROM users`, "timestamp with time zone"},
		{`SELECT collation_name FROM information_schema.columns
			WHERE table_name = 'users' AND column_name = 'name'`, "C"},
		{`SELECT (created_at = updated_at)::text FROM users`, "true"},
	}
	for _, tt := range tests {
		var got string
		if err := conn.QueryRow(t.Context(), tt.sql).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tt.sql, err)
		}
		if got != tt.want {
			t.Errorf("%s = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

// testReadHandEdited checks what a row edited by hand reads as: lenient
// where the meaning is plain, an error naming the column where it is not,
// and refused by the server where the column's type says so.
func testReadHandEdited(t *testing.T, srv *pgtest.Server) {
	tests := []struct {
		name, column, value string
		wantErr             bool // reading the row fails
		refused             bool // the server refuses the value
		check               func(u *auth.User) bool
	}{
		{"permissions in upper case", "permissions", "{LIST,\" Download\"}", false, false,
			func(u *auth.User) bool { return u.Permissions == auth.PermList|auth.PermDownload }},
		{"no permissions", "permissions", "{}", false, false,
			func(u *auth.User) bool { return u.Permissions == 0 }},
		{"no networks", "allowed_networks", "{}", false, false,
			func(u *auth.User) bool { return u.AllowedNetworks == nil }},
		{"networks", "allowed_networks", "{10.1.0.0/16, ::/0}", false, false,
			func(u *auth.User) bool {
				return slices.Equal(u.AllowedNetworks, []netip.Prefix{
					netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("::/0")})
			}},
		{"unknown permission", "permissions", "{list,fly}", true, false, nil},
		{"NULL permission", "permissions", "{list,NULL}", true, false, nil},
		{"NULL network", "allowed_networks", "{10.0.0.0/8,NULL}", true, false, nil},
		{"infinite time", "created_at", "infinity", true, false, nil},
		{"network with host bits", "allowed_networks", "{10.0.0.1/8}", false, true, nil},
		{"not a network", "allowed_networks", "{nowhere}", false, true, nil},
		{"NULL list", "permissions", "", false, true, nil}, // value "" stands for NULL
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, dbURL := openNew(t, srv)
			if err := s.CreateUser(t.Context(), authtest.MinimalUser(t, "edited")); err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(t.Context(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var value any = tt.value
			if tt.value == "" {
				value = nil
			}
			_, err = conn.Exec(t.Context(),
				`UPDATE users SET `+tt.column+` = $1::text::`+columnType(tt.column)+` WHERE name = 'edited'`, value)
			if tt.refused {
				if err == nil {
					t.Fatalf("the server stored %s = %q", tt.column, tt.value)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			authtest.CheckRead(t, s, "edited", tt.column, tt.wantErr, tt.check)
		})
	}
}

// columnType returns the SQL type of a column of users edited by tests.
func columnType(column string) string {
	switch column {
	case "permissions":
		return "text[]"
	case "allowed_networks":
		return "cidr[]"
	default:
		return "timestamptz"
	}
}

// testHandInserted reads a row inserted with psql naming only the required
// columns: the others take their defaults.
func testHandInserted(t *testing.T, srv *pgtest.Server) {
	s, dbURL := openNew(t, srv)
	want := authtest.MinimalUser(t, "manual")
	exec(t, dbURL, `INSERT INTO users (name, password_hash, bucket) VALUES ($1, $2, $3)`,
		want.Name, want.PasswordHash, want.Bucket)
	got, err := s.GetUser(t.Context(), "manual")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt %v, UpdatedAt %v; want the same UTC time", got.CreatedAt, got.UpdatedAt)
	}
	want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, want %+v", got, want)
	}
}

// testNULInDescription checks that a description PostgreSQL cannot store
// is refused as invalid, not as a database failure.
func testNULInDescription(t *testing.T, srv *pgtest.Server) {
	s, _ := openNew(t, srv)
	u := authtest.MinimalUser(t, "nul")
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	u.Description = "a\x00b"
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { v := *u; v.Name = "nul2"; return s.CreateUser(t.Context(), &v) }},
		{"UpdateUser", func() error { return s.UpdateUser(t.Context(), u) }},
	}
	for _, c := range calls {
		err := c.call()
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != "description" || !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("%s with a NUL in the description = %v, want a FieldError for description", c.name, err)
		}
	}
}

// testErrorsHidePasswordHash checks that no failing call puts the user's
// password hash in its error.
func testErrorsHidePasswordHash(t *testing.T, srv *pgtest.Server) {
	s, dbURL := openNew(t, srv)
	u := authtest.MinimalUser(t, "hashed")
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	dropped, droppedURL := openNew(t, srv)
	exec(t, droppedURL, `DROP TABLE users CASCADE`) // and the activity tables' foreign keys
	closed, _ := openNew(t, srv)
	closed.Close()
	calls := []struct {
		name string
		call func() error
	}{
		{"duplicate", func() error { return s.CreateUser(t.Context(), u) }},
		{"canceled create", func() error { v := *u; v.Name = "other"; return s.CreateUser(canceled, &v) }},
		{"canceled update", func() error { return s.UpdateUser(canceled, u) }},
		{"create without table", func() error { return dropped.CreateUser(t.Context(), u) }},
		{"update without table", func() error { return dropped.UpdateUser(t.Context(), u) }},
		{"create on closed store", func() error { return closed.CreateUser(t.Context(), u) }},
		{"not null violation", func() error {
			exec(t, dbURL, `ALTER TABLE users ADD COLUMN extra text NOT NULL DEFAULT 'x'`)
			exec(t, dbURL, `ALTER TABLE users ALTER COLUMN extra DROP DEFAULT`)
			v := *u
			v.Name = "third"
			return s.CreateUser(t.Context(), &v)
		}},
	}
	for _, c := range calls {
		err := c.call()
		if err == nil {
			t.Errorf("%s succeeded", c.name)
			continue
		}
		for _, text := range errorTexts(err) {
			if strings.Contains(text, u.PasswordHash) || strings.Contains(text, u.PasswordHash[7:]) {
				t.Errorf("%s: error shows the password hash: %s", c.name, text)
			}
		}
	}
}
