package auth_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
)

// fieldOf returns the field a *auth.FieldError names, or "" if err is not one.
func fieldOf(err error) string {
	var fe *auth.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// checkFieldErr fails unless err is a *FieldError for field wrapping
// ErrInvalid, or nil when field is "".
func checkFieldErr(t *testing.T, err error, field string) {
	t.Helper()
	switch {
	case field == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case field != "" && (fieldOf(err) != field || !errors.Is(err, auth.ErrInvalid)):
		t.Fatalf("error = %v, want a FieldError for %q wrapping ErrInvalid", err, field)
	}
}

func TestFieldError(t *testing.T) {
	t.Parallel()
	err := error(&auth.FieldError{Field: "prefix", Message: "is bad"})
	if got := err.Error(); got != "prefix: is bad" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, auth.ErrInvalid) {
		t.Error("FieldError does not wrap ErrInvalid")
	}
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"alice", "alice"},
		{"Alice", "alice"},
		{"ALICE@EXAMPLE.COM", "alice@example.com"},
		{"a", "a"},
		{"0day", "0day"},
		{"scanner_2.floor-3", "scanner_2.floor-3"},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{strings.Repeat("x", 65), ""},
		{"", ""},
		{".alice", ""},
		{"-alice", ""},
		{"_alice", ""},
		{"@alice", ""},
		{"al ice", ""},
		{" alice", ""},
		{"alice\n", ""},
		{"ali/ce", ""},
		{"alice:", ""},
		{"élodie", ""},
		{"\u212Aate", ""}, // Kelvin sign lower-cases to "k": must not alias "kate"
		{"al\x00ice", ""},
	}
	for _, tt := range tests {
		got, err := auth.NormalizeName(tt.in)
		if tt.want == "" {
			if err == nil || fieldOf(err) != "name" {
				t.Errorf("NormalizeName(%q) = %q, %v; want a name FieldError", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestValidateBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		bucket string
		ok     bool
	}{
		{"my-bucket", true},
		{"abc", true},
		{"logs.example.com", true},
		{"0bucket9", true},
		{strings.Repeat("b", 63), true},
		{"ab", false},
		{strings.Repeat("b", 64), false},
		{"", false},
		{"My-Bucket", false},
		{"-bucket", false},
		{"bucket-", false},
		{".bucket", false},
		{"bucket.", false},
		{"a..b", false},
		{"a.-b", false},
		{"a-.b", false},
		{"192.168.5.4", false},
		{"xn--bucket", false},
		{"bucket-s3alias", false},
		{"a_b", false},
		{"a b", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		err := auth.ValidateBucket(tt.bucket)
		if (err == nil) != tt.ok || (err != nil && fieldOf(err) != "bucket") {
			t.Errorf("ValidateBucket(%q) = %v, want ok=%v", tt.bucket, err, tt.ok)
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	t.Parallel()
	const bad = "\x00bad" // marks an expected error
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"/", ""},
		{"///", ""},
		{"a", "a/"},
		{"a/", "a/"},
		{"/a/b/", "a/b/"},
		{"//a//", "a/"},
		{"a/b", "a/b/"},
		{"über/ordner 1", "über/ordner 1/"},
		{"a.b/..c/d..", "a.b/..c/d../"},
		{strings.Repeat("p", 511), strings.Repeat("p", 511) + "/"}, // 512 bytes with the "/"
		{strings.Repeat("p", 512), bad},
		{"a\xffb", bad},   // not UTF-8
		{"a\u0085b", bad}, // C1 control
		{"caf\u00e9", "caf\u00e9/"},
		{"a//b", bad},
		{"a/./b", bad},
		{"a/../b", bad},
		{"..", bad},
		{".", bad},
		{"../etc", bad},
		{"a/..", bad},
		{"a\x00b", bad},
		{"a\tb", bad},
		{"a\nb", bad},
		{"a\x7fb", bad},
	}
	for _, tt := range tests {
		got, err := auth.NormalizePrefix(tt.in)
		if tt.want == bad {
			if err == nil || fieldOf(err) != "prefix" {
				t.Errorf("NormalizePrefix(%q) = %q, %v; want a prefix FieldError", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePrefix(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := func() *auth.User {
		return &auth.User{
			Name:            "Alice",
			PasswordHash:    testBcryptHash,
			Bucket:          "bucket",
			Prefix:          "/home/alice",
			Permissions:     auth.PermList | auth.PermDownload,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			Description:     strings.Repeat("d", 1024),
		}
	}
	tests := []struct {
		name      string
		change    func(u *auth.User)
		wantField string // "" means valid
	}{
		{"valid", func(*auth.User) {}, ""},
		{"argon2id hash", func(u *auth.User) { u.PasswordHash = referenceHash }, ""},
		{"no permissions or networks", func(u *auth.User) { u.Permissions, u.AllowedNetworks = 0, nil }, ""},
		{"bad name", func(u *auth.User) { u.Name = "a b" }, "name"},
		{"bad bucket", func(u *auth.User) { u.Bucket = "B" }, "bucket"},
		{"bad prefix", func(u *auth.User) { u.Prefix = "a/../b" }, "prefix"},
		{"no hash", func(u *auth.User) { u.PasswordHash = "" }, "password"},
		{"plain password as hash", func(u *auth.User) { u.PasswordHash = "hunter2" }, "password_hash"},
		{"unknown permission bit", func(u *auth.User) { u.Permissions |= 1 << 12 }, "permissions"},
		{"zero network", func(u *auth.User) { u.AllowedNetworks = append(u.AllowedNetworks, netip.Prefix{}) }, "allowed_networks"},
		{"long description", func(u *auth.User) { u.Description += "d" }, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := valid()
			tt.change(u)
			err := u.Validate()
			checkFieldErr(t, err, tt.wantField)
			if err == nil && (u.Name != "alice" || u.Prefix != "home/alice/") {
				t.Errorf("Validate left name %q, prefix %q; want them normalized", u.Name, u.Prefix)
			}
		})
	}
}

func TestAllowsAddr(t *testing.T) {
	t.Parallel()
	nets := func(s ...string) []netip.Prefix {
		var p []netip.Prefix
		for _, n := range s {
			p = append(p, netip.MustParsePrefix(n))
		}
		return p
	}
	tests := []struct {
		networks []netip.Prefix
		addr     string // "" is the zero netip.Addr
		want     bool
	}{
		{nil, "192.0.2.1", true},
		{nil, "2001:db8::1", true},
		{nil, "", true},
		{nets("10.0.0.0/8"), "10.1.2.3", true},
		{nets("10.0.0.0/8"), "::ffff:10.1.2.3", true},
		{nets("10.0.0.0/8"), "11.0.0.1", false},
		{nets("10.0.0.0/8"), "::ffff:11.0.0.1", false},
		{nets("10.0.0.0/8"), "", false},
		{nets("192.0.2.7/32"), "192.0.2.7", true},
		{nets("192.0.2.7/32"), "192.0.2.8", false},
		{nets("2001:db8::/32"), "2001:db8:1::5", true},
		{nets("2001:db8::/32"), "2001:db9::1", false},
		{nets("2001:db8::/32"), "10.0.0.1", false},
		{nets("10.0.0.0/8", "2001:db8::/32"), "2001:db8::1", true},
		{nets("10.0.0.0/8", "2001:db8::/32"), "10.9.9.9", true},
		{nets("10.0.0.0/8", "2001:db8::/32"), "172.16.0.1", false},
	}
	for _, tt := range tests {
		var addr netip.Addr
		if tt.addr != "" {
			addr = netip.MustParseAddr(tt.addr)
		}
		u := &auth.User{AllowedNetworks: tt.networks}
		if got := u.AllowsAddr(addr); got != tt.want {
			t.Errorf("networks %v: AllowsAddr(%v) = %v, want %v", tt.networks, addr, got, tt.want)
		}
	}
}

func TestValidateNormalizesNetworks(t *testing.T) {
	t.Parallel()
	u := &auth.User{
		Name: "cam", PasswordHash: referenceHash, Bucket: "bucket",
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("::ffff:10.1.0.0/112"), netip.MustParsePrefix("192.0.2.77/24")},
	}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.0.2.0/24")}
	if !slices.Equal(u.AllowedNetworks, want) {
		t.Errorf("networks = %v, want %v", u.AllowedNetworks, want)
	}
	if !u.AllowsAddr(netip.MustParseAddr("::ffff:10.1.2.3")) || u.AllowsAddr(netip.MustParseAddr("10.2.0.1")) {
		t.Errorf("AllowsAddr does not follow the normalized networks")
	}
	u.Description = "bad \xff"
	if err := u.Validate(); err == nil {
		t.Errorf("invalid UTF-8 description accepted")
	}
}
