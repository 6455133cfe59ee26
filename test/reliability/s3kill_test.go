package reliability

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// versity is a versitygw process the test can kill and start again on the
// same address and directory.
type versity struct {
	bin, addr, dir, log string
	srv                 *s3test.Server
	cmd                 *exec.Cmd
}

// startVersity starts versitygw (posix backend) on a free port; it is
// killed when the test ends. It skips (or fails, under S3FTP_TEST_STRICT=1)
// without the binary.
func startVersity(t *testing.T) *versity {
	t.Helper()
	if !s3test.VersityInstalled() {
		if s3test.Strict() {
			t.Fatal("versitygw not installed")
		}
		t.Skip("versitygw not installed")
	}
	v := &versity{bin: s3test.VersityBinary(), dir: t.TempDir()}
	v.srv = &s3test.Server{Name: "versitygw", AccessKey: "vgw-" + randomHex(4), SecretKey: randomHex(16), Dir: v.dir}
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		v.addr = ln.Addr().String()
		ln.Close()
		v.srv.Endpoint = "http://" + v.addr
		v.log = filepath.Join(t.TempDir(), "versitygw.log")
		if v.start(t) {
			break
		}
		if attempt == 3 {
			t.Fatal("versitygw: its free port was taken before it bound it, three times")
		}
	}
	t.Cleanup(func() { v.kill() })
	return v
}

// start runs versitygw and waits until it answers; it returns false if
// another process took its port (see s3test.WaitVersity).
func (v *versity) start(t *testing.T) bool {
	t.Helper()
	logFile, err := os.OpenFile(v.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	v.cmd = exec.Command(v.bin, s3test.VersityArgs(v.srv.AccessKey, v.srv.SecretKey, v.addr, v.dir)...)
	v.cmd.Stdout, v.cmd.Stderr = logFile, logFile
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	if !s3test.WaitVersity(t, v.addr, v.log) {
		v.kill()
		return false
	}
	return true
}

// kill stops versitygw with SIGKILL.
func (v *versity) kill() {
	if v.cmd != nil && v.cmd.Process != nil {
		_ = v.cmd.Process.Signal(syscall.SIGKILL)
		_ = v.cmd.Wait()
	}
}

// TestS3Killed kills versitygw with SIGKILL in the middle of a multipart
// upload and starts it again: the client gets an error reply, the gateway
// stays up and works once S3 is back, no object appears, and no multipart
// upload remains: the abort that failed while S3 was down is retried by the
// gateway's sweeper (every upload-sweep-interval, 2 s here; see
// storage.Service.RunSweeper).
func TestS3Killed(t *testing.T) {
	t.Parallel()
	v := startVersity(t)
	e := start(t, v.srv, "upload-sweep-interval: 2s")
	storeAfter(t, e, "/warm-up.txt")
	c := e.login(t)
	done := make(chan error, 1)
	go func() { done <- c.Stor("/killed.bin", &pattern{n: 64 << 20}) }()
	e.waitUpload(t, "/killed.bin")
	v.kill()
	err := <-done
	requireTransient(t, "STOR with S3 killed", err)
	time.Sleep(2 * time.Second)
	if !v.start(t) {
		t.Fatalf("versitygw could not restart: %s was taken meanwhile", v.addr)
	}
	storeAfter(t, e, "/after-kill.txt")
	e.requireCleanObject(t, "/killed.bin")
	const wait = 30 * time.Second // the sweeper's rounds, and their requests
	deadline := time.Now().Add(wait)
	left := e.uploads(t)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		left = e.uploads(t)
	}
	figure(t, "s3-killed: versitygw SIGKILLed mid-upload: reply %q; multipart uploads left after the restart (waiting up to %v for the sweeper): %d", reason(err), wait, len(left))
	if len(left) > 0 {
		t.Errorf("multipart uploads left behind after S3 restart: %q (the failed abort was not retried)", left)
	}
}
