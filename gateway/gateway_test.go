package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// TestCommandTour runs the commands a user needs, in passive mode (EPSV and
// PASV), against every S3 server, and checks what lands in S3.
func TestCommandTour(t *testing.T) {
	for _, srv := range s3test.All(t) {
		for _, epsv := range []bool{true, false} {
			name := srv.Name + "/PASV"
			if epsv {
				name = srv.Name + "/EPSV"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, srv, envOptions{storage: storage.Settings{PartSize: 5 << 20}})
				c := e.dial(t, "alice", epsv)
				data := randBytes(11<<20 + 333) // a multipart upload
				must(t, "mkdir", c.MakeDir("/scans"))
				must(t, "cwd", c.ChangeDir("scans"))
				if dir, err := c.CurrentDir(); err != nil || dir != "/scans" {
					t.Fatalf("pwd = %q, %v", dir, err)
				}
				must(t, "stor", c.Stor("doc 1.pdf", bytes.NewReader(data)))
				got, err := e.object("alice/scans/doc 1.pdf")
				must(t, "get from S3", err)
				if sha256.Sum256(got) != sha256.Sum256(data) {
					t.Fatalf("S3 holds %d bytes, not the uploaded %d", len(got), len(data))
				}
				entries, err := c.List(".")
				must(t, "list", err)
				if len(entries) != 1 || entries[0].Name != "doc 1.pdf" || entries[0].Size != uint64(len(data)) {
					t.Errorf("list = %+v", entries)
				}
				names, err := c.NameList("/scans")
				must(t, "nlst", err)
				if len(names) != 1 || !strings.HasSuffix(names[0], "doc 1.pdf") {
					t.Errorf("nlst = %v", names)
				}
				entry, err := c.GetEntry("doc 1.pdf")
				must(t, "mlst", err)
				if entry.Size != uint64(len(data)) || entry.Type != ftp.EntryTypeFile {
					t.Errorf("mlst = %+v", entry)
				}
				size, err := c.FileSize("doc 1.pdf")
				if err != nil || size != int64(len(data)) {
					t.Errorf("size = %d, %v", size, err)
				}
				mtime, err := c.GetTime("doc 1.pdf")
				if err != nil || time.Since(mtime) > time.Hour {
					t.Errorf("mdtm = %v, %v", mtime, err)
				}
				r, err := c.RetrFrom("doc 1.pdf", 5<<20+7)
				must(t, "retr with REST", err)
				tail, err := io.ReadAll(r)
				must(t, "read", err)
				must(t, "close retr", r.Close())
				if !bytes.Equal(tail, data[5<<20+7:]) {
					t.Errorf("resumed download = %d bytes, want %d", len(tail), len(data)-(5<<20+7))
				}
				must(t, "rename", c.Rename("doc 1.pdf", "/archive/2026/doc 1.pdf"))
				if _, err := e.object("alice/archive/2026/doc 1.pdf"); err != nil {
					t.Errorf("renamed object: %v", err)
				}
				must(t, "cdup", c.ChangeDirToParent())
				must(t, "rmd empty scans", c.RemoveDir("scans"))
				if err := c.RemoveDir("archive"); err == nil {
					t.Errorf("rmd of a non-empty directory succeeded")
				}
				must(t, "dele", c.Delete("/archive/2026/doc 1.pdf"))
				must(t, "rmd", c.RemoveDir("/archive/2026"))
				if _, err := e.object("alice/archive/2026/doc 1.pdf"); err == nil {
					t.Errorf("deleted object still in S3")
				}
				must(t, "noop", c.NoOp())
			})
		}
	}
}

