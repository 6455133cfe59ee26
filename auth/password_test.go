package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"golang.org/x/crypto/bcrypt"
)

const (
	// referenceHash is the argon2id test vector of the reference
	// implementation (P-H-C/phc-winner-argon2): "password", salt "somesalt",
	// m=65536, t=2, p=1.
	referenceHash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	// testBcryptHash is a bcrypt hash of "secret" at the minimum cost.
	testBcryptHash = "$2a$04$.7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=7168,t=5,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordRoundTrip(t *testing.T) {
	t.Parallel()
	passwords := []struct{ name, password string }{
		{"ascii", "correct horse battery staple"},
		{"unicode", "pässwörd 🔑 パスワード"},
		{"one byte", "x"},
		{"dollars and commas", "$argon2id$v=19$,m=1"},
		{"maximum length", strings.Repeat("p", auth.MaxPasswordLen)},
	}
	for _, tt := range passwords {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := auth.HashPassword(tt.password)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			if !phcRE.MatchString(h) {
				t.Fatalf("HashPassword = %q, not in the expected PHC form", h)
			}
			if !auth.IsHash(h) {
				t.Errorf("IsHash(%q) = false", h)
			}
			if len(tt.password) >= 8 && strings.Contains(h, tt.password) {
				t.Errorf("hash %q contains the password", h)
			}
			ok, err := auth.VerifyPassword(h, tt.password)
			if err != nil || !ok {
				t.Errorf("VerifyPassword(right password) = %v, %v", ok, err)
			}
			wrong := tt.password[:len(tt.password)-1] + "!"
			ok, err = auth.VerifyPassword(h, wrong)
			if err != nil || ok {
				t.Errorf("VerifyPassword(wrong password) = %v, %v", ok, err)
			}
		})
	}
}

func TestHashPasswordSalted(t *testing.T) {
	t.Parallel()
	a, errA := auth.HashPassword("same")
	b, errB := auth.HashPassword("same")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: %q", a)
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", strings.Repeat("p", auth.MaxPasswordLen+1)} {
		h, err := auth.HashPassword(p)
		if h != "" || fieldOf(err) != "password" || !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("HashPassword(%d bytes) = %q, %v; want a password FieldError", len(p), h, err)
		}
	}
}

func TestVerifyPassword(t *testing.T) {
	t.Parallel()
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("imported"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b := string(bcryptHash) // $2a$; $2b$ and $2y$ are the same algorithm
	tests := []struct {
		name, hash, password string
		want                 bool
	}{
		{"reference vector", referenceHash, "password", true},
		{"reference vector, wrong", referenceHash, "Password", false},
		{"reference vector, empty", referenceHash, "", false},
		{"reference vector, too long", referenceHash, strings.Repeat("p", auth.MaxPasswordLen+1), false},
		{"bcrypt 2a", b, "imported", true},
		{"bcrypt 2b", "$2b$" + b[4:], "imported", true},
		{"bcrypt 2y", "$2y$" + b[4:], "imported", true},
		{"bcrypt, wrong", b, "imported!", false},
		{"bcrypt, empty", b, "", false},
		{"bcrypt fixture", testBcryptHash, "secret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !auth.IsHash(tt.hash) {
				t.Errorf("IsHash(%q) = false", tt.hash)
			}
			ok, err := auth.VerifyPassword(tt.hash, tt.password)
			if err != nil || ok != tt.want {
				t.Errorf("VerifyPassword = %v, %v; want %v", ok, err, tt.want)
			}
		})
	}
}

