package devices

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParseTestdata: every transcript parses and declares what it uses.
func TestParseTestdata(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if len(files) < 4 {
		t.Fatalf("%d transcripts in testdata, want at least 4", len(files))
	}
	for _, file := range files {
		s := parseFile(t, file)
		if len(s.Steps) == 0 {
			t.Errorf("%s: no steps", file)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	const src = `# a comment
serve --idle-timeout 2s
user upload,mkdir
payload a.jpg jpeg 64KiB
payload b.pdf pdf 12MiB seed 7

connect
< 220
> STOR caf\xe9 {i}.jpg
< 550|553 ~ Not Allowed
repeat 3 as n {
  > EPSV
  < 2xx
  send a.jpg[1KiB:2KiB]
  send b.pdf over 1s
  repeat 2 {
    reset
  }
}
recv
data has "x y" z
data count 2
data ~ Type=file
data = a.jpg
sleep 50ms
eof
expect object "/d/b c.pdf" = b.pdf[:5]
expect absent /x
expect dir /d
expect files /d = a "b c"
expect count /d 3
`
	s, err := Parse("t.txt", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Serve, []string{"--idle-timeout", "2s"}) || s.Permissions != "upload,mkdir" {
		t.Errorf("settings: serve %q, user %q", s.Serve, s.Permissions)
	}
	if t2, err := Parse("t.txt", strings.NewReader("  > STOR a.jpg  \r\n")); err != nil || t2.Steps[0] != (sendStep{line: 1, cmd: "STOR a.jpg  "}) {
		t.Errorf("a command keeps its trailing blanks: %#v, %v", t2, err)
	}
	if p := s.Payloads["b.pdf"]; p != (Payload{Name: "b.pdf", Kind: "pdf", Size: 12 << 20, Seed: 7}) {
		t.Errorf("payload b.pdf = %+v", p)
	}
	want := []Step{
		connectStep{line: 7},
		replyStep{line: 8, codes: []string{"220"}},
		sendStep{line: 9, cmd: "STOR caf\xe9 {i}.jpg"},
		replyStep{line: 10, codes: []string{"550", "553"}, contains: "Not Allowed"},
		repeatStep{line: 11, n: 3, name: "n", steps: []Step{
			sendStep{line: 12, cmd: "EPSV"},
			replyStep{line: 13, codes: []string{"2xx"}},
			dataSendStep{line: 14, ref: PayloadRef{Name: "a.jpg", From: 1024, To: 2048}},
			dataSendStep{line: 15, ref: PayloadRef{Name: "b.pdf", To: -1}, over: time.Second},
			repeatStep{line: 16, n: 2, name: "i", steps: []Step{dataCloseStep{line: 17, reset: true}}},
		}},
		dataRecvStep{line: 20},
		dataCheckStep{line: 21, what: "has", names: []string{"x y", "z"}},
		dataCheckStep{line: 22, what: "count", n: 2},
		dataCheckStep{line: 23, what: "contains", text: "Type=file"},
		dataCheckStep{line: 24, what: "equals", ref: PayloadRef{Name: "a.jpg", To: -1}},
		sleepStep{line: 25, d: 50 * time.Millisecond},
		eofStep{line: 26},
		expectStep{line: 27, what: "object", path: "/d/b c.pdf", ref: PayloadRef{Name: "b.pdf", To: 5}},
		expectStep{line: 28, what: "absent", path: "/x"},
		expectStep{line: 29, what: "dir", path: "/d"},
		expectStep{line: 30, what: "files", path: "/d", names: []string{"a", "b c"}},
		expectStep{line: 31, what: "count", path: "/d", n: 3},
	}
	if !reflect.DeepEqual(s.Steps, want) {
		t.Errorf("steps:\n got %#v\nwant %#v", s.Steps, want)
	}
}

// TestParseErrors: a mistake in a transcript is reported with its line.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, want string }{
		{"< 22", "t.txt:1: reply"},
		{"< 226 ~ ", "t.txt:1: reply: empty text"},
		{"< 650", "t.txt:1: reply"},
		{"\nfrobnicate", "t.txt:2: unknown line"},
		{"sleep 1h", "t.txt:1: sleep"},
		{"payload a jpeg 1KiB\npayload a jpeg 2KiB", "t.txt:2: payload a declared twice"},
		{"payload a gif 1KiB", "unknown kind"},
		{"payload a jpeg 65MiB", "t.txt:1: payload: size"},
		{"payload empty bin 1", "reserved"},
		{"send nothing", "t.txt:1: payload \"nothing\" is not declared"},
		{"payload a bin 10\nsend a[5:20]", "t.txt:2: range [5:20] is outside payload a"},
		{"repeat 3 {\n> NOOP", "t.txt:1: repeat block not closed"},
		{"repeat 0 {\n}", "repeat count"},
		{"repeat 1 {\nuser all\n}", "t.txt:2: user is a setting"},
		{"}", "} without repeat"},
		{`> STOR a\xZZ`, "two hex digits"},
		{"repeat 2 as port {\n}", "placeholder name"},
		{"expect object /a", "t.txt:1: expect"},
		{"expect count /a many", "not a count"},
		{`data has "unterminated`, "data has"},
		{"close now", "close takes no argument"},
		{"user upload, mkdir", "user:"},
	} {
		_, err := Parse("t.txt", strings.NewReader(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.src, err, c.want)
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	got, err := fields(`a "b c" "caf\u00e9" "x\xe9"  d`)
	want := []string{"a", "b c", "café", "x\xe9", "d"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %q, %v; want %q", got, err, want)
	}
	if _, err := fields(`"a"b`); err == nil {
		t.Errorf(`fields("a"b) succeeded`)
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:           "plain",
		`Entr\xe9e`:       "Entr\xe9e",
		`a\\xe9`:          `a\xe9`,
		`C:\dir\file`:     `C:\dir\file`,
		`\xC3\xA9t\xc3`:   "\xc3\xa9t\xc3",
		`trailing \`:      `trailing \`,
		`Prüfstand µ.csv`: "Prüfstand µ.csv",
	} {
		if got, err := unescape(in); err != nil || got != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"0": 0, "123": 123, "64KiB": 64 << 10, "12MiB": 12 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1GB", "KiB", "1.5MiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}
