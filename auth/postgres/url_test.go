package postgres

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url    string
		wantErr      string // "" for success
		wantPassword string
		wantHost     string
	}{
		{"plain", "postgres://app:pw@db.example:5433/users?sslmode=disable", "", "pw", "db.example"},
		{"postgresql scheme", "postgresql://app@db.example/users", "", "", "db.example"},
		{"escaped password", "postgres://app:p%40ss%2Fw%3Ard@db.example/users", "", "p@ss/w:rd", "db.example"},
		{"colon in password", "postgres://app:a:b@db.example/users", "", "a:b", "db.example"},
		{"password parameter", "postgres://app@db.example/users?password=pw", "", "pw", "db.example"},
		{"unix socket", "postgres:///users?host=/run/postgresql", "", "", "/run/postgresql"},
		{"empty", "", "not of the form", "", ""},
		{"keyword/value form", "host=db.example password=pw", "not of the form", "", ""},
		{"other scheme", "mysql://app:pw@db.example/users", "not of the form", "", ""},
		{"opaque", "postgres:app:pw@db.example", "not of the form", "", ""},
		{"unescaped @", "postgres://app:p@ss@db.example/users", "ambiguous", "", ""},
		{"unescaped /", "postgres://app:p/ss@db.example/users", "not of the form", "", ""},
		{"bad escape", "postgres://app:%zz@db.example/users", "not of the form", "", ""},
		{"bad sslmode", "postgres://app:pw@db.example/users?sslmode=bogus", "sslmode is invalid", "", ""},
		{"bad pool size", "postgres://app:pw@db.example/users?pool_max_conns=x", "pool_max_conns", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig(%q) = %v, want an error containing %q", tt.url, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tt.url, err)
			}
			if got := cfg.ConnConfig.Password; got != tt.wantPassword {
				t.Errorf("password %q, want %q", got, tt.wantPassword)
			}
			if got := cfg.ConnConfig.Host; got != tt.wantHost {
				t.Errorf("host %q, want %q", got, tt.wantHost)
			}
		})
	}
}

func TestParseConfigMasksPasswords(t *testing.T) {
	t.Parallel()
	// Each URL fails to parse in pgx; the message must keep the rest.
	tests := []struct {
		name, url, secret, keep string
	}{
		{"userinfo", "postgres://app:Secr3t@db.example/users?sslmode=bogus", "Secr3t", "db.example"},
		{"escaped userinfo", "postgres://app:Se%2Fcr3t@db.example/users?sslmode=bogus", "cr3t", "db.example"},
		{"password parameter", "postgres://app@db.example/users?password=Secr3t&sslmode=bogus", "Secr3t", "sslmode"},
		{"upper case parameter", "postgres://app@db.example/users?PASSWORD=Secr3t&sslmode=bogus", "Secr3t", "sslmode"},
		{"escaped parameter name", "postgres://app@db.example/users?pass%77ord=Secr3t&sslmode=bogus", "Secr3t", "sslmode"},
		{"sslpassword", "postgres://app@db.example/users?sslpassword=Secr3t&sslmode=bogus", "Secr3t", "sslmode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig(tt.url)
			if err == nil {
				t.Fatalf("parseConfig(%q) succeeded", tt.url)
			}
			for _, text := range errorTexts(err) {
				if strings.Contains(text, tt.secret) {
					t.Errorf("error shows the password: %s", text)
				}
			}
			if !strings.Contains(err.Error(), tt.keep) {
				t.Errorf("error %q lost %q", err, tt.keep)
			}
		})
	}
}

func TestRawAuthority(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:p@h:1/db?x=y", "u:p@h:1"},
		{"postgres://u:p@h", "u:p@h"},
		{"postgres://h?x=@", "h"},
		{"postgres://h#@", "h"},
		{"postgres:///db", ""},
		{"no-slashes", ""},
	}
	for _, tt := range tests {
		if got := rawAuthority(tt.in); got != tt.want {
			t.Errorf("rawAuthority(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