// TestVerifyPasswordRefusesHash covers malformed hashes and hostile
// parameters. None may cost real work: each must be refused while parsing.
func TestVerifyPasswordRefusesHash(t *testing.T) {
	t.Parallel()
	const (
		salt = "c29tZXNhbHQ"                                 // "somesalt", 8 bytes
		key  = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc" // 32 bytes
		bsum = ".7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S"
	)
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"plain text", "secret"},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"argon2id v=16", "$argon2id$v=16$m=65536,t=2,p=1$" + salt + "$" + key},
		{"argon2id without version", "$argon2id$m=65536,t=2,p=1$" + salt + "$" + key},
		{"parameters out of order", argon("t=2,m=65536,p=1")},
		{"missing parameter", argon("m=65536,t=2")},
		{"extra parameter", argon("m=65536,t=2,p=1,keyid=abc")},
		{"non-numeric memory", argon("m=lots,t=2,p=1")},
		{"signed memory", argon("m=+65536,t=2,p=1")},
		{"negative iterations", argon("m=65536,t=-2,p=1")},
		{"memory over 32 bits", argon("m=4294967296,t=2,p=1")},
		{"spaces", argon("m=65536, t=2, p=1")},
		{"missing key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt},
		{"empty key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$"},
		{"extra field", argon("m=65536,t=2,p=1") + "$x"},
		{"padded salt", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$" + key},
		{"salt not base64", "$argon2id$v=19$m=65536,t=2,p=1$c29t*XNhbHQ$" + key},
		{"salt too short", "$argon2id$v=19$m=65536,t=2,p=1$c29tZQ$" + key},
		{"key too short", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$CTFhFdXPJO1aFa"},
		{"trailing newline", argon("m=65536,t=2,p=1") + "\n"},
		{"newline in key", argon("m=65536,t=2,p=1")[:70] + "\r\n" + argon("m=65536,t=2,p=1")[70:]},
		{"stray trailing bits", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$" + key},
		{"hostile: 4 GiB", argon("m=4194304,t=2,p=1")},
		{"hostile: just over 256 MiB", argon("m=262145,t=1,p=1")},
		{"hostile: iterations", argon("m=65536,t=4294967295,p=1")},
		{"hostile: 17 iterations", argon("m=8,t=17,p=1")},
		{"hostile: memory × iterations", argon("m=262144,t=5,p=1")},
		{"hostile: lanes", argon("m=65536,t=2,p=255")},
		{"zero iterations", argon("m=65536,t=0,p=1")},
		{"zero lanes", argon("m=65536,t=2,p=0")},
		{"memory below 8 per lane", argon("m=15,t=1,p=2")},
		{"bcrypt 2x", "$2x$04$" + bsum},
		{"bcrypt 2", "$2$04$" + bsum},
		{"bcrypt 3a", "$3a$04$" + bsum},
		{"bcrypt one-digit cost", "$2a$4$" + bsum},
		{"bcrypt cost below minimum", "$2a$03$" + bsum},
		{"bcrypt truncated", "$2a$04$" + bsum[1:]},
		{"bcrypt too long", "$2a$04$" + bsum + "x"},
		{"bcrypt trailing newline", "$2a$04$" + bsum + "\n"},
		{"bcrypt bad alphabet", "$2a$04$+" + bsum[1:]},
		{"hostile: bcrypt cost 15", "$2a$15$" + bsum},
		{"hostile: bcrypt cost 31", "$2b$31$" + bsum},
		{"bcrypt cost 32", "$2b$32$" + bsum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if auth.IsHash(tt.hash) {
				t.Errorf("IsHash(%q) = true", tt.hash)
			}
			start := time.Now()
			ok, err := auth.VerifyPassword(tt.hash, "hunter2")
			if ok || fieldOf(err) != "password_hash" || !errors.Is(err, auth.ErrInvalid) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want a password_hash FieldError", tt.hash, ok, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q contains the password", err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("refusing took %v: the hash was computed", d)
			}
		})
	}
}

// TestIsHashLimits checks the largest parameters accepted; they are not
// computed here (256 MiB per verification).
func TestIsHashLimits(t *testing.T) {
	t.Parallel()
	tests := []string{
		"$argon2id$v=19$m=262144,t=4,p=16$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=16,p=4$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5Q",
		"$2b$14$.7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S",
	}
	for _, h := range tests {
		if !auth.IsHash(h) {
			t.Errorf("IsHash(%q) = false, want true", h)
		}
	}
}
