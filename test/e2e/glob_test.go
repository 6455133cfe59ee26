package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Wildcards: classic clients expand `mget *.mp4` and `mdelete *.mp4` by
// sending `NLST *.mp4`, which the gateway answers with the matching names
// (gateway/pattern.go).

// globClips are the files the pattern *.mp4 matches; globNote is uploaded
// beside them and must be left alone.
var globClips = []string{"clip1.mp4", "clip2.mp4", "clip3.mp4"}

const globNote = "note.txt"

// globFiles is a local directory holding the clips and the note, with
// their sha256 by name.
type globFiles struct {
	dir  string
	sums map[string]string
}

// writeGlobFiles writes the clips and the note (a few KiB of random bytes
// each) into a new directory.
func writeGlobFiles(t *testing.T) globFiles {
	t.Helper()
	f := globFiles{dir: t.TempDir(), sums: map[string]string{}}
	for i, name := range append(slices.Clone(globClips), globNote) {
		p, sum := writeRandomFile(t, name, int64(3000+i*511), uint64(100+i))
		if err := os.Rename(p, filepath.Join(f.dir, name)); err != nil {
			t.Fatal(err)
		}
		f.sums[name] = sum
	}
	return f
}

// size returns the size of the local file name.
func (f globFiles) size(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(f.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// requireUploaded fails unless the clips and the note are stored in dir.
func (f globFiles) requireUploaded(t *testing.T, g *gateway, dir string) {
	t.Helper()
	for name, sum := range f.sums {
		g.requireObject(t, dir+"/"+name, sum, f.size(t, name))
	}
}

// requireFetched fails unless the local directory got holds exactly the
// clips, with their content.
func (f globFiles) requireFetched(t *testing.T, got string) {
	t.Helper()
	entries, err := os.ReadDir(got)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if sum := fileSHA(t, filepath.Join(got, e.Name())); sum != f.sums[e.Name()] {
			t.Errorf("fetched %s has sha256 %s, want %s", e.Name(), sum, f.sums[e.Name()])
		}
	}
	if !slices.Equal(names, globClips) {
		t.Fatalf("fetched %q, want %q", names, globClips)
	}
}

// requireClipsDeleted fails unless the clips in dir are gone and the note
// is still there.
func (f globFiles) requireClipsDeleted(t *testing.T, g *gateway, dir string) {
	t.Helper()
	for _, name := range globClips {
		g.requireNoObject(t, dir+"/"+name)
	}
	g.requireObject(t, dir+"/"+globNote, f.sums[globNote], f.size(t, globNote))
}

// requireTranscript fails unless every string of want is in the transcript.
func requireTranscript(t *testing.T, what, transcript string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(transcript, w) {
			t.Fatalf("%s: %q not in the transcript\n%s", what, w, transcript)
		}
	}
}

// replyLine is a server reply as ftp (tnftp) prints it: "226 ...".
var replyLine = regexp.MustCompile(`^[1-5][0-9][0-9][ -]`)

// protocolLines returns the lines of a client transcript that show FTP
// commands and replies ("--->"/"<---" for lftp, "---> " and bare replies
// for ftp, "> "/"< " for curl), the password masked.
func protocolLines(transcript, password string) string {
	var out []string
	for l := range strings.SplitSeq(transcript, "\n") {
		if strings.HasPrefix(l, "--->") || strings.HasPrefix(l, "<---") || strings.HasPrefix(l, "> ") || strings.HasPrefix(l, "< ") || replyLine.MatchString(l) {
			out = append(out, strings.ReplaceAll(l, password, "XXXX"))
		}
	}
	return strings.Join(out, "\n")
}

// listingBackends are the stores the wildcard tests run against: the
// checksum mode does not change listings.
func listingBackends() []backend {
	return slices.DeleteFunc(slices.Clone(backends), func(b backend) bool { return b.name == "versitygw-crc32" })
}

