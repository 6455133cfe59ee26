package reliability

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// escapes are paths that try to leave the user's prefix, each aimed at
// bob/, alice2/ or the bucket's root; where a file name is needed it names
// the victim's file.
var escapes = []string{
	"..", "../", "../bob", "../bob/", "../bob/secret.txt", "../../bob/secret.txt",
	"/../bob/secret.txt", "/bob/secret.txt", "bob/../../bob/secret.txt", "./../bob/secret.txt",
	"../alice2", "../alice2/secret.txt", "/../alice2/secret.txt", "../secret.txt", "/../secret.txt",
	"%2e%2e/bob/secret.txt", "..%2fbob%2fsecret.txt", "%2e%2e%2fbob%2fsecret.txt",
	`..\bob\secret.txt`, `\..\bob\secret.txt`, `..\..\bob\secret.txt`,
	"~bob/secret.txt", "~/../bob/secret.txt", "~alice2/secret.txt",
	"....//bob/secret.txt", "..../bob/secret.txt", ".../bob/secret.txt", "..;/bob/secret.txt",
	"\xc0\xae\xc0\xae/bob/secret.txt", "\xc0\xaf../bob/secret.txt", "\xe0\x80\xae\xe0\x80\xae/bob/secret.txt",
	"\xff\xfe/../bob/secret.txt", "../bob/secret.txt\x00", "x\x00/../../bob/secret.txt",
	"../bob/secret.txt\rx", "//bob/secret.txt", "///../bob/secret.txt",
	strings.Repeat("a", 256), strings.Repeat("a", 256) + "/../../bob/secret.txt",
	strings.Repeat("abcdefghi/", 110), strings.Repeat("../", 200) + "bob/secret.txt",
}

// victims are the objects of the other users and of the bucket's root,
// each with a size nobody else has, so no reply may show it.
var victims = map[string]string{
	"bob/secret.txt":    strings.Repeat("SECRET-bob ", 701),
	"alice2/secret.txt": strings.Repeat("SECRET-alice2 ", 503),
	"secret.txt":        strings.Repeat("SECRET-root ", 607),
	"bob/dir/keep.txt":  "SECRET-bob-dir",
}

// jailStep is one way of reaching a path: cmd is the command sent (with
// %s for the path), data how its data connection is used.
type jailStep struct {
	cmd  string
	data string // "": no data connection; "in": client sends; "out": client reads
	pre  string // a command sent first ("" for none), %s for the path
}

// jailCommands are every FTP command that takes a path.
var jailCommands = []jailStep{
	{cmd: "CWD %s"}, {cmd: "XCWD %s"}, {cmd: "SIZE %s"}, {cmd: "MDTM %s"}, {cmd: "MLST %s"}, {cmd: "STAT %s"},
	{cmd: "DELE %s"}, {cmd: "MKD %s"}, {cmd: "XMKD %s"}, {cmd: "RMD %s"}, {cmd: "XRMD %s"},
	{cmd: "HASH %s"}, {cmd: "XCRC %s"}, {cmd: "MD5 %s"}, {cmd: "XSHA256 %s"},
	{cmd: "MFMT 20200101000000 %s"}, {cmd: "SITE CHMOD 777 %s"}, {cmd: "SITE RMDIR %s"}, {cmd: "SITE MKDIR %s"},
	{cmd: "SITE SYMLINK mine.txt %s"}, {cmd: "RNTO mine.txt", pre: "RNFR %s"}, {cmd: "RNTO %s", pre: "RNFR mine.txt"},
	{cmd: "RETR %s", data: "out"}, {cmd: "LIST %s", data: "out"}, {cmd: "NLST %s", data: "out"}, {cmd: "MLSD %s", data: "out"},
	{cmd: "STOR %s", data: "in"}, {cmd: "APPE %s", data: "in"}, {cmd: "STOR %s", data: "in", pre: "REST 5"},
}

