package gateway

import (
	"io/fs"
	"testing"
	"time"
)

type nameInfo string

func (n nameInfo) Name() string       { return string(n) }
func (n nameInfo) Size() int64        { return 0 }
func (n nameInfo) Mode() fs.FileMode  { return 0o644 }
func (n nameInfo) ModTime() time.Time { return time.Time{} }
func (n nameInfo) IsDir() bool        { return false }
func (n nameInfo) Sys() any           { return nil }

func TestCharset(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		charset, in, want string
	}{
		{"windows-1252", "r\xe9sum\xe9 \x80.pdf", "résumé €.pdf"},
		{"latin1", "caf\xe9", "café"}, // an alias of windows-1252 in WHATWG
		{"iso-8859-15", "\xa4uro", "€uro"},
		{"shift_jis", "\x83J\x83\x81\x83\x89.jpg", "カメラ.jpg"},
		{"windows-1252", "already UTF-8 é", "already UTF-8 é"},
	} {
		cs, err := newCharset(c.charset)
		if err != nil {
			t.Fatal(err)
		}
		n := &names{cs: cs}
		if got := n.decode(c.in); got != c.want {
			t.Errorf("%s: decode(%q) = %q, want %q", c.charset, c.in, got, c.want)
		}
		if listed := n.listing([]fs.FileInfo{nameInfo(c.want)})[0].Name(); listed != c.in && n.legacy.Load() {
			t.Errorf("%s: listing name %q, want %q back", c.charset, listed, c.in)
		}
	}
	n := &names{}
	if got := n.decode("bad \xe9"); got != "bad \xe9" {
		t.Errorf("without a charset, names pass unchanged: %q", got)
	}
	var none *names
	if got := none.decode("x\xe9"); got != "x\xe9" || len(none.listing([]fs.FileInfo{nameInfo("a")})) != 1 {
		t.Errorf("a nil *names must pass names through")
	}
	if _, err := newCharset("klingon"); err == nil {
		t.Errorf("unknown charset accepted")
	}
	cs, _ := newCharset("windows-1252")
	fresh := &names{cs: cs}
	if got := fresh.listing([]fs.FileInfo{nameInfo("é")})[0].Name(); got != "é" {
		t.Errorf("a session that sent no legacy name got %q", got)
	}
	fresh.decode("\xe9")
	if got := fresh.listing([]fs.FileInfo{nameInfo("日本")})[0].Name(); got != "??" {
		t.Errorf("unrepresentable name = %q, want ??", got)
	}
}
