package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"
)

// camera is what one camera session uploads in one run: Files pictures of
// fileSize bytes, the directory /camSS/2026-12-DD/HH (DD from the run, HH
// from the file's index) changing every dirEvery files.
type camera struct {
	Session, Rep, Files int
}

// dir is the dated directory of picture i, without a leading "/".
func (c camera) dir(i int) string {
	return fmt.Sprintf("cam%02d/2026-12-%02d/%02d", c.Session, c.Rep%28+1, 10+i/dirEvery)
}

func (c camera) name(i int) string { return fmt.Sprintf("img%05d.jpg", i) }

// stamp makes buf picture i of c: its first 8 bytes name the picture, so
// that every upload differs.
func (c camera) stamp(buf []byte, i int) {
	binary.BigEndian.PutUint64(buf, uint64(c.Rep)<<40|uint64(c.Session)<<20|uint64(i))
}

// pictures returns a random picture buffer for c and the files c uploads
// under prefix, their sizes and SHA-256 computed in advance.
func (c camera) pictures(prefix string) ([]byte, []file) {
	buf := make([]byte, fileSize)
	_, _ = rand.Read(buf)
	out := make([]file, c.Files)
	for i := range out {
		c.stamp(buf, i)
		out[i] = file{Key: prefix + c.dir(i) + "/" + c.name(i), Size: fileSize, Sum: sha256.Sum256(buf)}
	}
	return buf, out
}

// upload is one session's burst through g (nil for the direct baseline):
// it prepares (logs in), calls ready, waits for start to be closed,
// uploads, and returns each file's time and which files were acknowledged.
type upload func(r *rig, g *gateway, c camera, ready func(), start <-chan struct{}) (perFile []time.Duration, acked []file, failed []error)

// burstWorkload is the camera burst through FTP with up (passive or
// active), against PutObject per file straight to S3, and through the
// replicas when -bench.replicas starts them.
func burstWorkload(name string, up upload) workload {
	return workload{
		Name: name, Unit: "files/s",
		Setup:    findPython,
		FTP:      func(t *testing.T, r *rig, rep int) run { return burst(t, r, r.gw, rep, up) },
		Direct:   func(t *testing.T, r *rig, rep int) run { return burst(t, r, nil, rep, putObjects) },
		Replicas: func(t *testing.T, r *rig, rep int) run { return burst(t, r, r.replicas, rep, up) },
		Cleanup:  []string{ftpPrefix, directPrefix, replicasPrefix},
	}
}

// burst runs the sessions of one run through g at once (each ready before
// the clock starts) and returns files/s over the run's wall time, and g's
// CPU time while the clock ran (not the logins' password hashing).
func burst(t *testing.T, r *rig, g *gateway, rep int, up upload) run {
	type result struct {
		perFile []time.Duration
		acked   []file
		failed  []error
	}
	results := make([]result, r.sz.Sessions)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for s := range r.sz.Sessions {
		ready.Add(1)
		done.Go(func() {
			c := camera{Session: s, Rep: rep, Files: r.sz.Files}
			once := sync.OnceFunc(ready.Done)
			defer once() // also when up fails before it is ready
			var res result
			res.perFile, res.acked, res.failed = up(r, g, c, once, start)
			results[s] = res
		})
	}
	ready.Wait()
	var out run
	if g != nil {
		out.CPU = -g.CPU(t)
	}
	clock := readCPU(t)
	t0 := time.Now()
	close(start)
	done.Wait()
	wall := time.Since(t0)
	out.Use = clock.since(t)
	if g != nil {
		out.CPU += g.CPU(t)
	}
	for _, res := range results {
		out.PerFile = append(out.PerFile, res.perFile...)
		out.Acked = append(out.Acked, res.acked...)
		out.Failed = append(out.Failed, res.failed...)
	}
	out.Items = len(out.Acked)
	out.Value = float64(len(out.Acked)) / wall.Seconds()
	return out
}

// putObjects is the direct baseline: one PutObject per picture.
func putObjects(r *rig, _ *gateway, c camera, ready func(), start <-chan struct{}) ([]time.Duration, []file, []error) {
	buf, pics := c.pictures(directPrefix)
	ready()
	<-start
	return sendPictures(c, buf, pics, func(i int, p file) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := r.direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &r.bucket, Key: &p.Key, Body: bytes.NewReader(buf)}); err != nil {
			return fmt.Errorf("PutObject %s: %w", p.Key, err)
		}
		return nil
	})
}

