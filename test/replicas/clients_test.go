package replicas

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/syncbuf"
)

// The FTP clients the sessions use, each in passive mode with PASV or EPSV.
var clientKinds = []struct{ client, mode string }{
	{"curl", "pasv"}, {"curl", "epsv"},
	{"lftp", "pasv"}, {"lftp", "epsv"},
	{"ftplib", "pasv"}, {"ftplib", "epsv"},
}

// file is one local file a session uploads.
type file struct {
	name, path string
	sum        [32]byte
}

// session is one FTP client process: one login, several uploads.
type session struct {
	id             int
	client, mode   string
	user, password string
	ip             string // the client's source address, 127.0.1.(id+1)
	files          []file
	delay          time.Duration // between uploads (ftplib only)

	out *syncbuf.Buffer // what the client printed
	err error           // how it exited
}

// newSession writes n files of random sizes (up to maxSize bytes) for
// session id, whose client is clientKinds[id % len].
func newSession(t *testing.T, id, n, maxSize int, password string) *session {
	t.Helper()
	k := clientKinds[id%len(clientKinds)]
	s := &session{id: id, client: k.client, mode: k.mode, user: fmt.Sprintf("cam%02d", id), password: password,
		ip: fmt.Sprintf("127.0.1.%d", id+1), out: &syncbuf.Buffer{}}
	dir := t.TempDir()
	for i := range n {
		data := make([]byte, 1+rand.IntN(maxSize))
		for j := range data {
			data[j] = byte(rand.Uint32())
		}
		f := file{name: fmt.Sprintf("s%02d-f%02d.bin", id, i), sum: sha256.Sum256(data)}
		f.path = filepath.Join(dir, f.name)
		if err := os.WriteFile(f.path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s.files = append(s.files, f)
	}
	return s
}

// curlAck matches the line curl's --write-out prints after a completed
// upload.
var curlAck = regexp.MustCompile(`(?m)^ACK (\S+) 226$`)

// okLine matches the line lftp's script and upload.py print after each
// acknowledged upload.
var okLine = regexp.MustCompile(`(?m)^OK (\S+)$`)

// command returns the client's command line for a session through host:port.
func (s *session) command(t *testing.T, host string, port int) *exec.Cmd {
	t.Helper()
	url := fmt.Sprintf("ftp://%s:%d/", host, port)
	switch s.client {
	case "curl":
		args := []string{"-sS", "--fail", "--interface", s.ip, "-u", s.user + ":" + s.password,
			"--connect-timeout", "60", "--max-time", "170", "-w", "ACK %{url_effective} %{response_code}\n"}
		if s.mode == "pasv" {
			args = append(args, "--disable-epsv")
		}
		for _, f := range s.files {
			args = append(args, "-T", f.path, url+f.name)
		}
		return exec.Command(requireTool(t, "curl"), args...)
	case "lftp":
		script := []string{
			"set cmd:fail-exit yes", "set net:max-retries 1", "set net:timeout 60", "set ftp:ssl-allow no",
			"set ftp:passive-mode on", "set ftp:prefer-epsv " + map[string]string{"pasv": "no", "epsv": "yes"}[s.mode],
			"set net:socket-bind-ipv4 " + s.ip,
			fmt.Sprintf("open -u %s,%s %s", s.user, s.password, url),
		}
		for _, f := range s.files {
			script = append(script, "put "+f.path, "echo OK "+f.name)
		}
		return exec.Command(requireTool(t, "lftp"), "-c", strings.Join(append(script, "quit"), "; "))
	case "ftplib":
		script, err := filepath.Abs(filepath.Join("testdata", "upload.py"))
		if err != nil {
			t.Fatal(err)
		}
		args := []string{script, host, strconv.Itoa(port), s.user, s.password, s.ip, s.mode, fmt.Sprint(s.delay.Seconds())}
		for _, f := range s.files {
			args = append(args, f.path)
		}
		return exec.Command(requireTool(t, "python3"), args...)
	}
	t.Fatalf("unknown client %s", s.client)
	return nil
}

// run runs cmd, the session's client (see command), to the end, bounded by
// 3 minutes, and records its output and exit. It may run on any goroutine.
func (s *session) run(cmd *exec.Cmd) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	go func() {
		<-ctx.Done()
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	}()
	cmd.Stdout, cmd.Stderr = s.out, s.out
	s.err = cmd.Run()
}

// acked returns the names of the files the client saw acknowledged.
func (s *session) acked() []string {
	var names []string
	for _, re := range []*regexp.Regexp{curlAck, okLine} {
		for _, m := range re.FindAllStringSubmatch(s.out.String(), -1) {
			names = append(names, filepath.Base(m[1]))
		}
	}
	return names
}

// checkStored fails the test unless every acknowledged file of s is in
// objects (under the user's prefix) with its size and SHA-256.
func (s *session) checkStored(t *testing.T, objects s3test.Objects) {
	t.Helper()
	for _, name := range s.acked() {
		f, ok := s.file(name)
		if !ok {
			t.Errorf("session %d: acknowledged %q, which it never sent", s.id, name)
			continue
		}
		data, err := objects.Get(s.user + "/" + name)
		if err != nil {
			t.Errorf("session %d (%s %s): %s acknowledged but not in S3: %v", s.id, s.client, s.mode, name, err)
			continue
		}
		if sha256.Sum256(data) != f.sum {
			t.Errorf("session %d (%s %s): %s in S3 has %d bytes and another SHA-256", s.id, s.client, s.mode, name, len(data))
		}
	}
}

// file returns the file of s named name.
func (s *session) file(name string) (file, bool) {
	for _, f := range s.files {
		if f.name == name {
			return f, true
		}
	}
	return file{}, false
}

// requireTool returns the path of the executable name, skipping the test
// when it is missing (failing it with S3FTP_TEST_STRICT=1).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed; %s=1 makes this a failure", name, s3test.StrictEnv)
	if s3test.Strict() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