// globSessions runs session in parallel for each of the modes (named by
// modeName) against a gateway of each listing backend, with the local clips
// and note in files; it needs the client program tool.
func globSessions(t *testing.T, tool string, modes int, modeName func(int) string, session func(t *testing.T, g *gateway, files globFiles, mode int)) {
	t.Parallel()
	requireTool(t, tool)
	files := writeGlobFiles(t)
	for _, b := range listingBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, b)
			for i := range modes {
				t.Run(modeName(i), func(t *testing.T) {
					t.Parallel()
					session(t, g, files, i)
				})
			}
		})
	}
}

// ftpModes are the data connection modes of Debian's ftp (tnftp), with the
// command that proves the mode was used.
var ftpModes = []struct {
	name     string
	settings []string // tnftp commands selecting the mode
	cmd      string
}{
	{name: "epsv", cmd: "---> EPSV"},
	{name: "pasv", settings: []string{"epsv4 off"}, cmd: "---> PASV"},
	{name: "eprt", settings: []string{"passive off"}, cmd: "---> EPRT |1|127.0.0.1|"},
	{name: "port", settings: []string{"passive off", "epsv4 off"}, cmd: "---> PORT 127,0,0,1,"},
}

// runFtp runs Debian's ftp (tnftp) with -n -v -d, the commands given on its
// standard input after an open and login of g, bounded by 2 minutes, and
// returns its output (the commands it sent and the replies it showed).
func runFtp(t *testing.T, g *gateway, commands ...string) string {
	t.Helper()
	ftp := requireTool(t, "ftp")
	script := append([]string{"open " + g.Host() + " " + g.Port(), "user " + g.User + " " + g.Password}, commands...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ftp, "-n", "-v", "-d")
	cmd.Stdin = strings.NewReader(strings.Join(append(script, "bye"), "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("ftp: %v\n%s", err, out.String())
	}
	return out.String()
}

// TestGlobFtp: Debian's ftp (tnftp) in EPSV, PASV, EPRT and PORT mode
// uploads with mput, then `mget *.mp4` fetches the clips and
// `mdelete DIR/*.mp4` deletes them, both expanded by the server's NLST.
func TestGlobFtp(t *testing.T) {
	globSessions(t, "ftp", len(ftpModes), func(i int) string { return ftpModes[i].name }, func(t *testing.T, g *gateway, files globFiles, i int) {
		m := ftpModes[i]
		dir, got := "ftp-"+m.name, t.TempDir()
		out := runFtp(t, g, append(slices.Clone(m.settings),
			"prompt off", "mkdir "+dir, "cd "+dir, "lcd "+files.dir, "mput clip*.mp4 "+globNote,
			"lcd "+got, "mget *.mp4", "cd /", "mdelete "+dir+"/*.mp4", "nlist "+dir)...)
		t.Logf("transcript:\n%s", protocolLines(out, g.Password))
		requireTranscript(t, "ftp", out, m.cmd, "---> NLST *.mp4", "---> RETR clip1.mp4", "---> RETR clip3.mp4",
			"---> NLST "+dir+"/*.mp4", "---> DELE "+dir+"/clip1.mp4", "---> DELE "+dir+"/clip3.mp4")
		if strings.Contains(out, "---> RETR "+globNote) || strings.Contains(out, "---> DELE "+dir+"/"+globNote) {
			t.Fatalf("the note was fetched or deleted\n%s", out)
		}
		files.requireFetched(t, got)
		files.requireClipsDeleted(t, g, "/"+dir)
	})
}

// TestGlobLftp: lftp in PASV, EPSV and PORT mode: `nlist *.mp4` and
// `nlist DIR/*.mp4` send the pattern to the server; `mget *.mp4` and
// `mrm *.mp4` (which lftp expands itself from a listing) fetch and delete
// the clips.
func TestGlobLftp(t *testing.T) {
	globSessions(t, "lftp", len(lftpModes), func(i int) string { return lftpModes[i].name }, func(t *testing.T, g *gateway, files globFiles, i int) {
		m := lftpModes[i]
		dir, got := "lftp-"+m.name, t.TempDir()
		lftp := func(commands ...string) lftpResult {
			t.Helper()
			r := runLftp(t, g, m.setting, commands...)
			t.Logf("lftp %s:\n%s", strings.Join(commands, "; "), protocolLines(r.transcript, g.Password))
			if r.code != 0 {
				t.Fatalf("lftp %q: exit status %d\n%s", commands, r.code, r.transcript)
			}
			return r
		}
		lftp("mkdir "+dir, "cd "+dir, fmt.Sprintf("lcd %q", files.dir), "mput clip*.mp4 "+globNote)
		files.requireUploaded(t, g, "/"+dir)

		r := lftp("cd "+dir, "nlist *.mp4")
		requireTranscript(t, "nlist", r.transcript, m.cmd, "---> NLST *.mp4", "<--- 226")
		if n := names(r.stdout); !slices.Equal(n, globClips) {
			t.Fatalf("nlist *.mp4 = %q, want %q", n, globClips)
		}
		r = lftp("nlist " + dir + "/clip[!3].mp4")
		if n, want := names(r.stdout), []string{dir + "/clip1.mp4", dir + "/clip2.mp4"}; !slices.Equal(n, want) {
			t.Fatalf("nlist %s/clip[!3].mp4 = %q, want %q", dir, n, want)
		}
		if r = lftp("nlist " + dir + "/*.none"); r.stdout != "" {
			t.Fatalf("nlist of a pattern matching nothing printed %q", r.stdout)
		}

		lftp("cd "+dir, fmt.Sprintf("lcd %q", got), "mget *.mp4", "mrm *.mp4")
		files.requireFetched(t, got)
		files.requireClipsDeleted(t, g, "/"+dir)
	})
}

// TestGlobCurl: curl in EPSV, PASV, EPRT and PORT mode sends the pattern
// as a custom NLST (-X 'NLST *.mp4' with --list-only: curl's URLs drop a
// file part from a listing, and the curl tool has no wildcard download),
// then fetches and deletes the names it got; the pattern then matches
// nothing: an empty listing and 226.
func TestGlobCurl(t *testing.T) {
	globSessions(t, "curl", len(curlModes), func(i int) string { return curlModes[i].name }, func(t *testing.T, g *gateway, files globFiles, i int) {
		m := curlModes[i]
		dir, got := "/curl-"+m.name, t.TempDir()
		curl := func(more ...string) curlResult {
			t.Helper()
			r := mustCurl(t, append(slices.Clone(m.args), more...)...)
			t.Logf("curl %s:\n%s", strings.ReplaceAll(strings.Join(more, " "), g.Password, "XXXX"), protocolLines(r.transcript, g.Password))
			return r
		}
		curl("--ftp-create-dirs", "-T", filepath.Join(files.dir, "{clip1.mp4,clip2.mp4,clip3.mp4,note.txt}"), g.URL(dir+"/"))
		files.requireUploaded(t, g, dir)

		r := curl("--list-only", "-X", "NLST *.mp4", g.URL(dir+"/"))
		requireTranscript(t, "curl", r.transcript, m.cmd, "> NLST *.mp4", "< 226")
		listed := names(r.stdout)
		if !slices.Equal(listed, globClips) {
			t.Fatalf("NLST *.mp4 = %q, want %q", listed, globClips)
		}
		r = curl("--list-only", "--ftp-method", "nocwd", "-X", "NLST "+dir[1:]+"/*.mp4", g.URL("/"))
		var want, fetch, dele []string
		for _, name := range globClips {
			want = append(want, dir[1:]+"/"+name)
		}
		if listed = names(r.stdout); !slices.Equal(listed, want) {
			t.Fatalf("NLST %s/*.mp4 = %q, want %q", dir[1:], listed, want)
		}
		for _, name := range listed {
			fetch = append(fetch, g.URL("/"+name), "-o", filepath.Join(got, filepath.Base(name)))
			dele = append(dele, "-Q", "DELE /"+name)
		}
		curl(fetch...)
		files.requireFetched(t, got)

		r = curl(append(dele, "--list-only", "-X", "NLST *.mp4", g.URL(dir+"/"))...)
		requireTranscript(t, "curl", r.transcript, "> DELE "+dir+"/clip1.mp4", "< 250", "> NLST *.mp4", "< 226")
		if r.stdout != "" {
			t.Fatalf("NLST *.mp4 after the deletes printed %q, want nothing", r.stdout)
		}
		files.requireClipsDeleted(t, g, dir)
	})
}