// TestActiveMode transfers with PORT and EPRT: the server connects back.
func TestActiveMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	for _, extended := range []bool{false, true} {
		c := rawDial(t, e.addr, "")
		c.login("alice")
		c.cmd(200, "TYPE I")
		data := randBytes(300000)

		accept := c.active(extended)
		c.send("STOR active.bin")
		conn := accept()
		c.expect(150)
		_, err := conn.Write(data)
		must(t, "write data", err)
		conn.Close()
		c.expect(226)
		if got, err := e.object("alice/active.bin"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("extended=%v: stored %d bytes, %v", extended, len(got), err)
		}

		accept = c.active(extended)
		c.send("RETR active.bin")
		conn = accept()
		c.expect(150)
		got, err := io.ReadAll(conn)
		must(t, "read data", err)
		c.expect(226)
		if !bytes.Equal(got, data) {
			t.Errorf("extended=%v: downloaded %d bytes, want %d", extended, len(got), len(data))
		}

		accept = c.active(extended)
		c.send("LIST")
		conn = accept()
		c.expect(150)
		listing, _ := io.ReadAll(conn)
		c.expect(226)
		if !strings.Contains(string(listing), "active.bin") {
			t.Errorf("LIST = %q", listing)
		}
		c.cmd(221, "QUIT")
	}
}

// TestBounceRefused: PORT/EPRT naming another host than the client's is refused.
func TestBounceRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	c := rawDial(t, e.addr, "")
	c.login("alice")
	for _, cmd := range []string{
		"PORT 127,0,0,2,117,48",
		"PORT 192,0,2,10,0,25",
		"EPRT |1|192.0.2.10|25|",
		"EPRT |2|::1|2121|",
	} {
		if code, text := c.send2(cmd); code < 500 {
			t.Errorf("%s: %d %s, want refusal", cmd, code, text)
		}
	}
}

// send2 sends a command and returns the reply.
func (c *raw) send2(cmd string) (int, string) {
	c.t.Helper()
	c.send("%s", cmd)
	return c.reply()
}

// TestPassiveForeignIPRefused: a data connection to the passive port from
// another address than the client's is not used for the transfer: it is
// closed and logged, and the client's own, on the same port, gets the file.
func TestPassiveForeignIPRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	e.put(t, "alice/secret.txt", []byte("top secret"))
	c := rawDial(t, e.addr, "127.0.0.1")
	c.login("alice")
	addr := c.pasv(true)
	thief, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}).Dial("tcp", addr)
	must(t, "dial from 127.0.0.2", err)
	defer thief.Close()
	// The client's own connection to the same port, after the thief's: the
	// thief's is closed and the transfer waits on for this one.
	conn, err := net.Dial("tcp", addr)
	must(t, "dial data", err)
	defer conn.Close()
	c.send("RETR secret.txt")
	c.expect(150)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn)
	c.expect(226)
	if string(got) != "top secret" {
		t.Errorf("legitimate download = %q", got)
	}
	_ = thief.SetReadDeadline(time.Now().Add(5 * time.Second))
	if stolen, _ := io.ReadAll(thief); len(stolen) > 0 {
		t.Fatalf("foreign data connection received %q", stolen)
	}
	if !strings.Contains(e.logs.String(), "127.0.0.2") {
		t.Errorf("the refused data connection from 127.0.0.2 is not logged")
	}
}

// TestLogin: wrong passwords and unknown users get the same 530, and the
// password never reaches the logs.
func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	var texts []string
	for _, user := range []string{"alice", "nobody", "ALICE"} {
		c := rawDial(t, e.addr, "")
		c.cmd(331, "USER %s", user)
		c.send("PASS wrong-password-123")
		code, text := c.reply()
		if code != 530 {
			t.Errorf("%s: %d %s, want 530", user, code, text)
		}
		texts = append(texts, text)
	}
	if texts[0] != texts[1] {
		t.Errorf("unknown user reply %q differs from wrong password reply %q", texts[1], texts[0])
	}
	c := rawDial(t, e.addr, "")
	c.cmd(331, "USER Alice")
	c.cmd(230, "PASS %s", password) // names are case insensitive
	if strings.Contains(e.logs.String(), "wrong-password-123") || strings.Contains(e.logs.String(), password) {
		t.Errorf("a password reached the logs")
	}
	if !strings.Contains(e.logs.String(), "login failed") {
		t.Errorf("no log line for the failed logins")
	}
}

