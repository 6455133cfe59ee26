package gateway

import (
	"io/fs"
	"slices"
	"testing"
)

// TestParseListPattern: which arguments are patterns, which directory they
// list (always inside the root: ".." is resolved first) and which entries
// they keep.
func TestParseListPattern(t *testing.T) {
	t.Parallel()
	entries := []string{"clip1.mp4", "clip2.mp4", "clip10.mp4", "note.txt", "a*b.txt", "aXb.txt", "..dots", "[x]", "-la x"}
	for _, c := range []struct {
		arg  string
		dir  string
		keep []string // nil: not a pattern
	}{
		{"*.mp4", "/", []string{"clip1.mp4", "clip2.mp4", "clip10.mp4"}},
		{"/cams/*.mp4", "/cams", []string{"clip1.mp4", "clip2.mp4", "clip10.mp4"}},
		{"cams/sub/clip?.mp4", "/cams/sub", []string{"clip1.mp4", "clip2.mp4"}},
		{"clip[12].mp4", "/", []string{"clip1.mp4", "clip2.mp4"}},
		{"clip[!1].mp4", "/", []string{"clip2.mp4"}},
		{"clip[^1].mp4", "/", []string{"clip2.mp4"}},
		{"clip[0-9][0-9].mp4", "/", []string{"clip10.mp4"}},
		{"*", "/", entries},
		{"*.none", "/", []string{}},
		{"a*b.txt", "/", []string{"a*b.txt", "aXb.txt"}},
		{`a\*b.txt`, "/", []string{"a*b.txt"}},                        // quoted: only the literal star
		{`\[x]`, "/", []string{"[x]"}},                                // a quoted [ is no class
		{`\[!x]`, "/", []string{}},                                    // nor is it negated
		{"[[]x]", "/", []string{"[x]"}},                               // [ inside a class
		{"..*", "/", []string{"..dots"}},                              // a pattern, not a parent
		{"../*.txt", "/", []string{"note.txt", "a*b.txt", "aXb.txt"}}, // .. stops at the root
		{"/*/../*.txt", "/", []string{"note.txt", "a*b.txt", "aXb.txt"}},
		{"../../../etc/*", "/etc", []string{"clip1.mp4", "clip2.mp4", "clip10.mp4", "note.txt", "a*b.txt", "aXb.txt", "..dots", "[x]", "-la x"}},
		{"cams/../*.txt", "/", []string{"note.txt", "a*b.txt", "aXb.txt"}},
		{"star*/", "/", []string{}}, // the trailing slash is cleaned away
		// not patterns
		{"note.txt", "", nil},
		{"/", "", nil},
		{"", "", nil},
		{"cams", "", nil},
		{"*/clip1.mp4", "", nil}, // only the last component is a pattern
		{"star*/x", "", nil},
		{"[", "", nil}, // malformed: a plain name
		{"clip[1.mp4", "", nil},
		{"*[", "", nil},
		{`*\`, "", nil},
		{"a]b", "", nil},
	} {
		p, ok := parseListPattern(c.arg)
		if ok != (c.keep != nil) {
			t.Errorf("%q: pattern = %v, want %v", c.arg, ok, c.keep != nil)
			continue
		}
		if !ok {
			continue
		}
		if p.dir != c.dir {
			t.Errorf("%q: directory %q, want %q", c.arg, p.dir, c.dir)
		}
		page := make([]fs.FileInfo, len(entries))
		for i, e := range entries {
			page[i] = nameInfo(e)
		}
		var got []string
		for _, fi := range p.filter(page) {
			got = append(got, fi.Name())
		}
		if !slices.Equal(got, c.keep) && len(got)+len(c.keep) > 0 {
			t.Errorf("%q keeps %q, want %q", c.arg, got, c.keep)
		}
	}
}

// TestListPatternFilterNil: without a pattern a listing page goes through
// unchanged.
func TestListPatternFilterNil(t *testing.T) {
	t.Parallel()
	page := []fs.FileInfo{nameInfo("b"), nameInfo("a")}
	var p *listPattern
	if got := p.filter(page); len(got) != 2 || got[0].Name() != "b" || got[1].Name() != "a" {
		t.Errorf("nil pattern filtered the page to %v", got)
	}
}
