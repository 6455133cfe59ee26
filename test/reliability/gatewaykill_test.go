package reliability

import (
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestGatewayKilled kills the gateway with SIGKILL in the middle of a
// multipart upload and starts it again with the same data directory: the
// client gets an error, nothing is visible in S3 under the name, and the
// multipart upload the dead process left is aborted by the new one (its
// upload journal names it; the sweeper's first round runs at start, see
// storage.Service.RunSweeper).
func TestGatewayKilled(t *testing.T) {
	t.Parallel()
	e := start(t, s3test.Fake(t))
	c := e.login(t)
	done := make(chan error, 1)
	go func() { done <- c.Stor("/crash.bin", &pattern{n: 64 << 20}) }()
	e.waitUpload(t, "/crash.bin")
	// A part in S3: the gateway recorded the upload in its journal before
	// sending it (killed between S3 starting the upload and that record,
	// it would leave it to the bucket's lifecycle rule, see
	// docs/operations.md).
	e.waitPart(t, "/crash.bin")
	e.Kill(t)
	if err := <-done; err == nil {
		t.Errorf("STOR acknowledged by a gateway killed in the middle of it")
	}
	e.requireCleanObject(t, "/crash.bin")
	left := e.uploads(t)
	if len(left) == 0 {
		t.Fatalf("no multipart upload left by the killed gateway: nothing for the restart to clean")
	}
	begin := time.Now()
	e.restart(t)
	const wait = 30 * time.Second
	for len(left) > 0 && time.Since(begin) < wait {
		time.Sleep(200 * time.Millisecond)
		left = e.uploads(t)
	}
	figure(t, "gateway-killed: SIGKILL mid-upload, started again: object visible false, multipart uploads left %v after the restart: %d", time.Since(begin).Round(100*time.Millisecond), len(left))
	e.requireClean(t, "/crash.bin")
	if len(e.logLines(func(l logLine) bool { return l.Msg == "aborted multipart uploads left behind" })) == 0 {
		t.Errorf("the restarted gateway did not log the uploads it aborted")
	}
	storeAfter(t, e, "/after-crash.txt")
}