// TestLoginThrottle: after too many failed logins a client is turned away
// with 421 on connection, and the ban is logged.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{throttle: &auth.ThrottleConfig{MaxFailures: 3, Window: time.Hour}})
	for range 3 {
		c := rawDial(t, e.addr, "127.0.0.1")
		c.cmd(331, "USER alice")
		c.cmd(530, "PASS guess")
	}
	conn, err := net.Dial("tcp", e.addr)
	must(t, "dial", err)
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(line, "421 ") {
		t.Errorf("banned client greeted with %q, want 421", line)
	}
	for _, want := range []string{"login throttled: client banned", "connection refused: too many failed logins"} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("logs lack %q", want)
		}
	}
	// Another address (127.0.0.2) is not banned, but the name is.
	c := rawDial(t, e.addr, "127.0.0.2")
	c.cmd(331, "USER alice")
	c.cmd(530, "PASS %s", password)
}

// TestIsolation: alice2 cannot reach alice's files by any command.
func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	e.put(t, "alice/secret.txt", []byte("alice's"))
	c := e.dial(t, "alice2", true)
	for _, p := range []string{"../alice/secret.txt", "/../alice/secret.txt", "/../../alice/secret.txt", "..\\alice\\secret.txt"} {
		if r, err := c.Retr(p); err == nil {
			b, _ := io.ReadAll(r)
			r.Close()
			t.Errorf("RETR %s succeeded: %q", p, b)
		}
		if err := c.Delete(p); err == nil {
			t.Errorf("DELE %s succeeded", p)
		}
		if err := c.Rename(p, "/stolen.txt"); err == nil {
			t.Errorf("RNFR %s succeeded", p)
		}
		if _, err := c.FileSize(p); err == nil {
			t.Errorf("SIZE %s succeeded", p)
		}
	}
	must(t, "cwd above root", c.ChangeDir("/../../.."))
	if dir, _ := c.CurrentDir(); dir != "/" {
		t.Errorf("pwd after cwd above root = %q", dir)
	}
	entries, err := c.List("/..")
	must(t, "list /..", err)
	if len(entries) != 0 {
		t.Errorf("alice2 sees %d entries in her empty root", len(entries))
	}
	must(t, "stor ../alice/secret.txt", c.Stor("../alice/secret.txt", strings.NewReader("overwritten?")))
	must(t, "rename into ../alice", c.Rename("/alice/secret.txt", "../../alice/x.txt"))
	if got, _ := e.object("alice/secret.txt"); string(got) != "alice's" {
		t.Errorf("alice's file = %q", got)
	}
	if _, err := e.object("alice/x.txt"); err == nil {
		t.Errorf("alice2 renamed a file into alice's prefix")
	}
	if got, _ := e.object("alice2/alice/x.txt"); string(got) != "overwritten?" {
		t.Errorf("alice2's writes did not stay in alice2/: %q", got)
	}
}

// TestPermissions: an upload-only camera can STOR and MKD, nothing else; a
// read-only user cannot change anything.
func TestPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	cam := e.dial(t, "cam", true)
	must(t, "stor into missing dirs", cam.Stor("2026/11/25/x.jpg", strings.NewReader("jpeg")))
	if got, _ := e.object("cams/cam/2026/11/25/x.jpg"); string(got) != "jpeg" {
		t.Fatalf("camera upload = %q", got)
	}
	must(t, "cwd", cam.ChangeDir("/2026/11"))
	must(t, "mkd", cam.MakeDir("26"))
	for what, err := range map[string]error{
		"LIST":           listErr(cam.List(".")),
		"RETR":           retrErr(cam.Retr("25/x.jpg")),
		"SIZE":           sizeErr(cam.FileSize("25/x.jpg")),
		"DELE":           cam.Delete("25/x.jpg"),
		"RNFR":           cam.Rename("25/x.jpg", "y.jpg"),
		"STOR overwrite": cam.Stor("25/x.jpg", strings.NewReader("again")),
		"RMD":            cam.RemoveDir("26"),
	} {
		if err == nil {
			t.Errorf("camera %s succeeded", what)
		} else if !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("camera %s: %v, want 550 permission denied", what, err)
		}
	}
	reader := e.dial(t, "reader", true)
	e.put(t, "alice/r.txt", []byte("read me"))
	if _, err := reader.List("/"); err != nil {
		t.Errorf("reader LIST: %v", err)
	}
	if err := reader.Stor("new.txt", strings.NewReader("x")); err == nil {
		t.Errorf("reader STOR succeeded")
	}
	if err := reader.MakeDir("d"); err == nil {
		t.Errorf("reader MKD succeeded")
	}
}