// TestJail sends every path-taking command with every escaping path, as
// alice (prefix alice/) sharing a bucket with bob and with alice2 (whose
// prefix starts with hers), directly and after a CWD to the path with a
// relative name: no reply or data shows another user's file, and the
// bucket outside alice/ (keys and ETags) is unchanged.
func TestJail(t *testing.T) {
	t.Parallel()
	e := startUsers(t, s3test.Fake(t), []string{"alice", "bob", "alice2"})
	ctx := context.Background()
	for key, body := range victims {
		if _, err := e.Direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.Bucket, Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.Bucket, Key: aws.String("alice/mine.txt"), Body: strings.NewReader("alice's own")}); err != nil {
		t.Fatal(err)
	}
	// What may not appear in anything alice is sent.
	var leaks []string
	for _, body := range victims {
		s := sha256.Sum256([]byte(body))
		m := md5.Sum([]byte(body))
		leaks = append(leaks, "SECRET-", hex.EncodeToString(s[:]), hex.EncodeToString(m[:]), fmt.Sprintf(" %d", len(body)))
	}
	outside := func() map[string]object {
		all := e.objects(t)
		maps.DeleteFunc(all, func(k string, _ object) bool { return strings.HasPrefix(k, "alice/") })
		return all
	}
	before := outside()

	c := rawDial(t, e.Addr, "")
	c.login("alice", e.Pass)
	c.must("TYPE I", 200)
	cases, refused := 0, 0
	check := func(what, got string) {
		t.Helper()
		for _, l := range leaks {
			if strings.Contains(got, l) {
				t.Errorf("%q: %q shows another user's file (%q)", what, oneLine(got), l)
			}
		}
	}
	run := func(step jailStep, path string) {
		t.Helper()
		cases++
		line := step.cmd
		if strings.Contains(line, "%s") {
			line = fmt.Sprintf(step.cmd, path)
		}
		if step.pre != "" {
			_, msg := c.send(fmt.Sprintf(step.pre, path))
			check(step.pre, msg)
		}
		var data net.Conn
		if step.data != "" {
			var err error
			if data, err = net.Dial("tcp", c.pasv()); err != nil {
				t.Fatalf("data connection: %v", err)
			}
			defer data.Close()
		}
		code, msg := c.send(line)
		if code == 0 {
			t.Fatalf("%q: the gateway closed the session: %s", line, msg)
		}
		check(line, msg)
		if preliminary(code) && data != nil {
			switch step.data {
			case "in":
				io.WriteString(data, "written by alice")
			case "out":
				_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
				got, _ := io.ReadAll(data)
				check(line+" (data)", string(got))
			}
			data.Close()
			code, msg = c.read()
			check(line, msg)
		}
		if code >= 400 {
			refused++
		}
		// Back to a known state: the root, no pending RNFR or REST.
		c.send("CWD /")
	}
	for _, path := range escapes {
		for _, step := range jailCommands {
			run(step, path)
		}
		// Via CWD to the path, then relative names.
		c.send("CWD " + path)
		for _, step := range []jailStep{{cmd: "RETR secret.txt", data: "out"}, {cmd: "STOR secret.txt", data: "in"}, {cmd: "DELE secret.txt"},
			{cmd: "LIST", data: "out"}, {cmd: "SIZE secret.txt"}, {cmd: "RNTO /mine2.txt", pre: "RNFR secret.txt"}, {cmd: "HASH secret.txt"}} {
			c.send("CWD " + path)
			run(step, "")
		}
	}
	if code, msg := c.send("NOOP"); code != 200 {
		t.Fatalf("session after the matrix: %d %s", code, msg)
	}
	after := outside()
	if !maps.Equal(before, after) {
		t.Errorf("the bucket outside alice/ changed:\nbefore %v\nafter  %v", before, after)
	}
	var inside []string
	for k := range e.objects(t) {
		if strings.HasPrefix(k, "alice/") {
			inside = append(inside, k)
		}
	}
	figure(t, "jail: %d escaping paths x %d path commands, direct and via CWD: %d commands, %d refused, the rest confined to alice/ (%d keys there); bucket outside alice/ unchanged (%d keys, ETags equal): %v",
		len(escapes), len(jailCommands), cases, refused, len(inside), len(after), maps.Equal(before, after))
}
