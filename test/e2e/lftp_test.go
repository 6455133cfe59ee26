package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lftpModes are the data connection modes lftp is driven in, with the
// command that proves the mode was used.
var lftpModes = []struct {
	name    string
	setting string // lftp settings selecting the mode
	cmd     string // what lftp sends to open the data connection
}{
	{name: "pasv", setting: "", cmd: "---> PASV"},
	{name: "epsv", setting: "set ftp:prefer-epsv yes", cmd: "---> EPSV"},
	{name: "port", setting: "set ftp:passive-mode off", cmd: "---> PORT 127,0,0,1,"},
}

// lftpSettings keep a failing lftp from retrying or waiting long, and from
// trying TLS, which s3ftp does not offer here.
const lftpSettings = "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; " +
	"set ftp:ssl-allow no; set cmd:fail-exit yes; set xfer:clobber yes"

// lftpResult is what one lftp run left.
type lftpResult struct {
	stdout     string
	transcript string // lftp -d output: the FTP commands and replies
	code       int    // exit status
}

// runLftp runs `lftp -d -c` with the settings, mode, an open of g and the
// commands, bounded by 2 minutes.
func runLftp(t *testing.T, g *gateway, mode string, commands ...string) lftpResult {
	t.Helper()
	lftp := requireTool(t, "lftp")
	script := strings.Join(append([]string{lftpSettings, mode, g.lftpOpen()}, commands...), "; ")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lftp, "-d", "-c", script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		if code = exitCode(err); code < 0 {
			t.Fatalf("lftp %s: %v", script, err)
		}
	}
	return lftpResult{stdout: stdout.String(), transcript: stderr.String(), code: code}
}

// lftpOpen returns the lftp command that logs in to g.
func (g *gateway) lftpOpen() string {
	return fmt.Sprintf("open -u %s,%s -p %s %s", g.User, g.Password, g.Port(), g.Host())
}

// TestLftp drives lftp in passive (PASV, EPSV) and active (PORT) mode
// against every backend: mkdir, put, get, get -c (resume), ls, cls, mv, rm,
// rmdir, including a refused rmdir of a non-empty directory. Uploads are
// checked in the store.
func TestLftp(t *testing.T) {
	t.Parallel()
	requireTool(t, "lftp")
	const size = 9<<20 + 333
	local, sum := writeRandomFile(t, "data.bin", size, 2)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, b)
			for _, m := range lftpModes {
				t.Run(m.name, func(t *testing.T) {
					t.Parallel()
					dir := "lftp-" + m.name
					work := t.TempDir()
					lftp := func(commands ...string) lftpResult {
						t.Helper()
						r := runLftp(t, g, m.setting, commands...)
						if r.code != 0 {
							t.Fatalf("lftp %q: exit status %d\n%s", commands, r.code, r.transcript)
						}
						return r
					}

					r := lftp("mkdir "+dir, fmt.Sprintf("put %q -o %s/data.bin", local, dir))
					for _, want := range []string{m.cmd, "---> MKD " + dir, "---> STOR " + dir + "/data.bin", "<--- 226"} {
						if !strings.Contains(r.transcript, want) {
							t.Fatalf("put: %q not in the transcript\n%s", want, r.transcript)
						}
					}
					g.requireObject(t, "/"+dir+"/data.bin", sum, size)

					out := filepath.Join(work, "out.bin")
					lftp(fmt.Sprintf("get %s/data.bin -o %q", dir, out))
					if got, n := sha256File(t, out); got != sum || n != size {
						t.Fatalf("get: %d bytes, sha256 %s; want %d, %s", n, got, size, sum)
					}
					partial := filepath.Join(work, "partial.bin")
					const have = 5<<20 + 11
					if err := os.WriteFile(partial, readRange(t, local, 0, have), 0o600); err != nil {
						t.Fatal(err)
					}
					r = lftp(fmt.Sprintf("get -c %s/data.bin -o %q", dir, partial))
					if !strings.Contains(r.transcript, fmt.Sprintf("---> REST %d", have)) {
						t.Errorf("get -c: no REST %d in the transcript\n%s", have, r.transcript)
					}
					if got, n := sha256File(t, partial); got != sum || n != size {
						t.Fatalf("get -c: %d bytes, sha256 %s; want %d, %s", n, got, size, sum)
					}

					if l := lftp("ls " + dir).stdout; !strings.Contains(l, "data.bin") || !strings.Contains(l, fmt.Sprint(size)) {
						t.Fatalf("ls %s lacks data.bin of %d bytes:\n%s", dir, size, l)
					}
					if got := names(lftp("cd "+dir, "cls -1").stdout); strings.Join(got, ",") != "data.bin" {
						t.Fatalf("cls -1 %s = %q, want data.bin", dir, got)
					}

					lftp(fmt.Sprintf("mv %s/data.bin %s/moved.bin", dir, dir))
					g.requireObject(t, "/"+dir+"/moved.bin", sum, size)
					g.requireNoObject(t, "/"+dir+"/data.bin")
					if r := runLftp(t, g, m.setting, "rmdir "+dir); r.code == 0 || !strings.Contains(r.transcript, "<--- 550") {
						t.Fatalf("rmdir of a non-empty directory: exit status %d, want a failure with 550\n%s", r.code, r.transcript)
					}
					lftp(fmt.Sprintf("rm %s/moved.bin", dir), "rmdir "+dir)
					g.requireNoObject(t, "/"+dir+"/moved.bin")
					for _, n := range names(lftp("cls -1").stdout) {
						if strings.TrimSuffix(n, "/") == dir {
							t.Fatalf("%s is still listed after rmdir", dir)
						}
					}
				})
			}
		})
	}
}
