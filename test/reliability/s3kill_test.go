package reliability

import (
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestS3Killed kills versitygw with SIGKILL in the middle of a multipart
// upload and starts it again: the client gets an error reply, the gateway
// stays up and works once S3 is back, no object appears, and no multipart
// upload remains: the abort that failed while S3 was down is retried by the
// gateway's sweeper (every upload-sweep-interval, 2 s here; see
// storage.Service.RunSweeper).
func TestS3Killed(t *testing.T) {
	t.Parallel()
	v := s3test.StartVersity(t)
	e := start(t, v.Server, "upload-sweep-interval: 2s")
	storeAfter(t, e, "/warm-up.txt")
	c := e.login(t)
	done := make(chan error, 1)
	go func() { done <- c.Stor("/killed.bin", &pattern{n: 64 << 20}) }()
	e.waitUpload(t, "/killed.bin")
	v.Kill()
	err := <-done
	requireTransient(t, "STOR with S3 killed", err)
	time.Sleep(2 * time.Second)
	if !v.Start(t) {
		t.Fatalf("versitygw could not restart: %s was taken meanwhile", v.Server.Endpoint)
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
