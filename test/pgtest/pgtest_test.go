package pgtest

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// query returns the single text value sql yields on the database at url.
func query(t *testing.T, url, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(t.Context(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestStart(t *testing.T) {
	t.Parallel()
	var s *Server
	t.Run("running", func(t *testing.T) {
		begin := time.Now()
		s = Start(t)
		t.Logf("Start took %v", time.Since(begin).Round(time.Millisecond))

		a, b := s.NewDatabase(t), s.NewDatabase(t)
		if a == b {
			t.Fatalf("NewDatabase returned %s twice", a)
		}
		for _, url := range []string{a, b} {
			if !strings.HasPrefix(url, "postgres://postgres@127.0.0.1:"+strconv.Itoa(s.Port)+"/t_") ||
				!strings.HasSuffix(url, "?sslmode=disable") {
				t.Errorf("NewDatabase URL %s", url)
			}
		}
		tests := []struct {
			name, url, sql, want string
			icu                  bool // needs an ICU default collation (PostgreSQL 15+)
		}{
			{"TCP", a, "SELECT current_database()", strings.TrimSuffix(a[strings.LastIndex(a, "/")+1:], "?sslmode=disable"), false},
			{"unix socket", "postgres:///postgres?user=postgres&host=" + s.SocketDir + "&port=" + strconv.Itoa(s.Port),
				"SELECT (inet_server_addr() IS NULL)::text", "true", false},
			{"superuser", b, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user", "true", false},
			{"fsync off", a, "SELECT current_setting('fsync')", "off", false},
			{"listens on loopback only", a, "SELECT current_setting('listen_addresses')", "127.0.0.1", false},
			{"UTF8", a, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()", "UTF8", false},
			// The default collation is not byte order: "_" (0x5f) sorts
			// after "-" (0x2d) in bytes, before it in ICU.
			{"default collation", a, "SELECT ('a_b' < 'a-b')::text", "true", true},
			{"C collation", a, `SELECT ('a_b' < 'a-b' COLLATE "C")::text`, "false", false},
		}
		t.Run("database dropped", func(t *testing.T) {
			var name string
			t.Run("user", func(t *testing.T) {
				dbURL := s.NewDatabase(t)
				name = query(t, dbURL, "SELECT current_database()")
				conn, err := pgx.Connect(t.Context(), dbURL)
				if err != nil {
					t.Fatal(err)
				}
				_ = conn // left open: the drop must not wait for it
			})
			n := query(t, a, "SELECT count(*)::text FROM pg_database WHERE datname = '"+name+"'")
			if n != "0" {
				t.Errorf("database %s still exists after its test", name)
			}
		})
		icu := serverMajor(binDir()) >= 15
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.icu && !icu {
					t.Skip("no ICU default collation before PostgreSQL 15")
				}
				if got := query(t, tt.url, tt.sql); got != tt.want {
					t.Errorf("%s = %q, want %q", tt.sql, got, tt.want)
				}
			})
		}
	})
	if s == nil {
		return // skipped or failed
	}
	// The subtest's cleanup stopped the server and removed its directory.
	if _, err := os.Stat(s.SocketDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after the test, Stat(%s) = %v; want not exist", s.SocketDir, err)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), time.Second)
	if err == nil {
		c.Close()
		t.Errorf("after the test, the server still listens on port %d", s.Port)
	}
}

func TestStartInParallel(t *testing.T) {
	t.Parallel()
	const n = 2
	servers := make(chan *Server, n)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				s := Start(t)
				query(t, s.NewDatabase(t), "SELECT 1::text")
				servers <- s
			})
		}
	})
	close(servers)
	ports := map[int]bool{}
	for s := range servers {
		if ports[s.Port] {
			t.Errorf("two servers on port %d", s.Port)
		}
		ports[s.Port] = true
	}
}
