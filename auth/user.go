// Package auth holds the gateway's users: the User model, the Store interface that
// keeps them, password hashing and the Authenticator that checks a login.
//
// Implementations of Store live in subpackages named for their dependency
// (auth/sqlite). Callers branch on the sentinel errors below with errors.Is.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors returned by Store implementations and by validation.
var (
	// ErrNotFound: no user has that name.
	ErrNotFound = errors.New("user not found")
	// ErrExists: a user with that name already exists.
	ErrExists = errors.New("user already exists")
	// ErrInvalid: a field of a user is not valid; the wrapping error names the field.
	ErrInvalid = errors.New("invalid user")
	// ErrDenied: the login is refused (bad name, bad password, disabled user or
	// client network not allowed). The reason is deliberately not distinguished.
	ErrDenied = errors.New("login incorrect")
)

// FieldError reports which field of a user failed validation. It wraps ErrInvalid.
type FieldError struct {
	Field   string // JSON name of the field, e.g. "prefix"
	Message string // human readable reason, safe to show to an administrator
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// User is one FTP account: who may log in, where their files go in S3 and what
// they may do there.
type User struct {
	Name            string         // login name, see ValidateName; stored lower case
	PasswordHash    string         // PHC string (argon2id) or bcrypt hash; never the password
	Bucket          string         // S3 bucket the user's files go to
	Prefix          string         // key prefix inside Bucket, "" or ending in "/"; see NormalizePrefix
	Permissions     Permissions    // what the user may do
	AllowedNetworks []netip.Prefix // client networks allowed to log in; empty means any
	RequireTLS      bool           // the control and data connections must use TLS
	Disabled        bool           // logins are refused
	Description     string         // free text for administrators
	// ExpectUploadEvery is how often the user's device is expected to
	// upload: past it without an upload the user is silent (see
	// Activity.Silent). 0 means no expectation; otherwise whole seconds
	// from MinExpectUploadEvery to MaxExpectUploadEvery.
	ExpectUploadEvery time.Duration
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Validate normalizes the name and prefix of u in place and checks every field.
// It returns a *FieldError (wrapping ErrInvalid) naming the first bad field.
func (u *User) Validate() error {
	if err := u.validateProfile(); err != nil {
		return err
	}
	if u.PasswordHash == "" {
		return &FieldError{Field: "password", Message: "a password or password hash is required"}
	}
	if !IsHash(u.PasswordHash) {
		return &FieldError{Field: "password_hash", Message: "not an argon2id or bcrypt hash"}
	}
	return nil
}

// validateProfile is Validate without the password hash: what can be checked
// before a password is hashed.
func (u *User) validateProfile() error {
	name, err := NormalizeName(u.Name)
	if err != nil {
		return err
	}
	u.Name = name
	if err := ValidateBucket(u.Bucket); err != nil {
		return err
	}
	prefix, err := NormalizePrefix(u.Prefix)
	if err != nil {
		return err
	}
	u.Prefix = prefix
	if u.Permissions&^AllPermissions != 0 {
		return &FieldError{Field: "permissions", Message: "unknown permission bits"}
	}
	for i, n := range u.AllowedNetworks {
		if !n.IsValid() {
			return &FieldError{Field: "allowed_networks", Message: "invalid network"}
		}
		u.AllowedNetworks[i] = normalizeNetwork(n)
	}
	if err := ValidateExpectUploadEvery(u.ExpectUploadEvery); err != nil {
		return err
	}
	if len(u.Description) > 1024 || !utf8.ValidString(u.Description) || strings.ContainsRune(u.Description, 0) {
		return &FieldError{Field: "description", Message: "must be valid UTF-8 of at most 1024 bytes, without NUL"}
	}
	return nil
}

// Bounds of User.ExpectUploadEvery when it is set.
const (
	MinExpectUploadEvery = time.Second
	MaxExpectUploadEvery = 366 * 24 * time.Hour
)

// ValidateExpectUploadEvery checks an upload expectation: 0 (none), or a
// whole number of seconds from MinExpectUploadEvery to MaxExpectUploadEvery.
// It returns a *FieldError for "expect_upload_every".
func ValidateExpectUploadEvery(d time.Duration) error {
	if d == 0 {
		return nil
	}
	if d < MinExpectUploadEvery || d > MaxExpectUploadEvery || d%time.Second != 0 {
		return &FieldError{Field: "expect_upload_every", Message: "must be empty (no expectation) or a whole number of seconds from 1s to 8784h, e.g. 1h or 15m"}
	}
	return nil
}

// ParseExpectUploadEvery parses an upload expectation as a Go duration
// string ("1h30m"); "" is no expectation. It returns a *FieldError for
// "expect_upload_every" if s does not parse or is out of bounds.
func ParseExpectUploadEvery(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, &FieldError{Field: "expect_upload_every", Message: "must be a duration such as 30m, 1h or 24h (or empty for none)"}
	}
	return d, ValidateExpectUploadEvery(d)
}

// FormatExpectUploadEvery is the inverse of ParseExpectUploadEvery: "" for
// no expectation, else Go's duration string ("1h0m0s").
func FormatExpectUploadEvery(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// normalizeNetwork masks n to its network address and turns an IPv4-mapped
// IPv6 network (::ffff:10.0.0.0/104) into the IPv4 one (10.0.0.0/8), since
// client addresses are compared unmapped.
func normalizeNetwork(n netip.Prefix) netip.Prefix {
	if a := n.Addr(); a.Is4In6() && n.Bits() >= 96 {
		n = netip.PrefixFrom(a.Unmap(), n.Bits()-96)
	}
	return n.Masked()
}

// AllowsAddr reports whether a client at addr may log in as u.
func (u *User) AllowsAddr(addr netip.Addr) bool {
	if len(u.AllowedNetworks) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, n := range u.AllowedNetworks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// NormalizeName returns the canonical form of a login name. Names are case
// insensitive: they are stored and compared in lower case. A name is 1 to 64
// ASCII characters from a-z, A-Z, 0-9 and "._@-", starting with a letter or
// digit. The check comes before lower-casing, so no Unicode letter (such as
// the Kelvin sign) can alias an ASCII name.
func NormalizeName(name string) (string, error) {
	if !nameRE.MatchString(name) {
		return "", &FieldError{Field: "name", Message: `must be 1-64 characters of a-z, 0-9, ".", "_", "@", "-", starting with a letter or digit`}
	}
	return strings.ToLower(name), nil
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ValidateBucket checks a bucket name against the S3 bucket naming rules:
// 3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter
// or digit, no "..", ".-" or "-.", not shaped like an IPv4 address, and not
// using the reserved "xn--" prefix or "-s3alias" suffix.
func ValidateBucket(bucket string) error {
	bad := !bucketRE.MatchString(bucket) ||
		strings.Contains(bucket, "..") || strings.Contains(bucket, ".-") || strings.Contains(bucket, "-.") ||
		strings.HasPrefix(bucket, "xn--") || strings.HasSuffix(bucket, "-s3alias")
	if _, err := netip.ParseAddr(bucket); err == nil {
		bad = true
	}
	if bad {
		return &FieldError{Field: "bucket", Message: "must be a valid S3 bucket name (3-63 characters of a-z, 0-9, '.', '-')"}
	}
	return nil
}

// NormalizePrefix returns the canonical form of a key prefix: no leading "/",
// no "." or ".." or empty segments, and a trailing "/" unless it is empty (the
// whole bucket). It refuses control characters and prefixes over 512 bytes.
func NormalizePrefix(prefix string) (string, error) {
	bad := func(msg string) error { return &FieldError{Field: "prefix", Message: msg} }
	p := strings.Trim(prefix, "/")
	if p == "" {
		return "", nil
	}
	if len(p)+1 > 512 {
		return "", bad("longer than 512 bytes")
	}
	if !utf8.ValidString(p) {
		return "", bad("is not valid UTF-8")
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return "", bad("contains a control character")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".", "..":
			return "", bad(`must not contain empty, "." or ".." segments`)
		}
	}
	if path.Clean(p) != p {
		return "", bad("is not a clean path")
	}
	return p + "/", nil
}

// Store keeps users. Implementations must be safe for concurrent use. Names
// passed to Store methods are normalized by the caller (see NormalizeName).
type Store interface {
	// GetUser returns the user called name, or ErrNotFound.
	GetUser(ctx context.Context, name string) (*User, error)
	// ListUsers returns up to limit users whose names sort after the name
	// after, in byte order of the names. limit <= 0 means no limit.
	ListUsers(ctx context.Context, after string, limit int) ([]*User, error)
	// CountUsers returns how many users the store holds.
	CountUsers(ctx context.Context) (int, error)
	// CreateUser adds u, setting its CreatedAt and UpdatedAt. It returns
	// ErrExists if the name is taken. u must have passed Validate.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser replaces every field of the user called u.Name but its
	// CreatedAt, sets UpdatedAt, and sets u.CreatedAt to the stored value.
	// It returns ErrNotFound if there is none.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes the user called name, or returns ErrNotFound.
	DeleteUser(ctx context.Context, name string) error
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// ParseNetworks parses client networks as an administrator types them:
// CIDR networks ("192.0.2.0/24") or single addresses ("192.0.2.7", taken
// as /32 or /128), separated by commas, spaces or line breaks. A bad entry
// is a *FieldError for "allowed_networks" that quotes it.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var networks []netip.Prefix
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		n, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil || a.Zone() != "" {
				return nil, &FieldError{Field: "allowed_networks", Message: fmt.Sprintf("%q is not a network in CIDR notation (192.0.2.0/24) or an address", item)}
			}
			n = netip.PrefixFrom(a, a.BitLen())
		}
		networks = append(networks, n)
	}
	return networks, nil
}
