// Package pgtest starts a real PostgreSQL server for tests: initdb into a
// fresh temporary directory, then postgres on 127.0.0.1 and a unix socket in
// that directory, stopped and removed when the test ends. It uses the server
// binaries of Debian's postgresql package (or any on PATH).
//
// The cluster's default collation is ICU "en-US" where the server supports
// it (PostgreSQL 15 and later), like a typical production database and
// unlike byte order, so that code relying on the default collation for
// ordering shows up in tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// User is the superuser of every cluster Start creates; it logs in
// without a password (trust authentication).
const User = "postgres"

// Timeouts for starting and stopping a server.
const (
	initdbTimeout = time.Minute
	readyTimeout  = 30 * time.Second
	stopTimeout   = 10 * time.Second
)

// portAttempts is how often Start picks another port when the one it chose
// was taken in the meantime.
const portAttempts = 5

// Server is a running PostgreSQL server owned by one test. Its superuser
// User needs no password.
type Server struct {
	Host      string // always 127.0.0.1
	Port      int    // TCP port, also the number in the socket's name
	SocketDir string // directory holding the unix socket .s.PGSQL.<Port>
	LogFile   string // the server's log (stderr)
}

// Installed reports whether PostgreSQL's server binaries can be found: under
// /usr/lib/postgresql/*/bin, in the directory `pg_config --bindir` names, or
// on PATH.
func Installed() bool { return binDir() != "" }

// Start runs initdb (trust authentication, no fsync) in a new directory,
// in /dev/shm when that has room and in os.TempDir() otherwise, starts
// postgres on 127.0.0.1 with a free port and its unix socket in that
// directory, and returns when the server accepts connections: about 1 s on
// /dev/shm, 2 s on a disk. When the test ends the server is stopped
// (immediate shutdown) and the directory removed. Run as root, initdb and
// postgres run as the postgres system user, which then owns the directory.
//
// When PostgreSQL is not installed Start skips the test, or fails it if
// S3FTP_TEST_STRICT=1 (see s3test.Strict). Any other failure to start fails
// the test, with the server's log.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir()
	if bin == "" {
		msg := "PostgreSQL is not installed: no initdb and postgres under " + debianBinGlob +
			", in `pg_config --bindir` or on PATH (apt-get install postgresql)"
		if s3test.Strict() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cred, err := serverCredential()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	dir := makeDir(t, cred)
	dataDir := filepath.Join(dir, "data")
	initdb(t, bin, dataDir, cred)

	s := &Server{Host: "127.0.0.1", SocketDir: dir, LogFile: filepath.Join(dir, "postgres.log")}
	for attempt := 1; ; attempt++ {
		s.Port = freePort(t)
		p, err := startPostgres(bin, dataDir, s, cred)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		err = s.waitReady(p)
		if err == nil {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("pgtest: server log:\n%s", s.logTail())
				}
			})
			return s
		}
		p.stop()
		if !s.portTaken() || attempt == portAttempts {
			t.Fatalf("pgtest: postgres did not start: %v\n%s", err, s.logTail())
		}
	}
}

// URL returns the URL of database name on s for the superuser, over TCP and
// without TLS.
func (s *Server) URL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(User),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// NewDatabase creates an empty database with a fresh name (t_ and 16 hex
// digits) and returns its URL (see URL). The database is dropped when the
// test ends, after closing any connection to it that is left. It fails the
// test if the database cannot be created or dropped.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := "t_" + randomHex(8)
	s.admin(t, "CREATE DATABASE "+name)
	t.Cleanup(func() { s.admin(t, "DROP DATABASE "+name+" WITH (FORCE)") })
	return s.URL(name)
}

// admin runs sql in the postgres database, failing the test on an error.
func (s *Server) admin(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// makeDir creates the server's directory in tempParent(), owned by and
// only open to the user the server runs as, and removes it when the test
// ends. It is not t.TempDir: that is owned by the test's user and its path
// can be too long for a unix socket (107 bytes).
func makeDir(t testing.TB, cred *syscall.Credential) string {
	t.Helper()
	parent := tempParent()
	if len(parent) > 64 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	return dir
}

// waitReady waits until the server accepts connections to the postgres
// database, or returns an error when it exits or readyTimeout passes.
func (s *Server) waitReady(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-p.exited:
			return errors.New("postgres exited")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %w", readyTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