func listErr(_ []*ftp.Entry, err error) error { return err }
func sizeErr(_ int64, err error) error        { return err }
func retrErr(r *ftp.Response, err error) error {
	if r != nil {
		r.Close()
	}
	return err
}

// storRaw starts a passive STOR of name on c and returns the data connection.
func storRaw(t *testing.T, c *raw, name string) *net.TCPConn {
	t.Helper()
	c.cmd(200, "TYPE I")
	addr := c.pasv(true)
	conn, err := net.Dial("tcp", addr)
	must(t, "dial data", err)
	c.send("STOR %s", name)
	c.expect(150)
	return conn.(*net.TCPConn)
}

// TestInterruptedUploads: whatever interrupts an upload, nothing is stored,
// no multipart upload is left and the client is not told 226.
func TestInterruptedUploads(t *testing.T) {
	t.Parallel()
	small := storage.Settings{PartSize: 5 << 20}
	for _, size := range []int{200000, 12 << 20} {
		t.Run("reset/"+strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, s3test.Fake(t), envOptions{storage: small})
			c := rawDial(t, e.addr, "")
			c.login("alice")
			conn := storRaw(t, c, "reset.bin")
			_, err := conn.Write(randBytes(size))
			must(t, "write", err)
			time.Sleep(200 * time.Millisecond)
			_ = conn.SetLinger(0) // close with RST
			conn.Close()
			if code, text := c.reply(); code < 400 {
				t.Errorf("reply after reset = %d %s, want an error", code, text)
			}
			e.nothingAt(t, "alice/reset.bin")
		})
		t.Run("ABOR/"+strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, s3test.Fake(t), envOptions{storage: small})
			c := rawDial(t, e.addr, "")
			c.login("alice")
			conn := storRaw(t, c, "abor.bin")
			_, err := conn.Write(randBytes(size))
			must(t, "write", err)
			time.Sleep(200 * time.Millisecond)
			c.send("ABOR")
			var codes []int
			for range 2 {
				code, _ := c.reply()
				codes = append(codes, code)
				if code == 226 && len(codes) == 1 {
					break
				}
			}
			conn.Close()
			if slices.Contains(codes, 226) && !slices.Contains(codes, 426) {
				t.Errorf("ABOR replies %v: the transfer was reported complete", codes)
			}
			c.cmd(200, "NOOP")
			e.nothingAt(t, "alice/abor.bin")
		})
		t.Run("client vanishes/"+strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, s3test.Fake(t), envOptions{storage: small})
			c := rawDial(t, e.addr, "")
			c.login("alice")
			conn := storRaw(t, c, "gone.bin")
			_, err := conn.Write(randBytes(size))
			must(t, "write", err)
			time.Sleep(200 * time.Millisecond)
			_ = conn.SetLinger(0)
			c.conn.Close()
			conn.Close()
			deadline := time.Now().Add(10 * time.Second)
			for e.uploads(t) != 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			e.nothingAt(t, "alice/gone.bin")
		})
	}
}

// TestS3FailureIsReported: when S3 fails, the client gets an error reply
// that names neither the bucket nor the endpoint, and the log has the cause.
func TestS3FailureIsReported(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	c := rawDial(t, e.addr, "")
	c.login("alice")
	e.fault.set(func(req *http.Request) bool { return req.Method == http.MethodPut })
	conn := storRaw(t, c, "fail.bin")
	_, _ = conn.Write([]byte("some data"))
	conn.Close()
	code, text := c.reply()
	if code != 451 {
		t.Fatalf("reply = %d %s, want 451 (transient: the device retries)", code, text)
	}
	host := strings.TrimPrefix(e.srv.Endpoint, "http://")
	for _, secret := range []string{e.bucket, host, "injected"} {
		if strings.Contains(text, secret) {
			t.Errorf("reply %q reveals %q", text, secret)
		}
	}
	if !strings.Contains(text, "storage temporarily unavailable") {
		t.Errorf("reply %q does not explain the failure", text)
	}
	if !strings.Contains(e.logs.String(), "injected failure") {
		t.Errorf("the cause is not logged")
	}
	e.fault.set(func(req *http.Request) bool { return true })
	c.send("SIZE x")
	if code, text := c.reply(); code != 451 || strings.Contains(text, e.bucket) {
		t.Errorf("SIZE during outage = %d %s, want 451 without the bucket", code, text)
	}
	e.fault.set(nil)
	e.nothingAt(t, "alice/fail.bin")
}

