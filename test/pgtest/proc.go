package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// initdb creates a cluster in dataDir: superuser User with trust
// authentication, UTF8, no fsync, and from PostgreSQL 15 on the ICU
// collation en-US as the default (byte order, "C", before).
func initdb(t testing.TB, bin, dataDir string, cred *syscall.Credential) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), initdbTimeout)
	defer cancel()
	args := []string{"-D", dataDir, "-A", "trust", "-U", User, "-E", "UTF8", "--no-sync"}
	if major := serverMajor(bin); major >= 15 {
		args = append(args, "--locale=C", "--locale-provider=icu", "--icu-locale=en-US", "--no-instructions")
	} else {
		args = append(args, "--locale=C")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Env = serverEnv()
	cmd.SysProcAttr = sysProcAttr(cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		hint := ""
		if cred != nil {
			hint = fmt.Sprintf(" (as root, %s and its parents must be searchable by the %s user)", filepath.Dir(dataDir), User)
		}
		t.Fatalf("pgtest: initdb: %v%s\n%s", err, hint, out)
	}
}

// versionRE finds the major version in `postgres --version`.
var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// serverMajor returns the major version of the server in bin, or 0 if
// `postgres --version` does not say.
func serverMajor(bin string) int {
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return 0
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// process is a running postmaster.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd.Wait has returned
	log    *os.File
}

// startPostgres starts postgres on s.Port, logging to s.LogFile. Settings
// trade durability for speed: a test's data need not survive a crash.
func startPostgres(bin, dataDir string, s *Server, cred *syscall.Credential) (*process, error) {
	log, err := os.OpenFile(s.LogFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", dataDir,
		"-p", strconv.Itoa(s.Port),
		"-k", s.SocketDir,
		"-c", "listen_addresses="+s.Host,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
	)
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr(cred)
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), log: log}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop shuts the server down at once (SIGQUIT: immediate shutdown, which
// also ends its backends), killing it if it has not exited within
// stopTimeout, and waits for it.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	_ = p.log.Close()
}

// portTaken reports whether the server's log says its port was in use.
func (s *Server) portTaken() bool {
	log, _ := os.ReadFile(s.LogFile)
	return strings.Contains(string(log), "could not bind") ||
		strings.Contains(string(log), "could not create any TCP/IP sockets")
}

// logTail returns the end of the server's log.
func (s *Server) logTail() string {
	log, err := os.ReadFile(s.LogFile)
	if err != nil {
		return err.Error()
	}
	const max = 4 << 10
	if len(log) > max {
		log = log[len(log)-max:]
	}
	return string(log)
}

// serverEnv is the environment of initdb and postgres: the test's, without
// the libpq variables (PGDATA, PGPORT, ...) that would change what they do.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// serverCredential returns whom initdb and postgres run as: nil (the
// current user) unless the test runs as root, which PostgreSQL refuses to
// run as; then the postgres system user that Debian's package creates.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(User)
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs a %s system user to run as: %w", User, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", User, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", User, u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