// sendPictures sends each picture with send, after stamping buf with its
// number, and returns each one's time, those sent and the errors.
func sendPictures(c camera, buf []byte, pics []file, send func(i int, p file) error) ([]time.Duration, []file, []error) {
	var perFile []time.Duration
	var acked []file
	var failed []error
	for i, p := range pics {
		c.stamp(buf, i)
		t0 := time.Now()
		err := send(i, p)
		perFile = append(perFile, time.Since(t0))
		if err != nil {
			failed = append(failed, err)
			continue
		}
		acked = append(acked, p)
	}
	return perFile, acked, failed
}

// ftpPassive is a camera session with jlaffaye/ftp in passive mode (PASV):
// log in, then per picture: on a new directory CWD / and CWD into each
// component, MKD where CWD fails; STOR; 226.
func ftpPassive(_ *rig, g *gateway, c camera, ready func(), start <-chan struct{}) ([]time.Duration, []file, []error) {
	buf, pics := c.pictures(g.Prefix)
	conn, err := g.login()
	if err != nil {
		return nil, nil, []error{fmt.Errorf("session %d: login: %w", c.Session, err)}
	}
	defer conn.Quit()
	ready()
	<-start
	return sendPictures(c, buf, pics, func(i int, _ file) error {
		err := error(nil)
		if i%dirEvery == 0 {
			err = enter(conn, c.dir(i))
		}
		if err == nil {
			err = conn.Stor(c.name(i), bytes.NewReader(buf))
		}
		if err != nil {
			return fmt.Errorf("session %d file %d: %w", c.Session, i, err)
		}
		return nil
	})
}

// enter changes to /dir as a camera does: CWD /, then CWD into each
// component, MKD and CWD where the CWD is refused.
func enter(conn *ftp.ServerConn, dir string) error {
	if err := conn.ChangeDir("/"); err != nil {
		return err
	}
	for _, part := range strings.Split(dir, "/") {
		if conn.ChangeDir(part) == nil {
			continue
		}
		if err := conn.MakeDir(part); err != nil {
			return err
		}
		if err := conn.ChangeDir(part); err != nil {
			return err
		}
	}
	return nil
}

// findPython sets r.python to the python3 interpreter's own path: a
// pyenv shim on PATH takes seconds to start it.
func findPython(t *testing.T, r *rig) {
	t.Helper()
	if r.python != "" {
		return
	}
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	r.python = strings.TrimSpace(string(out))
}

// ftpActive is a camera session with Python's ftplib in active mode
// (PORT), testdata/burst.py, one process per session: the same commands as
// ftpPassive. The script reports each file's time and SHA-256.
func ftpActive(r *rig, g *gateway, c camera, ready func(), start <-chan struct{}) ([]time.Duration, []file, []error) {
	host, port, _ := strings.Cut(g.Addr, ":")
	args := []string{"testdata/burst.py", host, port, g.User, g.Pass,
		strconv.Itoa(c.Files), strconv.Itoa(fileSize), strconv.Itoa(dirEvery),
		fmt.Sprintf("cam%02d/2026-12-%02d", c.Session, c.Rep%28+1)}
	if g.ClientIP != "" {
		args = append(args, g.ClientIP)
	}
	cmd := exec.Command(r.python, args...)
	fail := func(err error) ([]time.Duration, []file, []error) {
		return nil, nil, []error{fmt.Errorf("session %d: burst.py: %w", c.Session, err)}
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		_ = stdin.Close()
		_ = cmd.Wait()
		return fail(fmt.Errorf("not ready: %q %s", lines.Text(), stderr.String()))
	}
	ready()
	<-start
	_, _ = stdin.Write([]byte("go\n"))
	_ = stdin.Close()
	var perFile []time.Duration
	var acked []file
	var failed []error
	for lines.Scan() {
		// "file INDEX SECONDS SHA256" or "error INDEX SECONDS MESSAGE"
		f := strings.SplitN(lines.Text(), " ", 4)
		if len(f) != 4 {
			continue
		}
		i, _ := strconv.Atoi(f[1])
		secs, _ := strconv.ParseFloat(f[2], 64)
		perFile = append(perFile, time.Duration(secs*float64(time.Second)))
		if f[0] != "file" {
			failed = append(failed, fmt.Errorf("session %d file %d: %s", c.Session, i, f[3]))
			continue
		}
		sum, err := hex.DecodeString(f[3])
		if err != nil || len(sum) != sha256.Size {
			failed = append(failed, fmt.Errorf("session %d file %d: bad SHA-256 %q", c.Session, i, f[3]))
			continue
		}
		acked = append(acked, file{Key: g.Prefix + c.dir(i) + "/" + c.name(i), Size: fileSize, Sum: [sha256.Size]byte(sum)})
	}
	if err := cmd.Wait(); err != nil {
		failed = append(failed, fmt.Errorf("session %d: burst.py: %w: %s", c.Session, err, stderr.String()))
	}
	return perFile, acked, failed
}