// TestS3RefusalIsReported: S3 refusing the gateway's requests (its
// credentials, bucket policy or settings are wrong) is not the user's doing:
// neither "permission denied" nor 553, no bucket or request id in the
// reply, and an error log line with the S3 code, for metadata commands and
// transfers alike.
func TestS3RefusalIsReported(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		code   string
	}{
		{http.StatusForbidden, "AccessDenied"},
		{http.StatusBadRequest, "InvalidArgument"}, // a bad checksum, part number, copy range or SSE setting
	} {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, s3test.Fake(t), envOptions{})
			cl := rawDial(t, e.addr, "")
			cl.login("alice")
			e.fault.refuse(c.status, c.code, func(req *http.Request) bool { return req.Method == http.MethodPut })
			check := func(what string, code int, text string) {
				t.Helper()
				if code != 550 || !strings.Contains(text, "storage refused the request") {
					t.Errorf("%s: reply = %d %s, want 550 storage refused the request", what, code, text)
				}
				for _, secret := range []string{e.bucket, "REQ1D", "injected"} {
					if strings.Contains(text, secret) {
						t.Errorf("%s: reply %q reveals %q", what, text, secret)
					}
				}
			}
			cl.send("MKD d")
			code, text := cl.reply()
			check("MKD", code, text)
			conn := storRaw(t, cl, "f.bin")
			_, _ = conn.Write([]byte("some data"))
			conn.Close()
			code, text = cl.reply()
			check("STOR", code, text)
			logs := e.logs.String()
			if n := strings.Count(logs, "s3_code="+c.code); n < 2 || !strings.Contains(logs, "level=ERROR") {
				t.Errorf("%d error log lines name the S3 code %s, want one per command:\n%s", n, c.code, logs)
			}
			e.fault.set(nil)
			e.nothingAt(t, "alice/f.bin")
		})
	}
}

// TestSlowS3RenameAndRemove: with every S3 request slower than a quarter of
// the request timeout, RNFR/RNTO and SITE RMDIR, which send several
// requests each, do their work and report success.
func TestSlowS3RenameAndRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{storage: storage.Settings{RequestTimeout: 2 * time.Second}})
	for _, k := range []string{"alice/in/a.jpg", "alice/tree/x", "alice/tree/sub/y"} {
		e.put(t, k, []byte(k))
	}
	c := rawDial(t, e.addr, "")
	c.login("alice")
	e.fault.slow(600 * time.Millisecond)
	c.cmd(350, "RNFR /in/a.jpg")
	c.cmd(250, "RNTO /out/a.jpg")
	c.cmd(250, "SITE RMDIR /tree")
	e.fault.slow(0)
	if _, err := e.object("alice/out/a.jpg"); err != nil {
		t.Errorf("renamed file: %v", err)
	}
	for _, key := range []string{"alice/in/a.jpg", "alice/tree/x", "alice/tree/sub/y"} {
		if _, err := e.object(key); err == nil {
			t.Errorf("%s still exists", key)
		}
	}
}

