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
	bin := s3test.VersityBinary()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	v := &versity{bin: bin, addr: addr, dir: t.TempDir(), log: filepath.Join(t.TempDir(), "versitygw.log")}
	v.srv = &s3test.Server{Name: "versitygw", Endpoint: "http://" + addr, AccessKey: "vgw-" + randomHex(4), SecretKey: randomHex(16), Dir: v.dir}
	v.start(t)
	t.Cleanup(func() { v.kill() })
	return v
}

// start runs versitygw and waits until it accepts connections.
func (v *versity) start(t *testing.T) {
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
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", v.addr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw not listening on %s within 20 s", v.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	v.start(t)
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
