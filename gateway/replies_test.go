package gateway_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// listRaw runs a listing command (LIST, MLSD, ...) over a passive data
// connection of c and returns what the data connection carried.
func listRaw(t *testing.T, c *raw, command string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", c.pasv(true), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c.cmd(150, "%s", command)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	data, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(226)
	return string(data)
}

// TestReplyTexts: a failed CWD names the directory, STAT of a directory
// lists its entries, AUTH without TLS is not implemented (502, RFC 2228),
// and control characters a client sends are not echoed back.
func TestReplyTexts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	c := e.dial(t, "alice", true)
	must(t, "stor", c.Stor("/d/b.txt", bytes.NewReader([]byte("hello"))))

	r := rawDial(t, e.addr, "")
	check := func(cmd string, ok func(code int, text string) bool) {
		t.Helper()
		r.send("%s", cmd)
		if code, text := r.reply(); !ok(code, text) {
			t.Errorf("%q answered %q", cmd, text)
		}
	}
	check("AUTH TLS", func(code int, _ string) bool { return code == 502 })
	r.login("alice")
	check("CWD /missing", func(_ int, text string) bool {
		return text == "550 Can't change directory to /missing: no such file or directory"
	})
	check("STAT /d", func(code int, text string) bool {
		lines := strings.Split(text, "\r\n")
		return code == 212 && len(lines) == 3 && !strings.Contains(text, "%") &&
			strings.HasPrefix(lines[1], " -rw-r--r-- 1 ftp ftp            5 ") && strings.HasSuffix(lines[1], " b.txt")
	})

	for _, cmd := range []string{"CWD /a\x00b\x1b[2Jc\rd\x7f", "SIZE \x1b]0;title\x07x", "MKD /\x01\x02"} {
		check(cmd, func(_ int, text string) bool { // a reply line ends in CRLF, nothing else is a control
			return strings.Contains(text, "?") && !strings.ContainsFunc(text, func(c rune) bool { return c < 0x20 || c == 0x7f })
		})
	}
	r.cmd(257, "PWD") // the session is still in step
}

// TestDirectoryTimes: a directory with a marker has the marker's date
// (MDTM, MLST); one without a marker has no date: MDTM answers 550, MLST
// and MLSD leave the modify fact out, LIST shows the listing's time. Never
// 1970. Against every S3 server, as the marker's date comes from S3.
func TestDirectoryTimes(t *testing.T) {
	for _, srv := range s3test.All(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, envOptions{})
			c := e.dial(t, "alice", true)
			must(t, "mkdir", c.MakeDir("/marked"))
			must(t, "stor", c.Stor("/implied/f.txt", bytes.NewReader([]byte("x"))))

			r := rawDial(t, e.addr, "")
			r.login("alice")
			mdtm := strings.TrimPrefix(r.cmd(213, "MDTM /marked"), "213 ")
			when, err := time.Parse("20060102150405", mdtm)
			if err != nil || time.Since(when).Abs() > 24*time.Hour {
				t.Errorf("MDTM /marked = %q (%v), want the marker's date", mdtm, err)
			}
			if mlst := r.cmd(250, "MLST /marked"); !strings.Contains(mlst, "Modify="+mdtm+";") {
				t.Errorf("MLST /marked lacks Modify=%s: %s", mdtm, mlst)
			}
			if got := r.cmd(550, "MDTM /implied"); !strings.Contains(got, "/implied: no modification time") {
				t.Errorf("MDTM /implied = %q", got)
			}
			if mlst := r.cmd(250, "MLST /implied"); strings.Contains(strings.ToLower(mlst), "modify") ||
				!strings.Contains(mlst, "Type=dir;") {
				t.Errorf("MLST /implied = %s, want no modify fact", mlst)
			}

			mlsd := listRaw(t, r, "MLSD /")
			for _, line := range strings.Split(strings.TrimSpace(mlsd), "\r\n") {
				if strings.HasPrefix(line, "Type=dir;") && strings.Contains(line, "Modify=") {
					t.Errorf("MLSD gives a directory a modify fact S3 has no date for: %q", line)
				}
			}
			entries, err := c.List("/") // jlaffaye/ftp reads MLSD: a directory without a date has none
			must(t, "list", err)
			for _, en := range entries {
				if en.Type == ftp.EntryTypeFolder && !en.Time.IsZero() {
					t.Errorf("the client sees a date for %s: %v", en.Name, en.Time)
				}
			}
			if len(entries) != 2 {
				t.Errorf("the client lists %d entries, want marked and implied", len(entries))
			}
			list := listRaw(t, r, "LIST /")
			today := time.Now().Format("Jan _2")
			for _, name := range []string{"marked", "implied"} {
				if !strings.Contains(list, today) || !strings.Contains(list, " "+name+"\r\n") || strings.Contains(list, "1970") {
					t.Errorf("LIST / shows %s without the listing's date (%s):\n%s", name, today, list)
				}
			}
		})
	}
}
