package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runFtplib runs testdata/ftpclient.py against g in mode (passive or active)
// for step (session or cleanup) on directory dir, bounded by 2 minutes, and
// fails the test unless it exits with status 0 after sending want.
func runFtplib(t *testing.T, g *gateway, mode, step, dir, local, want string) {
	t.Helper()
	python := requireTool(t, "python3")
	script, err := filepath.Abs(filepath.Join("testdata", "ftpclient.py"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, g.Host(), g.Port(), g.User, g.Password, mode, step, dir, local)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ftpclient.py %s %s: %v\n%s\ntranscript:\n%s", mode, step, err, stderr.String(), stdout.String())
	}
	if !strings.Contains(stdout.String(), want) {
		t.Fatalf("ftpclient.py %s %s: %q not in the transcript:\n%s", mode, step, want, stdout.String())
	}
	for _, l := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(l, "NOTE: ") {
			t.Log(l) // an interoperability remark, not a failure
		}
	}
}

// TestFtplib drives Python's ftplib in passive (PASV) and active (PORT)
// mode against every backend: MKD, CWD, PWD, STOR (storbinary), SIZE, RETR
// (retrbinary, also with REST offsets), NLST, MLSD, RNFR/RNTO, DELE, RMD and
// the 550 refusals of operations on missing files and of RMD on a non-empty
// directory. The stored objects are checked in the store between the two
// steps of the script.
func TestFtplib(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	const size = 8<<20 + 1 // a multipart upload
	local, sum := writeRandomFile(t, "data.bin", size, 3)
	modes := []struct{ name, cmd string }{
		{"passive", "*cmd* 'PASV'"},
		{"active", "*cmd* 'PORT 127,0,0,1,"},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, b)
			for _, m := range modes {
				t.Run(m.name, func(t *testing.T) {
					t.Parallel()
					dir := "ftplib-" + m.name
					runFtplib(t, g, m.name, "session", dir, local, m.cmd)
					g.requireObject(t, "/"+dir+"/keep.bin", sum, size)
					for _, gone := range []string{"data.bin", "moved.bin"} {
						g.requireNoObject(t, "/"+dir+"/"+gone)
					}
					runFtplib(t, g, m.name, "cleanup", dir, local, "*cmd* 'RMD "+dir+"'")
					g.requireNoObject(t, "/"+dir+"/keep.bin")
				})
			}
		})
	}
}
