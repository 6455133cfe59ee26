package gateway_test

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// endServers returns the S3 servers the upload-end tests run against:
// gofakes3, and versitygw when installed (or required by S3FTP_TEST_STRICT).
func endServers(t *testing.T) []*s3test.Server {
	servers := []*s3test.Server{s3test.Fake(t)}
	if s3test.VersityInstalled() || s3test.Strict() {
		servers = append(servers, s3test.Versity(t))
	}
	return servers
}

// sendFile sends data on a passive data connection for command (STOR name,
// APPE name), closes it and returns the transfer's final reply; during,
// when not nil, runs once the data is sent, before the data connection
// closes.
func sendFile(t *testing.T, c *raw, command string, data []byte, during func()) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", c.pasv(true))
	must(t, "dial data", err)
	defer conn.Close()
	c.cmd(150, "%s", command)
	_, err = conn.Write(data)
	must(t, "write", err)
	if during != nil {
		during()
	}
	must(t, "close data", conn.Close())
	return c.reply()
}

// TestUploadSize: an upload announced by ALLO must have that size: a byte
// more is refused with 552 (exceeded storage allocation), fewer with 426
// (the data connection closed early), and nothing is stored. For a resume
// (SIZE, REST, STOR) ALLO gives the whole file's size.
func TestUploadSize(t *testing.T) {
	t.Parallel()
	for _, srv := range endServers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, envOptions{storage: endSettings})
			old := randBytes(1000)
			for _, tc := range []struct {
				name     string
				existing []byte // the file before, if any
				commands []string
				data     []byte
				code     int
				want     []byte // the file after (nil: none)
			}{
				{"exact", nil, []string{"ALLO 1000"}, old, 226, old},
				{"short", nil, []string{"ALLO 1000"}, old[:999], 426, nil},
				{"long", nil, []string{"ALLO 1000"}, append(old, 'x'), 552, nil},
				{"multipart short", nil, []string{"ALLO 6291456"}, randBytes(5<<20 + 100_000), 426, nil},
				{"resume", old, []string{"SIZE f.bin", "ALLO 1600", "REST 1000"}, old[:600], 226, append(append([]byte{}, old...), old[:600]...)},
				{"resume short", old, []string{"SIZE f.bin", "ALLO 1600", "REST 1000"}, old[:500], 426, old},
			} {
				c := rawDial(t, e.addr, "")
				c.login("alice")
				c.cmd(200, "TYPE I")
				if tc.existing != nil {
					e.put(t, "alice/f.bin", tc.existing)
				}
				for _, cmd := range tc.commands {
					if code, text := c.send2(cmd); code >= 400 {
						t.Fatalf("%s: %s: %s", tc.name, cmd, text)
					}
				}
				if code, text := sendFile(t, c, "STOR f.bin", tc.data, nil); code != tc.code {
					t.Errorf("%s: reply %s, want %d", tc.name, text, tc.code)
				}
				if tc.want == nil {
					e.nothingAt(t, "alice/f.bin")
				} else if got, err := e.object("alice/f.bin"); err != nil || !bytes.Equal(got, tc.want) {
					t.Errorf("%s: stored %d bytes (%v), want %d", tc.name, len(got), err, len(tc.want))
				}
				c.send2("DELE f.bin") // 550 when nothing was stored
			}
		})
	}
}

// TestAppendChangedMeanwhile: an APPE whose file another client replaces
// during the transfer stores nothing over it: 450, try again.
func TestAppendChangedMeanwhile(t *testing.T) {
	t.Parallel()
	for _, srv := range endServers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, envOptions{storage: endSettings})
			e.put(t, "alice/log.txt", []byte("first line\n"))
			c := rawDial(t, e.addr, "")
			c.login("alice")
			c.cmd(200, "TYPE I")
			code, text := sendFile(t, c, "APPE log.txt", []byte("second line\n"), func() {
				e.put(t, "alice/log.txt", []byte("rewritten\n"))
			})
			if code != 450 || !strings.Contains(text, "changed meanwhile") {
				t.Errorf("reply %s, want 450: the file changed meanwhile", text)
			}
			if got, _ := e.object("alice/log.txt"); string(got) != "rewritten\n" {
				t.Errorf("the file is %q, want the other client's", got)
			}
		})
	}
}
