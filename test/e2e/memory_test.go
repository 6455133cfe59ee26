package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Memory limits of the s3ftp process after a 1 GiB upload (VmHWM, the peak
// resident set size). Above memoryTarget is reported; above memoryLimit fails.
const (
	memoryTarget = 64 << 20
	memoryLimit  = 128 << 20
	bigUpload    = 1 << 30
)

// TestMemory uploads 1 GiB with curl -T - (fed by a stream of pseudo-random
// bytes that is hashed as it goes and never held in memory) and reads the
// s3ftp process's peak resident set size (VmHWM) afterwards: once as a
// gateway to versitygw, once in the default mode with the embedded store in
// the same process. It prints the figures and checks the sha256 of the
// object that landed.
func TestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 1 GiB twice: skipped with -short")
	}
	t.Parallel()
	requireTool(t, "curl")
	cases := []struct {
		name string
		b    backend
	}{
		{"gateway+embedded", backends[0]},
		{"gateway-to-versitygw", backends[1]},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, c.b)
			atStart := procStatus(t, g.Pid(), "VmHWM")
			// A first login and small upload, so the baseline includes the
			// password check (argon2id) and a started S3 client.
			curlUploadStream(t, g, "/warm-up.bin", uint64(200+i), 1<<20)
			warm := procStatus(t, g.Pid(), "VmHWM")
			start := time.Now()
			sum := curlUploadStream(t, g, "/big.bin", uint64(100+i), bigUpload)
			elapsed := time.Since(start)
			peak := procStatus(t, g.Pid(), "VmHWM")
			anon, file := procStatus(t, g.Pid(), "RssAnon"), procStatus(t, g.Pid(), "RssFile")

			figure := fmt.Sprintf("FIGURE e2e memory %s: VmHWM %.1f MiB after a 1 GiB upload "+
				"(%.1f MiB at start, %.1f MiB after login and a 1 MiB upload; RSS now %.1f MiB anon + %.1f MiB file), %.1f s, %.0f MiB/s",
				c.name, mib(peak), mib(atStart), mib(warm), mib(anon), mib(file), elapsed.Seconds(), mib(bigUpload)/elapsed.Seconds())
			t.Log(figure)
			fmt.Println(figure)
			if peak > memoryTarget {
				note := fmt.Sprintf("FIGURE e2e memory %s: VmHWM %.1f MiB is above the 64 MiB target (limit %d MiB)", c.name, mib(peak), memoryLimit>>20)
				t.Log(note)
				fmt.Println(note)
			}
			if peak > memoryLimit {
				t.Errorf("VmHWM %.1f MiB after a 1 GiB upload: above the %d MiB limit", mib(peak), memoryLimit>>20)
			}
			g.requireObject(t, "/big.bin", sum, bigUpload)
		})
	}
}

// curlUploadStream uploads size pseudo-random bytes (seeded with seed) to
// the FTP path name with curl -T - fed through an io.Pipe, and returns
// their sha256. It fails the test unless curl succeeds within 5 minutes.
func curlUploadStream(t *testing.T, g *gateway, name string, seed uint64, size int64) string {
	t.Helper()
	curl := requireTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	cmd := exec.CommandContext(ctx, curl, "-sS", "--connect-timeout", "10", "--max-time", "290", "-T", "-", g.URL(name))
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = pr, &stderr
	cmd.WaitDelay = 10 * time.Second
	type fed struct {
		n   int64
		sum string
		err error
	}
	done := make(chan fed, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n, sum, err := feed(pw, seed, size)
		pw.CloseWithError(err) // EOF for curl once everything is written
		done <- fed{n, sum, err}
	}()
	err := cmd.Wait()
	pr.CloseWithError(errors.New("curl exited")) // unblocks the feeder if curl stopped early
	f := <-done
	if err != nil || f.err != nil || f.n != size {
		t.Fatalf("curl -T - %s: %v (fed %d of %d bytes: %v)\n%s", name, err, f.n, size, f.err, stderr.String())
	}
	return f.sum
}

// procStatus returns a size field (VmHWM: the peak resident set size,
// RssAnon, RssFile, ...) of process pid from /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read %s: %v (needs Linux /proc)", field, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s line %q: %v", field, sc.Text(), err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// mib converts bytes to MiB.
func mib(n int64) float64 { return float64(n) / (1 << 20) }
