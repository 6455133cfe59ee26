package postgres

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// urlForm is what a database URL looks like, for error messages.
const urlForm = "postgres://user:password@host:port/database?sslmode=..."

// mask replaces a password in error messages.
const mask = "xxxxx"

// parseConfig parses a postgres:// or postgresql:// URL into a pool
// configuration. Its errors never hold a password.
//
// pgx masks passwords in its parse errors, exactly for well-formed URLs but
// only on a best-effort basis for malformed ones, and the error it wraps
// keeps the whole URL. So a URL that Go's net/url cannot parse, or whose
// authority holds more than one "@" (a password with an unescaped "@",
// which parsers split differently), is refused without pgx's message; for
// the rest pgx's message is shown, not wrapped, with every password value
// of the URL masked once more.
func parseConfig(rawURL string) (*pgxpool.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return nil, fmt.Errorf("postgres: the database URL is not of the form %s"+
			" (percent-encode special characters in the password)", urlForm)
	}
	if strings.Count(rawAuthority(rawURL), "@") > 1 {
		return nil, fmt.Errorf(`postgres: the database URL is ambiguous: percent-encode "@" in the password as %%40`)
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		msg := err.Error()
		for _, s := range urlSecrets(rawURL, u) {
			msg = strings.ReplaceAll(msg, s, mask)
		}
		return nil, fmt.Errorf("postgres: invalid database URL: %s", msg)
	}
	return cfg, nil
}

// rawAuthority returns the authority of a URL as typed: what lies between
// "//" and the first "/", "?" or "#" after it.
func rawAuthority(rawURL string) string {
	_, rest, ok := strings.Cut(rawURL, "//")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// urlSecrets returns the non-empty password values of u (parsed from
// rawURL), both as typed and decoded: the userinfo password and the
// password and sslpassword query parameters.
func urlSecrets(rawURL string, u *url.URL) []string {
	var secrets []string
	add := func(raw, decoded string) {
		for _, s := range []string{raw, decoded} {
			if s != "" {
				secrets = append(secrets, s)
			}
		}
	}
	if p, ok := u.User.Password(); ok {
		auth := rawAuthority(rawURL)
		userinfo := auth[:strings.LastIndex(auth, "@")]
		_, raw, _ := strings.Cut(userinfo, ":")
		add(raw, p)
	}
	for pair := range strings.SplitSeq(u.RawQuery, "&") {
		rawKey, raw, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || !(strings.EqualFold(key, "password") || strings.EqualFold(key, "sslpassword")) {
			continue
		}
		decoded, err := url.QueryUnescape(raw)
		if err != nil {
			decoded = ""
		}
		add(raw, decoded)
	}
	return secrets
}
