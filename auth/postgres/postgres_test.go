package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/authtest"
	"github.com/s3ftp/s3ftp/test/pgtest"
)

// openNew opens a store on a new database of srv, closed when the test
// ends, and returns it with the database's URL.
func openNew(t *testing.T, srv *pgtest.Server) (*Store, string) {
	t.Helper()
	dbURL := srv.NewDatabase(t)
	s, err := Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dbURL
}

// exec runs sql on the database at dbURL over a connection of its own.
func exec(t *testing.T, dbURL, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// errorTexts returns the text of err and of every error it wraps.
func errorTexts(err error) []string {
	if err == nil {
		return nil
	}
	texts := []string{err.Error(), fmt.Sprintf("%+v", err)}
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		texts = append(texts, errorTexts(e.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, w := range e.Unwrap() {
			texts = append(texts, errorTexts(w)...)
		}
	}
	return texts
}

// TestStore runs the shared conformance suite and the tests of Open on one
// server, each subtest on databases of its own.
func TestStore(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	tests := []struct {
		name string
		test func(t *testing.T, srv *pgtest.Server)
	}{
		{"Conformance", testConformance},
		{"ActivityConformance", testActivityConformance},
		{"SharedActivity", testSharedActivity},
		{"OpenErrors", testOpenErrors},
		{"OpenErrorsHidePassword", testOpenErrorsHidePassword},
		{"CanceledOpen", testCanceledOpen},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, srv)
		})
	}
}

func testConformance(t *testing.T, srv *pgtest.Server) {
	authtest.TestStore(t, func(t *testing.T) auth.Store {
		s, err := Open(t.Context(), srv.NewDatabase(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func testOpenErrors(t *testing.T, srv *pgtest.Server) {
	base := "postgres://postgres@127.0.0.1:" + strconv.Itoa(srv.Port)
	tests := []struct {
		name, url, want string
	}{
		{"empty", "", "not of the form"},
		{"not a URL", "host=127.0.0.1 user=postgres", "not of the form"},
		{"other scheme", "mysql://u@127.0.0.1/db", "not of the form"},
		{"bad sslmode", base + "/postgres?sslmode=bogus", "sslmode is invalid"},
		{"no such database", base + "/nope?sslmode=disable", `database "nope" does not exist`},
		{"nothing listening", "postgres://postgres@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", "127.0.0.1:1/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tt.url)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) = %v, want an error containing %q", tt.url, err, tt.want)
			}
		})
	}
}

func testOpenErrorsHidePassword(t *testing.T, srv *pgtest.Server) {
	const secret = "S3cr3t-pw"
	host := "127.0.0.1:" + strconv.Itoa(srv.Port)
	encoded := strings.TrimPrefix(url.UserPassword("postgres", "p@ss/w:rd?"+secret).String(), "postgres:")
	tests := []struct {
		name, url string
		secrets   []string
	}{
		{"no such database", "postgres://postgres:" + secret + "@" + host + "/nope?sslmode=disable", nil},
		{"nothing listening", "postgres://postgres:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", nil},
		{"password parameter", "postgres://postgres@" + host + "/nope?sslmode=disable&password=" + secret, nil},
		{"bad sslmode", "postgres://postgres:" + secret + "@" + host + "/db?sslmode=bogus", nil},
		{"bad port", "postgres://postgres:" + secret + "@127.0.0.1:x/db", nil},
		{"bad pool size", "postgres://postgres:" + secret + "@" + host + "/db?pool_max_conns=0", nil},
		{"unescaped @", "postgres://postgres:S3cr@" + secret + "@" + host + "/db?sslmode=disable", nil},
		{"unescaped @ and bad option", "postgres://postgres:S3cr@" + secret + "@" + host + "/db?sslmode=bogus", nil},
		{"unescaped /", "postgres://postgres:S3cr/" + secret + "@" + host + "/db", nil},
		{"unescaped space", "postgres://postgres:S3cr " + secret + "@" + host + "/db", nil},
		{"bad escape", "postgres://postgres:%zz" + secret + "@" + host + "/db", nil},
		{"escaped", "postgres://postgres:" + encoded + "@" + host + "/nope?sslmode=bogus",
			[]string{encoded, "p@ss/w:rd?" + secret}},
		{"escaped, no such database", "postgres://postgres:" + encoded + "@" + host + "/nope?sslmode=disable",
			[]string{encoded, "p@ss/w:rd?" + secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded")
			}
			for _, text := range errorTexts(err) {
				for _, secret := range append(tt.secrets, secret) {
					if strings.Contains(text, secret) {
						t.Errorf("error shows the password %q: %s", secret, text)
					}
				}
			}
		})
	}
}

func testCanceledOpen(t *testing.T, srv *pgtest.Server) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := Open(ctx, srv.NewDatabase(t))
	if err == nil {
		s.Close()
		t.Fatal("Open with a canceled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context = %v, want context.Canceled", err)
	}
}

func testClose(t *testing.T, srv *pgtest.Server) {
	s, _ := openNew(t, srv)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := s.GetUser(t.Context(), "a"); err == nil || errors.Is(err, auth.ErrNotFound) {
		t.Errorf("GetUser after Close = %v, want an error other than ErrNotFound", err)
	}
}
