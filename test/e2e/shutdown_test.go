package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestShutdownLetsUploadFinish: SIGTERM during a slow upload stops new
// connections at once, lets the upload finish (curl succeeds, the object is
// stored whole) and then the process exits 0 (checked by the gateway's
// cleanup).
func TestShutdownLetsUploadFinish(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl")
	g := startGateway(t, backend{name: "embedded", kind: embeddedStore})
	data := bytes.Repeat([]byte("slow upload "), 100_000) // 1.2 MB
	src := filepath.Join(t.TempDir(), "slow.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sS", "--limit-rate", "400k", "-T", src, g.URL("/slow.bin"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a third of the way through, at 400 kB/s
	if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the FTP port to close", func() bool {
		c, err := net.DialTimeout("tcp", g.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the upload in flight failed during the shutdown: %v\n%s", err, out.String())
	}
	sum := sha256.Sum256(data)
	g.requireObject(t, "/slow.bin", hex.EncodeToString(sum[:]), int64(len(data)))
}
