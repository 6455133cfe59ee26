package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/test/s3ftpbin"
	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// straceCall is one system call in an strace log: its name, its arguments
// as strace printed them (with -y, each file descriptor is followed by its
// path in <>), its result, and the lines of the log where it entered and
// where it returned (the same line unless strace split it).
type straceCall struct {
	name, args, result string
	entry, exit        int
}

var (
	// straceLine is a line of `strace -f -o`: the thread id, then a call
	// (whole, or "<unfinished ...>"), or "<... NAME resumed>" and its end.
	straceLine     = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	straceResumed  = regexp.MustCompile(`^<\.\.\. (\w+) resumed>(.*)$`)
	straceCallText = regexp.MustCompile(`^(\w+)\((.*)\)\s+= (.*)$`)
	// renameatArgs: old directory fd, old name, new directory fd, new name.
	renameatArgs = regexp.MustCompile(`^\d+<([^>]*)>, "([^"]*)", \d+<([^>]*)>, "([^"]*)"`)
	// fsyncArgs: the file descriptor's path.
	fsyncArgs = regexp.MustCompile(`^\d+<([^>]*)>$`)
)

// parseStrace returns the calls of an strace log, in the order they
// returned.
func parseStrace(t *testing.T, log string) []straceCall {
	t.Helper()
	var calls []straceCall
	pending := map[string]straceCall{} // per thread: a call split by strace
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		tid, text := m[1], m[2]
		if r := straceResumed.FindStringSubmatch(text); r != nil {
			c, ok := pending[tid]
			if !ok {
				continue // began before strace attached
			}
			delete(pending, tid)
			text = c.name + "(" + c.args + r[2]
			c.exit = i
			if whole := straceCallText.FindStringSubmatch(text); whole != nil {
				c.args, c.result = whole[2], whole[3]
				calls = append(calls, c)
			}
			continue
		}
		if before, ok := strings.CutSuffix(text, " <unfinished ...>"); ok {
			name, args, _ := strings.Cut(before, "(")
			pending[tid] = straceCall{name: name, args: args, entry: i}
			continue
		}
		if whole := straceCallText.FindStringSubmatch(text); whole != nil {
			calls = append(calls, straceCall{name: whole[1], args: whole[2], result: whole[3], entry: i, exit: i})
		}
	}
	return calls
}

// traceGateway attaches strace to the gateway g, tracing renames and
// fsyncs, and returns a function that detaches it and returns its calls.
func traceGateway(t *testing.T, g *gateway) func() []straceCall {
	t.Helper()
	strace := requireTool(t, "strace")
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd := exec.Command(strace, "-f", "-y", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-e", "signal=none",
		"-o", log, "-p", strconv.Itoa(g.Pid()))
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("strace: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	detach := func() error {
		_ = cmd.Process.Signal(syscall.SIGINT) // strace detaches; the gateway runs on
		select {
		case err := <-exited:
			return err
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("strace did not stop within 10 s of SIGINT: %w", <-exited)
		}
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test ends early
	waitFor(t, 10*time.Second, "strace to attach", func() bool { return strings.Contains(stderr.String(), "attached") })
	return func() []straceCall {
		t.Helper()
		if err := detach(); err != nil && !strings.Contains(err.Error(), "signal: interrupt") {
			t.Fatalf("strace: %v\n%s", err, stderr)
		}
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		return parseStrace(t, string(data))
	}
}

// TestStraceDirectoryFsync uploads a file with curl to the no-config
// `s3ftp serve` (the embedded store) under strace: the object's temporary
// file must be fsynced before it is renamed into place, and the directory
// receiving it fsynced after the rename returned. With
// --embedded-fsync=false nothing of the store is fsynced.
func TestStraceDirectoryFsync(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		flags []string
		sync  bool
	}{
		{name: "default", sync: true},
		{name: "embedded-fsync=false", flags: []string{"--embedded-fsync=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, backend{name: "embedded", kind: embeddedStore, flags: tc.flags})
			local, sum := writeRandomFile(t, "traced.jpg", 200<<10, 17)
			stop := traceGateway(t, g)
			mustCurl(t, "-T", local, g.URL("/traced.jpg"))
			calls := stop()
			g.requireObject(t, "/traced.jpg", sum, 200<<10)

			store, err := filepath.EvalSymlinks(filepath.Join(g.DataDir, "s3"))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(store, g.Bucket, filepath.Dir(filepath.FromSlash(g.key("/traced.jpg"))))
			checkDurablePut(t, calls, dir, "traced.jpg", tc.sync)
			if !tc.sync {
				for _, c := range calls {
					if strings.HasPrefix(c.name, "fsync") || c.name == "fdatasync" {
						if strings.Contains(c.args, "<"+store+"/") || strings.Contains(c.args, "<"+store+">") {
							t.Errorf("with --embedded-fsync=false the store called %s(%s)", c.name, c.args)
						}
					}
				}
			}
		})
	}
}

