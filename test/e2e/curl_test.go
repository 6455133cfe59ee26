package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// curlModes are the data connection modes curl is driven in, with the
// command that proves the mode was used.
var curlModes = []curlMode{
	{name: "epsv", cmd: "> EPSV"},
	{name: "pasv", args: []string{"--disable-epsv"}, cmd: "> PASV"},
	{name: "eprt", args: []string{"-P", "127.0.0.1"}, cmd: "> EPRT |1|127.0.0.1|"},
	{name: "port", args: []string{"-P", "127.0.0.1", "--disable-eprt"}, cmd: "> PORT 127,0,0,1,"},
}

// curlMode is a way for curl to open data connections.
type curlMode struct {
	name string
	args []string // curl flags selecting the mode
	cmd  string   // what curl sends to open the data connection
}

// curlResult is what one curl run left.
type curlResult struct {
	stdout     string
	transcript string // curl -v output: the FTP commands and replies
	code       int    // exit status
}

// runCurl runs curl -sS -v with bounded timeouts and args.
func runCurl(t *testing.T, args ...string) curlResult {
	t.Helper()
	curl := requireTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, append([]string{"-sS", "-v", "--connect-timeout", "10", "--max-time", "120"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		if code = exitCode(err); code < 0 {
			t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
		}
	}
	return curlResult{stdout: stdout.String(), transcript: stderr.String(), code: code}
}

// mustCurl runs curl and fails the test unless it exits with status 0.
func mustCurl(t *testing.T, args ...string) curlResult {
	t.Helper()
	r := runCurl(t, args...)
	if r.code != 0 {
		t.Fatalf("curl %s: exit status %d\n%s", strings.Join(args, " "), r.code, r.transcript)
	}
	return r
}

// failCurl runs curl and fails the test unless it exits with status code
// and the server sent the reply (e.g. "< 550").
func failCurl(t *testing.T, code int, reply string, args ...string) {
	t.Helper()
	r := runCurl(t, args...)
	if r.code != code || !strings.Contains(r.transcript, reply) {
		t.Fatalf("curl %s: exit status %d (want %d), reply %q expected\n%s", strings.Join(args, " "), r.code, code, reply, r.transcript)
	}
}

// TestCurl drives curl through every data connection mode against every
// backend: upload with --ftp-create-dirs, empty upload, download, resumed
// download (-C -), byte range (-r), LIST, NLST, and MKD, RNFR/RNTO, DELE and
// RMD sent with -Q, including refusals. Uploads are checked in the store.
func TestCurl(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	const size = 8<<20 + 4097 // above the 8 MiB part size: a multipart upload
	local, sum := writeRandomFile(t, "data.bin", size, 1)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, b)
			for _, m := range curlModes {
				t.Run(m.name, func(t *testing.T) {
					t.Parallel()
					testCurlSession(t, g, m, local, sum, size)
				})
			}
		})
	}
}

