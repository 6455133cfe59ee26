package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// tokenHashPrefix starts the configured form of a token, see HashToken.
const tokenHashPrefix = "sha256:"

// ErrNoToken is returned by CheckListenAddr when the API would listen beyond
// the loopback interface with no token configured.
var ErrNoToken = errors.New("api: no admin token is configured, so the API may only listen on a loopback address")

// Token is an admin token the API accepts, kept as the SHA-256 of the token
// so that configuration files hold no usable secret. Tokens are long random
// strings, so a plain hash (no salt, no stretching) suffices.
type Token struct {
	Hash     [32]byte // SHA-256 of the token
	ReadOnly bool     // the token may GET but not change anything
}

// HashToken returns the form of token that goes in the configuration:
// "sha256:" followed by the lower-case hex SHA-256 of token. It is what
// `printf %s "$TOKEN" | sha256sum` prints.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return tokenHashPrefix + hex.EncodeToString(sum[:])
}

// ParseToken parses the configured form of a token, as HashToken returns it
// ("sha256:" and 64 hex digits, either case). The error never repeats s,
// which may be a token pasted in by mistake.
func ParseToken(s string, readOnly bool) (Token, error) {
	h, ok := strings.CutPrefix(s, tokenHashPrefix)
	if !ok {
		return Token{}, fmt.Errorf("api: a token in the configuration must be %q and the hex SHA-256 of the token", tokenHashPrefix)
	}
	var t Token
	if n, err := hex.Decode(t.Hash[:], []byte(h)); err != nil || n != len(t.Hash) || len(h) != 2*len(t.Hash) {
		return Token{}, fmt.Errorf("api: a token in the configuration must be %q and 64 hex digits", tokenHashPrefix)
	}
	t.ReadOnly = readOnly
	return t, nil
}

// PlainToken returns the Token for a token given in clear (--api-token,
// S3FTP_API_TOKEN). An empty token matches nothing: the server refuses empty
// bearer tokens.
func PlainToken(token string, readOnly bool) Token {
	return Token{Hash: sha256.Sum256([]byte(token)), ReadOnly: readOnly}
}

// tokenChecker checks bearer tokens against the configured ones.
type tokenChecker struct {
	tokens []Token
}

// check returns whether the request's bearer token may read and write. It
// returns ErrUnauthorized if the request has no bearer token or one that
// matches no configured token. The presented token is hashed and compared
// with every configured hash in constant time, without stopping at a match,
// so the time taken tells nothing about which token (if any) matched.
func (c tokenChecker) check(r *http.Request) (readOnly bool, err error) {
	token, ok := bearerToken(r)
	if !ok {
		return false, ErrUnauthorized
	}
	matched, readOnly := MatchToken(c.tokens, token)
	if !matched {
		return false, ErrUnauthorized
	}
	return readOnly, nil
}

// MatchToken reports whether token is one of tokens and, if so, whether
// it may only read (no writable token matches it). The token is hashed and
// compared with every configured hash in constant time, without stopping
// at a match, so the time taken tells nothing about which token (if any)
// matched. An empty token matches nothing.
func MatchToken(tokens []Token, token string) (matched, readOnly bool) {
	if token == "" {
		return false, false
	}
	sum := sha256.Sum256([]byte(token))
	m, writable := 0, 0
	for _, t := range tokens {
		eq := subtle.ConstantTimeCompare(sum[:], t.Hash[:])
		m |= eq
		writable |= eq & subtle.ConstantTimeByteEq(boolByte(t.ReadOnly), 0)
	}
	return m == 1, m == 1 && writable == 0
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN" header
// (the scheme is case-insensitive, RFC 9110 section 11.1), or false if there
// is none or it is empty.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// CheckListenAddr enforces the rule that an API without tokens stays on the
// loopback interface: it returns ErrNoToken if tokens is empty and addr (a
// listen address, "host:port") is not a loopback one. "localhost" counts as
// loopback; an empty host (all interfaces) and other names do not. It
// returns an error wrapping the parse error if addr is malformed.
func CheckListenAddr(addr string, tokens []Token) error {
	if len(tokens) > 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("api: listen address: %w", err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		return nil
	}
	return ErrNoToken
}
