package storage

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestJailKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		prefix, name, key string
		err               error
	}{
		{"demo/", "/a.txt", "demo/a.txt", nil},
		{"demo", "a.txt", "demo/a.txt", nil},
		{"/demo/x/", "/d/e/f", "demo/x/d/e/f", nil},
		{"", "/a", "a", nil},
		{"demo/", "/../../etc/passwd", "demo/etc/passwd", nil},
		{"demo/", "..", "", ErrInvalidName},
		{"demo/", "/", "", ErrInvalidName},
		{"demo/", "//a//b/", "demo/a/b", nil},
		{"demo/", "./a/./b/../c", "demo/a/c", nil},
		{"demo/", "/%2e%2e/x", "demo/%2e%2e/x", nil}, // no decoding: a literal name
		{"demo/", "/a\\..\\b", "demo/a\\..\\b", nil}, // backslash is an ordinary character
		{"demo/", "/nul\x00", "", ErrInvalidName},
		{"demo/", "/tab\tname", "", ErrInvalidName},
		{"demo/", "/\xff\xfe", "", ErrInvalidName},
		{"demo/", "/" + strings.Repeat("a", 1019), "demo/" + strings.Repeat("a", 1019), nil},
		{"demo/", "/" + strings.Repeat("a", 1020), "", ErrNameTooLong},
		{"demo/", "/ünï cødé.jpg", "demo/ünï cødé.jpg", nil},
	} {
		j := newJail(c.prefix)
		key, err := j.key(c.name)
		if !errors.Is(err, c.err) || key != c.key {
			t.Errorf("jail(%q).key(%q) = %q, %v; want %q, %v", c.prefix, c.name, key, err, c.key, c.err)
		}
	}
}

func TestJailDirPrefixAndName(t *testing.T) {
	t.Parallel()
	j := newJail("u/")
	for _, c := range []struct{ name, prefix string }{
		{"/", "u/"}, {"", "u/"}, {"/..", "u/"}, {"/a", "u/a/"}, {"a/b/", "u/a/b/"},
	} {
		p, err := j.dirPrefix(c.name)
		if err != nil || p != c.prefix {
			t.Errorf("dirPrefix(%q) = %q, %v; want %q", c.name, p, err, c.prefix)
		}
	}
	for _, c := range []struct{ key, name string }{{"u/a", "/a"}, {"u/a/b/", "/a/b"}, {"u/", "/"}} {
		if got := j.name(c.key); got != c.name {
			t.Errorf("name(%q) = %q, want %q", c.key, got, c.name)
		}
	}
}

// FuzzJailKey checks the jail property: whatever the client sends, a key is
// either refused or lies under the prefix, with no empty, "." or ".."
// segment after it, valid UTF-8 and no control characters.
func FuzzJailKey(f *testing.F) {
	for _, s := range []string{"/a", "..", "../../x", "/a/../../b", "//", "./", "%2e%2e/", "a\x00b", "\xff", "a/./b/"} {
		f.Add("user/", s)
	}
	f.Add("", "/../x")
	f.Add("a/b", "../../c")
	f.Fuzz(func(t *testing.T, prefix, name string) {
		j := newJail(prefix)
		for _, seg := range strings.Split(strings.TrimSuffix(j.prefix, "/"), "/") {
			if j.prefix != "" && (seg == "" || seg == "." || seg == "..") {
				t.Fatalf("prefix %q normalized to %q", prefix, j.prefix)
			}
		}
		check := func(what, k string) {
			if !strings.HasPrefix(k, j.prefix) {
				t.Fatalf("%s(%q) = %q outside prefix %q", what, name, k, j.prefix)
			}
			rest := strings.TrimSuffix(strings.TrimPrefix(k, j.prefix), "/")
			if rest == "" {
				return
			}
			for _, seg := range strings.Split(rest, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("%s(%q) = %q has segment %q", what, name, k, seg)
				}
			}
			if !utf8.ValidString(rest) || strings.ContainsFunc(rest, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("%s(%q) = %q has a bad character", what, name, k)
			}
			if len(k) > MaxKeyBytes {
				t.Fatalf("%s(%q) is %d bytes", what, name, len(k))
			}
		}
		if k, err := j.key(name); err == nil {
			check("key", k)
			if k == j.prefix {
				t.Fatalf("key(%q) is the prefix itself", name)
			}
		}
		if k, err := j.dirPrefix(name); err == nil {
			check("dirPrefix", k)
		}
	})
}
