package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordLen is the longest password, in bytes, that HashPassword accepts.
const MaxPasswordLen = 1024

// Parameters of the hashes HashPassword makes: 7 MiB, 5 iterations, 1 lane,
// one of the argon2id settings the OWASP Password Storage Cheat Sheet lists
// as equally strong (with 19 MiB × 2, 12 MiB × 3, 9 MiB × 4). The least
// memory of them keeps a gateway's peak memory low when logins and uploads
// coincide. A 16-byte salt and a 32-byte key.
const (
	argonMemory  = 7 * 1024 // KiB
	argonTime    = 5
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Limits on the parameters of a hash VerifyPassword accepts. Hashes can be
// imported by administrators; these bounds keep a hostile or careless one
// from costing more than about a second of CPU and 256 MiB per login (the
// Authenticator bounds how many logins hash at once). Common settings (OWASP,
// RFC 9106's second recommendation, argon2-cffi and Bitwarden defaults, bcrypt
// cost 10-12) are well inside them.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 16
	maxArgonWork    = 4 * maxArgonMemory // memory × iterations, KiB
	maxArgonThreads = 16
	minArgonSaltLen = 8 // RFC 9106 minimum
	maxArgonSaltLen = 64
	minArgonKeyLen  = 16
	maxArgonKeyLen  = 64
	maxBcryptCost   = 14
)

// argon2idPrefix starts every hash HashPassword makes. Only version 19 (0x13,
// the current and only version golang.org/x/crypto implements) is accepted.
const argon2idPrefix = "$argon2id$v=19$"

// bcryptRE matches a bcrypt hash in the modular crypt format: version 2a, 2b
// or 2y, a two-digit cost, then 22 characters of salt and 31 of hash in
// bcrypt's base64 alphabet.
var bcryptRE = regexp.MustCompile(`^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)

// decodeB64 decodes a salt or key of a PHC string (standard alphabet, no
// padding), accepting only the canonical encoding: the decoder alone would
// skip newlines and ignore stray trailing bits.
func decodeB64(s string) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err == nil && base64.RawStdEncoding.EncodeToString(b) != s {
		err = errors.New("not canonical base64")
	}
	return b, err
}

// HashPassword returns an argon2id hash of password as a PHC string,
// "$argon2id$v=19$m=7168,t=5,p=1$<salt>$<key>", with a fresh random salt.
// It returns a *FieldError for the field "password" (wrapping ErrInvalid)
// if password is empty or longer than MaxPasswordLen bytes.
func HashPassword(password string) (string, error) {
	if err := checkPasswordLen(password); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // never returns an error: it crashes the program instead
	p := argonParams{memory: argonMemory, time: argonTime, threads: argonThreads, salt: salt}
	p.key = argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, argonKeyLen)
	return p.String(), nil
}

// VerifyPassword reports whether password matches hash, which is either an
// argon2id PHC string (with its own m, t and p) or a bcrypt hash ($2a$, $2b$,
// $2y$). The comparison is constant-time. A wrong password, including an empty
// one or one over MaxPasswordLen bytes, is (false, nil). An error, a
// *FieldError for the field "password_hash" wrapping ErrInvalid, means hash is
// malformed or has parameters beyond the limits that keep verification cheap.
// Bcrypt, by design, only looks at the first 72 bytes of the password.
func VerifyPassword(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, err := parseArgon2id(hash)
		if err != nil {
			return false, err
		}
		if checkPasswordLen(password) != nil {
			return false, nil
		}
		key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(key, p.key) == 1, nil
	case strings.HasPrefix(hash, "$2"):
		if err := checkBcrypt(hash); err != nil {
			return false, err
		}
		if checkPasswordLen(password) != nil {
			return false, nil
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, hashError(err.Error())
		}
	default:
		return false, hashError("not an argon2id or bcrypt hash")
	}
}

// IsHash reports whether s is a hash VerifyPassword accepts: a well-formed
// argon2id PHC string or bcrypt hash whose parameters are within its limits.
func IsHash(s string) bool {
	if strings.HasPrefix(s, "$argon2id$") {
		_, err := parseArgon2id(s)
		return err == nil
	}
	return checkBcrypt(s) == nil
}

func checkPasswordLen(password string) error {
	switch {
	case password == "":
		return &FieldError{Field: "password", Message: "must not be empty"}
	case len(password) > MaxPasswordLen:
		return &FieldError{Field: "password", Message: fmt.Sprintf("longer than %d bytes", MaxPasswordLen)}
	}
	return nil
}

func hashError(msg string) error {
	return &FieldError{Field: "password_hash", Message: msg}
}

// argonParams is a parsed argon2id PHC string.
type argonParams struct {
	memory    uint32 // KiB
	time      uint32
	threads   uint8
	salt, key []byte
}

// String returns p in the PHC string format of the reference argon2 CLI.
func (p argonParams) String() string {
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", argon2idPrefix, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(p.salt), base64.RawStdEncoding.EncodeToString(p.key))
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$key", parameters in
// that order and within the limits above.
func parseArgon2id(s string) (argonParams, error) {
	var p argonParams
	rest, ok := strings.CutPrefix(s, argon2idPrefix)
	if !ok {
		return p, hashError("argon2id hash must start with " + argon2idPrefix)
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return p, hashError("argon2id hash must have parameters, salt and key")
	}
	params := strings.Split(fields[0], ",")
	if len(params) != 3 {
		return p, hashError("argon2id parameters must be m=,t=,p=")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return p, hashError("argon2id parameters must be m=,t=,p=")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, hashError(fmt.Sprintf("argon2id parameter %s: not a number", name))
		}
		vals[i] = n
	}
	m, t, threads := vals[0], vals[1], vals[2]
	switch {
	case threads < 1 || threads > maxArgonThreads:
		return p, hashError(fmt.Sprintf("argon2id parallelism must be 1 to %d", maxArgonThreads))
	case t < 1 || t > maxArgonTime:
		return p, hashError(fmt.Sprintf("argon2id iterations must be 1 to %d", maxArgonTime))
	case m < 8*threads || m > maxArgonMemory:
		return p, hashError(fmt.Sprintf("argon2id memory must be 8×parallelism to %d KiB", maxArgonMemory))
	case m*t > maxArgonWork:
		return p, hashError(fmt.Sprintf("argon2id memory × iterations must be at most %d KiB", maxArgonWork))
	}
	salt, err := decodeB64(fields[1])
	if err != nil || len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return p, hashError(fmt.Sprintf("argon2id salt must be %d to %d bytes of unpadded base64", minArgonSaltLen, maxArgonSaltLen))
	}
	key, err := decodeB64(fields[2])
	if err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return p, hashError(fmt.Sprintf("argon2id key must be %d to %d bytes of unpadded base64", minArgonKeyLen, maxArgonKeyLen))
	}
	return argonParams{memory: uint32(m), time: uint32(t), threads: uint8(threads), salt: salt, key: key}, nil
}

// checkBcrypt checks the form of a bcrypt hash and that its cost is at most
// maxBcryptCost.
func checkBcrypt(s string) error {
	if !bcryptRE.MatchString(s) {
		return hashError("not an argon2id or bcrypt ($2a$, $2b$, $2y$) hash")
	}
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return hashError(err.Error())
	}
	if cost > maxBcryptCost {
		return hashError(fmt.Sprintf("bcrypt cost must be %d to %d", bcrypt.MinCost, maxBcryptCost))
	}
	return nil
}
