package devices

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertRecording converts a real capture (Python ftplib against the
// gateway: FEAT, PORT and PASV transfers, a multi-line MLST reply, a
// Latin-1 name, two sessions) and compares it with the reviewed draft.
func TestConvertRecording(t *testing.T) {
	t.Parallel()
	in, err := os.Open(filepath.Join("testdata", "tshark", "ftplib-session.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	if err := Convert(in, &out, 2121); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "tshark", "ftplib-session.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("draft differs from testdata/tshark/ftplib-session.txt:\n%s", out.String())
	}
	if _, err := Parse("draft.txt", &out); err != nil {
		t.Errorf("the draft does not parse: %v", err)
	}
}

// TestConvertSegments: lines split over segments are joined, several lines
// in one segment are split, multi-line replies give one reply step, and
// bytes that are not UTF-8 come out as \xNN.
func TestConvertSegments(t *testing.T) {
	t.Parallel()
	seg := func(stream, port, s string) string {
		return stream + "\t" + port + "\t" + hex.EncodeToString([]byte(s)) + "\n"
	}
	in := seg("7", "21", "220 hi\r\n") +
		seg("7", "40000", "USER ca") + seg("7", "40000", "m\r\n") +
		seg("7", "21", "331 pw\r\n") +
		seg("7", "40000", "PASS hunter2\r\n") +
		seg("7", "21", "230-Welcome\r\n second line\r\n230 ok\r\n") +
		seg("7", "40000", "EPRT |1|192.168.1.64|50000|\r\nSTOR caf\xe9 C:\\x.jpg\r\n") +
		seg("7", "21", "200 ok\r\n150 go\r\n226 done\r\n") +
		seg("7", "40000", "noop \r\nTYPE I \r\n") +
		seg("7", "21", "200 ok\r\n200 ok\r\n") +
		seg("7", "40000", "QUIT\r\n") +
		seg("7", "21", "221 bye\r\n")
	var out bytes.Buffer
	if err := Convert(strings.NewReader(in), &out, 21); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"connect\n< 220\n> USER {user}\n< 331\n> PASS {password}\n< 230\n> EPRT {eprt}\n> STOR caf\\xe9 C:\\\\x.jpg\n< 200\n< 150\nsend upload1.jpg\nclose\n< 226\n> noop\\x20\n> TYPE I\\x20\n< 200\n< 200\n> QUIT\n< 221\neof\n",
		"payload upload1.jpg jpeg 64KiB\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("draft lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2") || strings.Contains(got, "192.168") {
		t.Errorf("the draft keeps the password or the device's address:\n%s", got)
	}
	s, err := Parse("draft.txt", strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := s.Steps[7].(sendStep); !ok || st.cmd != "STOR caf\xe9 C:\\x.jpg" {
		t.Errorf("step 7 is %#v, want the STOR command with its bytes", s.Steps[7])
	}
	for _, bad := range []string{"1\t21\n", "1\tx\t00\n", "1\t21\tzz\n"} {
		if err := Convert(strings.NewReader(bad), &out, 21); err == nil {
			t.Errorf("Convert(%q) succeeded", bad)
		}
	}
	if err := Convert(strings.NewReader(""), &out, 21); err == nil {
		t.Errorf("Convert of nothing succeeded")
	}
}
