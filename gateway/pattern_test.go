package gateway_test

import (
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// rawList sends a listing command (NLST, LIST or MLSD and its argument)
// with an EPSV data connection. It returns the final reply's code and text
// and, after a transfer, the data's lines.
func rawList(c *raw, command string) (int, string, []string) {
	c.t.Helper()
	data, err := net.DialTimeout("tcp", c.pasv(true), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	defer data.Close()
	c.send("%s", command)
	code, text := c.reply()
	if code != 150 {
		return code, text, nil
	}
	_ = data.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(data)
	if err != nil {
		c.t.Fatalf("%s: reading the data: %v", command, err)
	}
	code, text = c.reply()
	lines := []string{}
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\r\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return code, text, lines
}

// listedNames returns the names at the end of LIST lines.
func listedNames(lines []string) []string {
	names := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Fields(l)
		names[i] = f[len(f)-1]
	}
	return names
}

// TestListPatterns: NLST and LIST expand a shell pattern in the last path
// component, with the directory part kept in NLST's names; a name that
// exists is taken as it is; MLSD, CWD and RETR take no patterns; the
// pattern never lists outside the user's prefix (alice2 beside alice/);
// an upload-only user is refused a pattern listing as any listing.
func TestListPatterns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{})
	for _, key := range []string{
		"alice/clip1.mp4", "alice/clip2.mp4", "alice/note.txt", "alice/a*b.txt", "alice/aXb.txt", "alice/..dots",
		"alice/cams/x.jpg", "alice/cams/y.jpg", "alice/cams/z.png", "alice/star*/inner.mp4",
		"alice2/own.mp4", "alice2/sub/deep.mp4", "cams/cam/shot.jpg",
	} {
		e.put(t, key, []byte("data of "+key))
	}
	sessions := map[string]*raw{} // one per user, used by the cases in turn
	for _, user := range []string{"alice", "alice2", "reader", "cam"} {
		sessions[user] = rawDial(t, e.addr, "")
		sessions[user].login(user)
	}
	for _, c := range []struct {
		user, cwd, command string
		code               int
		want               []string // NLST names, or the names of LIST lines
		text               string   // in the reply of a refusal
	}{
		{"alice", "/", "NLST *.mp4", 226, []string{"clip1.mp4", "clip2.mp4"}, ""},
		{"alice", "/", "NLST clip?.mp4", 226, []string{"clip1.mp4", "clip2.mp4"}, ""},
		{"alice", "/", "NLST clip[!1].mp4", 226, []string{"clip2.mp4"}, ""},
		{"alice", "/", "NLST cams/*.jpg", 226, []string{"cams/x.jpg", "cams/y.jpg"}, ""},
		{"alice", "/", "NLST /cams/[xz]*", 226, []string{"cams/x.jpg", "cams/z.png"}, ""},
		{"alice", "/cams", "NLST *.jpg", 226, []string{"x.jpg", "y.jpg"}, ""},
		{"alice", "/cams", "NLST ../*.mp4", 226, []string{"../clip1.mp4", "../clip2.mp4"}, ""},
		{"alice", "/", "NLST *.none", 226, []string{}, ""},
		{"alice", "/", "NLST ..*", 226, []string{"..dots"}, ""},
		{"alice", "/", "LIST *.mp4", 226, []string{"clip1.mp4", "clip2.mp4"}, ""},
		{"alice", "/", "LIST -la *.mp4", 226, []string{"clip1.mp4", "clip2.mp4"}, ""},
		{"alice", "/", "LIST -l cams/*.png", 226, []string{"z.png"}, ""},
		{"alice", "/", "NLST -a cams/*.png", 226, []string{"cams/z.png"}, ""},
		// names with wildcard characters that exist are used as they are
		{"alice", "/", "NLST a*b.txt", 226, []string{"a*b.txt"}, ""},
		{"alice", "/", `NLST a\*b.txt`, 226, []string{"a*b.txt"}, ""},
		{"alice", "/", "NLST a?b.txt", 226, []string{"a*b.txt", "aXb.txt"}, ""},
		{"alice", "/", "NLST star*", 226, []string{"star*/inner.mp4"}, ""},
		{"alice", "/", "NLST star*/*.mp4", 226, []string{"star*/inner.mp4"}, ""},
		// patterns only in the last component, and only for LIST and NLST
		{"alice", "/", "NLST */x.jpg", 450, nil, "no such file or directory"},
		{"alice", "/", "NLST c*/*.jpg", 450, nil, "no such file or directory"},
		{"alice", "/", "NLST nodir/*.jpg", 450, nil, "no such file or directory"},
		{"alice", "/", "NLST note.txt/*", 450, nil, ""},
		{"alice", "/", "NLST clip[1.mp4", 450, nil, "no such file or directory"},
		{"alice", "/", "MLSD *.mp4", 550, nil, "no such file or directory"},
		{"alice", "/", "RETR *.mp4", 550, nil, "no such file or directory"},
		{"alice", "/", "CWD c*", 550, nil, "no such file or directory"},
		// the jail: alice2 sees only alice2/, whatever the pattern says
		{"alice2", "/", "NLST ../*", 226, []string{"own.mp4", "sub"}, ""},
		{"alice2", "/", "NLST /../../*.mp4", 226, []string{"own.mp4"}, ""},
		{"alice2", "/", "NLST /*/../*", 226, []string{"own.mp4", "sub"}, ""},
		{"alice2", "/sub", "NLST ../../*", 226, []string{"../own.mp4", "../sub"}, ""},
		{"alice2", "/", "LIST ../alice/*", 450, nil, "no such file or directory"},
		{"alice2", "/", "NLST ../alice*/*", 450, nil, "no such file or directory"},
		{"alice2", "/", "NLST ..*", 226, []string{}, ""},
		// permissions: as for a listing
		{"reader", "/", "NLST *.mp4", 226, []string{"clip1.mp4", "clip2.mp4"}, ""},
		{"cam", "/", "NLST *.jpg", 450, nil, "permission denied"},
		{"cam", "/", "NLST", 450, nil, "permission denied"},
	} {
		t.Run(c.user+" "+c.cwd+" "+c.command, func(t *testing.T) {
			r := sessions[c.user]
			r.t = t
			r.cmd(250, "CWD %s", c.cwd)
			code, text, lines := rawList(r, c.command)
			if code != c.code || !strings.Contains(text, c.text) {
				t.Fatalf("%s: %d %s; want %d with %q", c.command, code, text, c.code, c.text)
			}
			got := lines
			if strings.HasPrefix(c.command, "LIST") {
				got = listedNames(lines)
			}
			slices.Sort(got)
			if code == 226 && !slices.Equal(got, c.want) {
				t.Errorf("%s listed %q, want %q", c.command, got, c.want)
			}
			r.cmd(200, "NOOP") // the session goes on
		})
	}
}

// TestListPatternsLegacyCharset: a client that sends windows-1252 names
// gets its pattern matched against the stored UTF-8 names and NLST's names
// back in its charset, directory part included.
func TestListPatternsLegacyCharset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{LegacyCharset: "windows-1252"}})
	for _, key := range []string{"alice/café/résumé.pdf", "alice/café/rapport.pdf", "alice/café/résumé.txt"} {
		e.put(t, key, []byte("data"))
	}
	r := rawDial(t, e.addr, "")
	r.login("alice")
	code, text, lines := rawList(r, "NLST caf\xe9/r\xe9*")
	if want := []string{"caf\xe9/r\xe9sum\xe9.pdf", "caf\xe9/r\xe9sum\xe9.txt"}; code != 226 || !slices.Equal(lines, want) {
		t.Errorf("NLST caf\\xe9/r\\xe9*: %d %s %q, want 226 %q", code, text, lines, want)
	}
}
