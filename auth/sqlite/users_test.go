package sqlite

import (
	"net/netip"
	"regexp"
	"slices"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/authtest"
)

// TestStoredForm checks that the database stays readable by a person with
// the sqlite3 shell: permissions and networks as text lists, times as text.
func TestStoredForm(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	t.Cleanup(func() { s.Close() })
	u := authtest.MinimalUser(t, "reader")
	u.Permissions = auth.PermList | auth.PermUpload
	u.AllowedNetworks = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	var perms, networks, created, updated string
	err := s.db.QueryRowContext(t.Context(),
		`SELECT permissions, allowed_networks, created_at, updated_at FROM users WHERE name = 'reader'`).
		Scan(&perms, &networks, &created, &updated)
	if err != nil {
		t.Fatal(err)
	}
	if perms != "list,upload" {
		t.Errorf("permissions stored as %q, want %q", perms, "list,upload")
	}
	if networks != "10.0.0.0/8,2001:db8::/32" {
		t.Errorf("allowed_networks stored as %q", networks)
	}
	timeRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	for _, ts := range []string{created, updated} {
		if !timeRE.MatchString(ts) {
			t.Errorf("time stored as %q, want %s", ts, timeLayout)
		}
	}
}

// TestReadHandEdited checks what a row edited by hand reads as: lenient
// where the meaning is plain, an error naming the column where it is not.
func TestReadHandEdited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, column, value string
		wantErr             bool
		check               func(u *auth.User) bool
	}{
		{"networks with spaces", "allowed_networks", "10.0.0.0/8, 192.168.0.0/16", false,
			func(u *auth.User) bool {
				return slices.Equal(u.AllowedNetworks, []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")})
			}},
		{"permissions in upper case", "permissions", "LIST, Download", false,
			func(u *auth.User) bool { return u.Permissions == auth.PermList|auth.PermDownload }},
		{"unknown permission", "permissions", "list,fly", true, nil},
		{"bad network", "allowed_networks", "10.0.0.0/33", true, nil},
		{"bad time", "created_at", "yesterday", true, nil},
		{"bad update time", "updated_at", "2024-01-01 10:00:00", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openTemp(t)
			t.Cleanup(func() { s.Close() })
			if err := s.CreateUser(t.Context(), authtest.MinimalUser(t, "edited")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.ExecContext(t.Context(),
				`UPDATE users SET `+tt.column+` = ? WHERE name = 'edited'`, tt.value); err != nil {
				t.Fatal(err)
			}
			authtest.CheckRead(t, s, "edited", tt.column, tt.wantErr, tt.check)
		})
	}
}