// testCurlSession runs the curl sequence of TestCurl in the directory
// /curl-MODE with the local file (size bytes, sha256 sum).
func testCurlSession(t *testing.T, g *gateway, m curlMode, local, sum string, size int64) {
	dir, args := "/curl-"+m.name, m.args
	curl := func(more ...string) curlResult { return mustCurl(t, append(append([]string{}, args...), more...)...) }
	work := t.TempDir()

	// Upload into directories that do not exist yet.
	r := curl("--ftp-create-dirs", "-T", local, g.URL(dir+"/sub/data.bin"))
	for _, want := range []string{m.cmd, "> MKD sub", "> STOR data.bin", "< 226"} {
		if !strings.Contains(r.transcript, want) {
			t.Fatalf("upload: %q not in the transcript\n%s", want, r.transcript)
		}
	}
	g.requireObject(t, dir+"/sub/data.bin", sum, size)

	empty := filepath.Join(work, "empty.txt")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	curl("-T", empty, g.URL(dir+"/sub/empty.txt"))
	g.requireObject(t, dir+"/sub/empty.txt", sha256Bytes(nil), 0)

	// Download, whole and resumed from a partial local file.
	out := filepath.Join(work, "out.bin")
	curl("-o", out, g.URL(dir+"/sub/data.bin"))
	if got, n := sha256File(t, out); got != sum || n != size {
		t.Fatalf("download: %d bytes, sha256 %s; want %d, %s", n, got, size, sum)
	}
	partial := filepath.Join(work, "partial.bin")
	const have = 3<<20 + 7
	if err := os.WriteFile(partial, readRange(t, local, 0, have), 0o600); err != nil {
		t.Fatal(err)
	}
	r = curl("-C", "-", "-o", partial, g.URL(dir+"/sub/data.bin"))
	if !strings.Contains(r.transcript, "> REST 3145735") {
		t.Errorf("resume: no REST 3145735 in the transcript\n%s", r.transcript)
	}
	if got, n := sha256File(t, partial); got != sum || n != size {
		t.Fatalf("resumed download: %d bytes, sha256 %s; want %d, %s", n, got, size, sum)
	}
	ranged := filepath.Join(work, "range.bin")
	curl("-r", "1000-1999", "-o", ranged, g.URL(dir+"/sub/data.bin"))
	if got, want := fileSHA(t, ranged), sha256Bytes(readRange(t, local, 1000, 1000)); got != want {
		t.Fatalf("range 1000-1999: got sha256 %s, want %s", got, want)
	}

	// Listings.
	r = curl(g.URL(dir + "/sub/"))
	for _, name := range []string{"data.bin", "empty.txt"} {
		if !strings.Contains(r.stdout, name) {
			t.Fatalf("LIST %s/sub/ lacks %s:\n%s", dir, name, r.stdout)
		}
	}
	if got := names(curl("-l", g.URL(dir+"/sub/")).stdout); strings.Join(got, ",") != "data.bin,empty.txt" {
		t.Fatalf("NLST %s/sub/ = %q, want data.bin, empty.txt", dir, got)
	}

	// Directory and file operations with -Q.
	curl("-Q", "MKD "+dir+"/made", g.URL(dir+"/"))
	if l := curl(g.URL(dir + "/")).stdout; !hasDirEntry(l, "made") || !hasDirEntry(l, "sub") {
		t.Fatalf("LIST %s/ after MKD lacks the directories made and sub:\n%s", dir, l)
	}
	curl("-Q", "RNFR "+dir+"/sub/data.bin", "-Q", "RNTO "+dir+"/sub/moved.bin", g.URL(dir+"/"))
	g.requireObject(t, dir+"/sub/moved.bin", sum, size)
	g.requireNoObject(t, dir+"/sub/data.bin")
	failCurl(t, 21, "< 550", append(args, "-Q", "RMD "+dir+"/sub", g.URL(dir+"/"))...)
	failCurl(t, 21, "< 550", append(args, "-Q", "DELE "+dir+"/sub/nothing.bin", g.URL(dir+"/"))...)
	failCurl(t, 21, "< 550", append(args, "-Q", "RNFR "+dir+"/sub/nothing.bin", "-Q", "RNTO "+dir+"/sub/x.bin", g.URL(dir+"/"))...)
	curl("-Q", "DELE "+dir+"/sub/moved.bin", "-Q", "DELE "+dir+"/sub/empty.txt", g.URL(dir+"/"))
	g.requireNoObject(t, dir+"/sub/moved.bin")
	g.requireNoObject(t, dir+"/sub/empty.txt")
	curl("-Q", "RMD "+dir+"/sub", "-Q", "RMD "+dir+"/made", g.URL(dir+"/"))
	if got := names(curl("-l", g.URL(dir+"/")).stdout); len(got) != 0 {
		t.Fatalf("NLST %s/ after RMD = %q, want nothing", dir, got)
	}
	failCurl(t, 9, "< 550", append(args, g.URL(dir+"/sub/"))...)
}

// names returns the sorted non-empty lines of an NLST listing.
func names(listing string) []string {
	var out []string
	for _, l := range strings.Split(listing, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// hasDirEntry reports whether a LIST listing has a directory named name.
func hasDirEntry(listing, name string) bool {
	for _, l := range strings.Split(listing, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.HasPrefix(f[0], "d") && f[len(f)-1] == name {
			return true
		}
	}
	return false
}
