package devices

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// binary is the s3ftp binary the tests run: the one -binary names, or the
// one TestMain builds from this tree.
var binary string

var (
	showLog     = flag.Bool("transcript", false, "log every replayed session, not only the failed ones")
	givenBinary = flag.String("binary", "", "replay against this s3ftp binary instead of building cmd/s3ftp")
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *givenBinary != "" {
		p, err := filepath.Abs(*givenBinary)
		if err != nil {
			fmt.Fprintln(os.Stderr, "devices:", err)
			os.Exit(1)
		}
		binary = p
		os.Exit(m.Run())
	}
	os.Exit(s3ftpbin.Main(m, &binary))
}

// TestTranscripts replays every testdata/*.txt against a fresh gateway on
// each backend: TestTranscripts/scanner/embedded, .../versitygw. Adding a
// file adds a test.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts in testdata (%v)", err)
	}
	for _, file := range files {
		script := parseFile(t, file)
		t.Run(strings.TrimSuffix(script.Name, ".txt"), func(t *testing.T) {
			t.Parallel()
			for _, b := range backends {
				t.Run(b.name, func(t *testing.T) {
					t.Parallel()
					replay(t, script, startGateway(t, b, script))
				})
			}
		})
	}
}

// parseFile parses one transcript file.
func parseFile(t *testing.T, file string) *Script {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	script, err := Parse(filepath.Base(file), f)
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// replay runs script against g and reports each failure; the session log
// is printed when one failed (or with -transcript).
func replay(t *testing.T, script *Script, g *gateway) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res := Replay(ctx, script, g.target())
	for _, f := range res.Failures {
		t.Error(f)
	}
	if len(res.Failures) > 0 || *showLog {
		t.Logf("session (%s, %s, %.1fs):\n%s", script.Name, g.kind, time.Since(start).Seconds(), res.Log)
	}
}