// TestDirectoryReplies: a file is not a directory to STOR, RNTO or SITE
// RMDIR, and SITE RMDIR of nothing is an error, on every S3 server.
func TestDirectoryReplies(t *testing.T) {
	for _, srv := range s3test.All(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, envOptions{})
			c := rawDial(t, e.addr, "")
			c.login("alice")
			for _, name := range []string{"x.jpg", "keep.txt"} {
				conn := storRaw(t, c, name)
				_, _ = conn.Write([]byte(name))
				conn.Close()
				c.expect(226)
			}
			c.cmd(200, "TYPE I")
			addr := c.pasv(true)
			conn, err := net.Dial("tcp", addr)
			must(t, "dial", err)
			c.send("STOR /x.jpg/y.jpg")
			code, text := c.reply()
			conn.Close()
			if code != 550 || !strings.Contains(text, "not a directory") {
				t.Errorf("STOR under a file: %d %s, want 550 not a directory", code, text)
			}
			c.cmd(350, "RNFR keep.txt")
			if text := c.cmd(550, "RNTO /x.jpg/keep.txt"); !strings.Contains(text, "not a directory") {
				t.Errorf("RNTO under a file: %s, want not a directory", text)
			}
			if text := c.cmd(550, "SITE RMDIR keep.txt"); !strings.Contains(text, "not a directory") {
				t.Errorf("SITE RMDIR of a file: %s, want not a directory", text)
			}
			if text := c.cmd(550, "SITE RMDIR /missing"); !strings.Contains(text, "no such file or directory") {
				t.Errorf("SITE RMDIR of nothing: %s, want no such file or directory", text)
			}
			for _, key := range []string{"alice/x.jpg", "alice/keep.txt"} {
				if _, err := e.object(key); err != nil {
					t.Errorf("%s: %v", key, err)
				}
			}
		})
	}
}

// TestBadNames: names S3 cannot hold faithfully are refused with 553.
func TestBadNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	c := rawDial(t, e.addr, "")
	c.login("alice")
	for _, name := range []string{"latin1-\xe9t\xe9.txt", strings.Repeat("n", 1100), "nul\x00.txt", "bell\x07"} {
		c.cmd(200, "TYPE I")
		addr := c.pasv(true)
		conn, err := net.Dial("tcp", addr)
		must(t, "dial", err)
		c.send("STOR %s", name)
		code, text := c.reply()
		conn.Close()
		if code != 553 {
			t.Errorf("STOR %q: %d %s, want 553", name[:min(len(name), 16)], code, text)
		}
	}
	c.cmd(550, "MKD %s", "x\xff") // ftpserverlib answers every MKD failure with 550
}

// TestMiscCommands: the commands old clients send around transfers.
func TestMiscCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	c := rawDial(t, e.addr, "")
	c.login("alice")
	feat := c.cmd(211, "FEAT")
	for _, f := range []string{"UTF8", "EPSV", "MLST", "SIZE", "MDTM", "REST STREAM"} {
		if !strings.Contains(feat, f) {
			t.Errorf("FEAT lacks %s: %s", f, feat)
		}
	}
	c.cmd(215, "SYST")
	c.cmd(200, "TYPE A")
	c.cmd(200, "TYPE I")
	c.cmd(200, "NOOP")
	c.cmd(200, "OPTS UTF8 ON")
	c.cmd(257, "PWD")
	c.cmd(550, "CWD /missing")
	c.cmd(550, "RETR missing")
	c.cmd(200, "STRU F")
	c.cmd(504, "STRU R")
	c.cmd(200, "MODE S")
	c.cmd(200, "ALLO 1000")
	c.cmd(502, "MFMT 20260101000000 x")
	c.cmd(221, "QUIT")
}

// TestHashCommands: HASH and the X commands answer the digest of a file
// whose name has spaces, from the stored digests.
func TestHashCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	c := e.dial(t, "alice", true)
	data := randBytes(70000)
	must(t, "stor", c.Stor("/dir/a b c.bin", bytes.NewReader(data)))
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	r := rawDial(t, e.addr, "")
	r.login("alice")
	if feat := r.cmd(211, "FEAT"); !strings.Contains(feat, "HASH ") || !strings.Contains(feat, "SHA-256") {
		t.Errorf("FEAT lacks the HASH line: %s", feat)
	}
	r.cmd(200, "OPTS HASH SHA-256")
	if got := r.cmd(213, "HASH /dir/a b c.bin"); !strings.Contains(got, want) {
		t.Errorf("HASH = %s, want %s", got, want)
	}
	r.cmd(250, "CWD /dir")
	if got := r.cmd(250, "XSHA256 a b c.bin"); !strings.Contains(got, want) {
		t.Errorf("XSHA256 (relative) = %s, want %s", got, want)
	}
	part := sha256.Sum256(data[10:1000])
	if got := r.cmd(250, "XSHA256 a b c.bin 10 1000"); !strings.Contains(got, hex.EncodeToString(part[:])) {
		t.Errorf("XSHA256 with a range = %s", got)
	}
	r.cmd(550, "HASH missing.bin")
}

