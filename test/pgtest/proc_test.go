package pgtest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServerEnv(t *testing.T) {
	t.Setenv("PGDATA", "/elsewhere")
	t.Setenv("PGPORT", "1")
	t.Setenv("PGTEST_KEEP", "x") // hypothetical: every PG* name goes
	t.Setenv("NOT_PG", "kept")
	env := serverEnv()
	for _, kv := range env {
		if strings.HasPrefix(kv, "PG") {
			t.Errorf("server environment holds %s", kv)
		}
	}
	if !slices.Contains(env, "NOT_PG=kept") {
		t.Errorf("server environment lost NOT_PG")
	}
}

// orphanEnv marks the child process TestKilledTestLeavesNoServer starts.
const orphanEnv = "PGTEST_ORPHAN_CHILD"

// TestOrphanChild is the child of TestKilledTestLeavesNoServer: it starts a
// server, prints its port and blocks until killed. Otherwise it does nothing.
func TestOrphanChild(t *testing.T) {
	if os.Getenv(orphanEnv) != "1" {
		return
	}
	s := Start(t)
	os.Stdout.WriteString("PORT " + strconv.Itoa(s.Port) + " " + s.SocketDir + "\n")
	select {}
}

// TestKilledTestLeavesNoServer kills a test process that has started a
// server (as a -timeout panic or a SIGKILL would) and checks that the server
// goes away with it.
func TestKilledTestLeavesNoServer(t *testing.T) {
	if !Installed() {
		t.Skip("PostgreSQL is not installed")
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), orphanEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var port int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "PORT" {
			port, _ = strconv.Atoi(f[1])
			dir = f[2]
			break
		}
	}
	if port == 0 {
		t.Fatalf("the child did not start a server")
	}
	// The child dies without running its cleanups: the directory is left.
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(stopTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // gone
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the server on %s outlived its test process by %v", addr, stopTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