// checkDurablePut checks, in the calls of an strace log, that a file was
// renamed to dir/name and, if sync, that the file renamed was fsynced
// before and dir fsynced after the rename.
func checkDurablePut(t *testing.T, calls []straceCall, dir, name string, sync bool) {
	t.Helper()
	rename := -1
	var from string
	for i, c := range calls {
		if !strings.HasPrefix(c.name, "rename") || c.result != "0" {
			continue
		}
		if m := renameatArgs.FindStringSubmatch(c.args); m != nil && m[3] == dir && m[4] == name {
			rename, from = i, filepath.Join(m[1], m[2])
		}
	}
	if rename < 0 {
		t.Fatalf("no rename to %s/%s traced; calls:\n%s", dir, name, formatCalls(calls))
	}
	if !sync {
		return
	}
	fsyncOf := func(path string, ok func(c straceCall) bool) bool {
		for _, c := range calls {
			if m := fsyncArgs.FindStringSubmatch(c.args); m != nil && c.name == "fsync" && c.result == "0" && m[1] == path && ok(c) {
				return true
			}
		}
		return false
	}
	r := calls[rename]
	if !fsyncOf(from, func(c straceCall) bool { return c.exit < r.entry }) {
		t.Errorf("%s was not fsynced before its rename to %s/%s; calls:\n%s", from, dir, name, formatCalls(calls))
	}
	if !fsyncOf(dir, func(c straceCall) bool { return c.entry > r.exit }) {
		t.Errorf("the directory %s was not fsynced after the rename of %s into it; calls:\n%s", dir, name, formatCalls(calls))
	}
}

// formatCalls lists calls one a line, for failures.
func formatCalls(calls []straceCall) string {
	var b strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&b, "  %d-%d %s(%s) = %s\n", c.entry, c.exit, c.name, c.args, c.result)
	}
	return b.String()
}

// TestKill9AfterBurst sends a camera's burst of 50 pictures (1 to 300 KiB)
// through one lftp session to the embedded store and kills the gateway with
// SIGKILL the moment lftp has its 50 acknowledgements (226). Restarted on
// the same data directory, the gateway must serve every picture with its
// size and SHA-256.
//
// SIGKILL ends the process, not the machine: what the kernel holds in its
// page cache survives it. That a power cut loses nothing acknowledged rests
// on the order of the store's file-system operations, which
// TestOrderOfOperations (storage/embedded) and TestStraceDirectoryFsync
// check.
func TestKill9AfterBurst(t *testing.T) {
	t.Parallel()
	const pictures = 50
	g := startGateway(t, backends[0])
	type picture struct {
		name, sum string
		size      int64
	}
	var sent []picture
	var files []string
	for i := range pictures {
		p := picture{name: fmt.Sprintf("cam-%02d.jpg", i), size: int64(1<<10 + i*6250)}
		var file string
		file, p.sum = writeRandomFile(t, p.name, p.size, uint64(1000+i))
		sent = append(sent, p)
		files = append(files, file)
	}
	burst := runLftp(t, g, "", "mkdir burst", "cd burst", "mput "+strings.Join(files, " "))
	g.Kill(t)
	if burst.code != 0 {
		t.Fatalf("lftp mput: exit status %d\n%s", burst.code, burst.transcript)
	}
	if acks := strings.Count(burst.transcript, "<--- 226"); acks < pictures {
		t.Fatalf("lftp got %d acknowledgements (226), want %d\n%s", acks, pictures, burst.transcript)
	}

	g.Process = s3ftpbin.Start(t, "restarted", binary, g.Cmd.Args[1:]...)
	out := t.TempDir()
	if r := runLftp(t, g, "", "lcd "+out, "mget burst/*"); r.code != 0 {
		t.Fatalf("lftp mget after the restart: exit status %d\n%s", r.code, r.transcript)
	}
	for _, p := range sent {
		got := filepath.Join(out, p.name)
		if _, err := os.Stat(got); err != nil {
			t.Errorf("%s, acknowledged before the kill, cannot be read after the restart: %v", p.name, err)
			continue
		}
		if sum, size := sha256File(t, got); sum != p.sum || size != p.size {
			t.Errorf("%s after the restart: %d bytes, sha256 %s; want %d bytes, %s", p.name, size, sum, p.size, p.sum)
		}
	}
}