// TestActiveNATSubstitution: with the option, a private address announced
// in PORT is replaced by the client's; without it, it is refused.
func TestActiveNATSubstitution(t *testing.T) {
	t.Parallel()
	for _, substitute := range []bool{false, true} {
		e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{ActiveNATSubstitution: substitute}})
		e.put(t, "alice/f.txt", []byte("from behind NAT"))
		c := rawDial(t, e.addr, "127.0.0.1")
		c.login("alice")
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		must(t, "listen", err)
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		code, text := c.send2(fmt.Sprintf("PORT 192,168,1,20,%d,%d", port/256, port%256)) // the device's inside address
		if !substitute {
			if code < 500 {
				t.Errorf("without substitution: PORT to 192.168.1.20 = %d %s, want refusal", code, text)
			}
			continue
		}
		if code != 200 {
			t.Fatalf("with substitution: PORT = %d %s", code, text)
		}
		c.send("RETR f.txt")
		_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		conn, err := l.Accept()
		must(t, "accept the data connection at the client's address", err)
		c.expect(150)
		got, _ := io.ReadAll(conn)
		conn.Close()
		c.expect(226)
		if string(got) != "from behind NAT" {
			t.Errorf("downloaded %q", got)
		}
		if code, _ := c.send2("PORT 192,0,2,10,0,25"); code < 500 {
			t.Errorf("a public foreign address was accepted with substitution on (bounce)")
		}
	}
}

// TestASCIIConversion: TYPE A stores bytes as sent by default, and converts
// CRLF to LF with ASCIIConversion.
func TestASCIIConversion(t *testing.T) {
	t.Parallel()
	for _, convert := range []bool{false, true} {
		e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{ASCIIConversion: convert}})
		c := rawDial(t, e.addr, "")
		c.login("alice")
		c.cmd(200, "TYPE A")
		addr := c.pasv(true)
		conn, err := net.Dial("tcp", addr)
		must(t, "dial", err)
		c.send("STOR report.csv")
		c.expect(150)
		_, _ = conn.Write([]byte("a;b\r\nc;d\r\n"))
		conn.Close()
		c.expect(226)
		want := "a;b\r\nc;d\r\n"
		if convert {
			want = "a;b\nc;d\n"
		}
		if got, _ := e.object("alice/report.csv"); string(got) != want {
			t.Errorf("conversion %v: stored %q, want %q", convert, got, want)
		}
	}
}

// TestPassiveSettings: the advertised address and the port range are used.
func TestPassiveSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ host, want string }{
		{"", "127,0,0,1,"},
		{"198.51.100.7", "198,51,100,7,"},
		{"localhost", "127,0,0,1,"},
	} {
		e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{
			PublicHost: c.host, PassivePorts: gateway.PortRange{Start: 23100, End: 23109},
		}})
		cl := rawDial(t, e.addr, "")
		cl.login("alice")
		text := cl.cmd(227, "PASV")
		if !strings.Contains(text, "("+c.want) {
			t.Errorf("public host %q: PASV = %s, want %s", c.host, text, c.want)
		}
		port, _ := strconv.Atoi(strings.TrimSuffix(strings.Split(cl.cmd(229, "EPSV"), "|||")[1], "|)"))
		if port < 23100 || port > 23109 {
			t.Errorf("EPSV port %d outside 23100-23109", port)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want gateway.PortRange
		ok   bool
	}{
		{"", gateway.PortRange{}, true},
		{"30000-30099", gateway.PortRange{Start: 30000, End: 30099}, true},
		{" 30000 - 30001 ", gateway.PortRange{Start: 30000, End: 30001}, true},
		{"30000", gateway.PortRange{Start: 30000, End: 30000}, true},
		{"30099-30000", gateway.PortRange{}, false},
		{"80-90", gateway.PortRange{}, false},
		{"30000-70000", gateway.PortRange{}, false},
		{"a-b", gateway.PortRange{}, false},
	} {
		got, err := gateway.ParsePortRange(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParsePortRange(%q) = %v, %v", c.in, got, err)
		}
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
