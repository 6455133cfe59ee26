package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// An interruption is a way for a client to abandon an upload half-way. It
// starts the upload of the local file (or of an endless stream) to the FTP
// path name, calls started once the gateway has begun a multipart upload,
// and returns the client's transcript once the client has exited.
type interruption struct {
	name string
	run  func(t *testing.T, g *gateway, name, local string, started func()) string
}

// interruptions are the interrupted uploads TestInterruptedUpload performs.
var interruptions = []interruption{
	{"curl-sigkill", curlKilled},
	{"lftp-sigkill", lftpKilled},
	{"lftp-abor", lftpAborted},
}

// TestInterruptedUpload abandons uploads half-way, once a multipart upload
// is in progress in the store: curl and lftp killed with SIGKILL (the
// control and data connections just close) and lftp's `kill all` (ABOR on
// the control connection). Afterwards there must be no object, no multipart
// upload left in progress, a log line saying the upload did not succeed, and
// the gateway must still store and serve files.
func TestInterruptedUpload(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	requireTool(t, "lftp")
	const size = 64 << 20 // 16 s at lftp's limited rate: always interrupted before the end
	local, _ := writeRandomFile(t, "src.bin", size, 4)
	for _, b := range backends[:2] { // the embedded store and versitygw
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, b)
			for i, in := range interruptions {
				t.Run(in.name, func(t *testing.T) {
					t.Parallel()
					name := "/interrupted-" + in.name + ".bin"
					transcript := in.run(t, g, name, local, func() { g.waitUploadInProgress(t, name) })

					end := g.waitTransferEnd(t, name)
					if end.Result == "ok" {
						t.Errorf("the gateway logged the interrupted upload as successful: %+v\nclient:\n%s", end, tail(transcript, 40))
					}
					t.Logf("gateway: result %s after %d bytes: %s", end.Result, end.Bytes, end.Err)
					if keys := g.uploads(t); slices.Contains(keys, g.key(name)) {
						t.Errorf("multipart upload of %s still in progress after the interruption: %q", g.key(name), keys)
					}
					g.requireNoObject(t, name)

					// The gateway still works.
					after := fmt.Sprintf("/after-%s.bin", in.name)
					sum := curlUploadStream(t, g, after, uint64(300+i), 3<<20+5)
					g.requireObject(t, after, sum, 3<<20+5)
				})
			}
		})
	}
}

// waitUploadInProgress waits until the store has a multipart upload in
// progress for the FTP path name. versitygw must show it within 30 s; for
// the embedded store, whose in-progress uploads are only visible in its
// private directory layout, it gives up after 10 s with a log line, so that
// a change of layout does not fail the test.
func (g *gateway) waitUploadInProgress(t *testing.T, name string) {
	t.Helper()
	key := g.key(name)
	limit := 30 * time.Second
	if g.S3 == nil {
		limit = 10 * time.Second
	}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if slices.Contains(g.uploads(t), key) {
			return
		}
	}
	if g.S3 != nil {
		t.Fatalf("%s: no multipart upload of %s started within %v", g.Kind, key, limit)
	}
	t.Logf("%s: no multipart upload of %s seen in the store's directory within %v; interrupting anyway", g.Kind, key, limit)
}

// curlKilled streams endless data with curl -T - (limited to 4 MB/s) and
// kills curl with SIGKILL once the upload is in progress.
func curlKilled(t *testing.T, g *gateway, name, _ string, started func()) string {
	curl := requireTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	defer pr.CloseWithError(errors.New("test over")) // stops the feeder on every path
	cmd := exec.CommandContext(ctx, curl, "-sS", "-v", "--limit-rate", "4M", "-T", "-", g.URL(name))
	out := &syncbuf.Buffer{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fed := make(chan error, 1)
	go func() {
		_, _, err := feed(pw, 5, -1)
		fed <- err
	}()
	started()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	pr.CloseWithError(errors.New("curl killed")) // stops the feeder
	<-fed
	if !killed(err) {
		t.Fatalf("curl was not killed (%v): it finished the upload?\n%s", err, out)
	}
	return out.String()
}

// lftpKilled uploads local with `lftp -c put` (limited to 4 MB/s) and kills
// lftp with SIGKILL once the upload is in progress.
func lftpKilled(t *testing.T, g *gateway, name, local string, started func()) string {
	lftp := requireTool(t, "lftp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := fmt.Sprintf("%s; set net:limit-rate 4000000; %s; put %q -o %s", lftpSettings, g.lftpOpen(), local, name)
	cmd := exec.CommandContext(ctx, lftp, "-d", "-c", script)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); !killed(err) {
		t.Fatalf("lftp was not killed (%v): it finished the upload?\n%s", err, out)
	}
	return out.String()
}

// lftpAborted runs lftp reading commands from its standard input, starts
// `put` (limited to 4 MB/s) as a background job and, once the upload is in
// progress, stops it with `kill all`, which makes lftp send ABOR. lftp then
// lists the directory on the same connection and exits.
func lftpAborted(t *testing.T, g *gateway, name, local string, started func()) string {
	lftp := requireTool(t, "lftp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lftp, "-d")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(stdin, "%s; set net:limit-rate 4000000\n%s\nput %q -o %s &\n", lftpSettings, g.lftpOpen(), local, name)
	started()
	fmt.Fprintf(stdin, "kill all\nwait all\ncls -1 /\nexit\n")
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	transcript := out.String()
	abor := strings.Index(transcript, "---> ABOR")
	if abor < 0 {
		t.Fatalf("lftp sent no ABOR:\n%s", tail(transcript, 40))
	}
	if after := transcript[abor:]; !strings.Contains(after, "<--- 426") || !strings.Contains(after, "<--- 226") {
		t.Errorf("replies to ABOR: want 426 for the STOR, then 226:\n%s", tail(after, 20))
	}
	return transcript
}

// killed reports whether err from exec says the process died of SIGKILL.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
