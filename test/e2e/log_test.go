package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogIsJSON checks, for every backend, that with --log-format json
// everything s3ftp writes to stderr while serving uploads, downloads
// (whole and resumed) and listings is one JSON object per line, so that log
// collectors can parse it.
func TestLogIsJSON(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	const size = 8<<20 + 5 // a multipart upload
	local, sum := writeRandomFile(t, "data.bin", size, 6)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, b)
			mustCurl(t, "-T", local, g.URL("/log/data.bin"), "--ftp-create-dirs")
			out := filepath.Join(t.TempDir(), "out.bin")
			mustCurl(t, "-o", out, g.URL("/log/data.bin"))
			if got := fileSHA(t, out); got != sum {
				t.Fatalf("download: sha256 %s, want %s", got, sum)
			}
			mustCurl(t, "-r", "100-", "-o", out, g.URL("/log/data.bin"))
			mustCurl(t, g.URL("/log/"))

			var bad []string
			for _, l := range strings.Split(strings.TrimRight(g.log(), "\n"), "\n") {
				var v map[string]any
				if json.Unmarshal([]byte(l), &v) != nil {
					bad = append(bad, l)
				}
			}
			if len(bad) > 0 {
				t.Errorf("%d of the log lines are not JSON, e.g.:\n%s", len(bad), strings.Join(bad[:min(len(bad), 5)], "\n"))
			}
		})
	}
}
