package embedded

import (
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rclone/gofakes3"
)

func TestObjectPath(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 255)
	tests := []struct {
		key    string
		rel    string
		marker bool
		code   gofakes3.ErrorCode
	}{
		{key: "a", rel: "bkt/a"},
		{key: "a/b/c.txt", rel: "bkt/a/b/c.txt"},
		{key: "a/b/", rel: "bkt/a/b", marker: true},
		{key: ".hidden/..x/x..", rel: "bkt/.hidden/..x/x.."},
		{key: "sp ace/ünï/%2F", rel: "bkt/sp ace/ünï/%2F"},
		{key: long, rel: "bkt/" + long},
		{key: "", code: gofakes3.ErrInvalidArgument},
		{key: "/", code: gofakes3.ErrInvalidArgument},
		{key: "/a", code: gofakes3.ErrInvalidArgument},
		{key: "a//b", code: gofakes3.ErrInvalidArgument},
		{key: "a//", code: gofakes3.ErrInvalidArgument},
		{key: ".", code: gofakes3.ErrInvalidArgument},
		{key: "..", code: gofakes3.ErrInvalidArgument},
		{key: "../x", code: gofakes3.ErrInvalidArgument},
		{key: "a/../../x", code: gofakes3.ErrInvalidArgument},
		{key: "a/./", code: gofakes3.ErrInvalidArgument},
		{key: "a/\x00", code: gofakes3.ErrInvalidArgument},
		{key: long + "x", code: gofakes3.ErrInvalidArgument},
		{key: strings.Repeat("a/", 513), code: gofakes3.ErrKeyTooLong},
	}
	for _, tc := range tests {
		rel, marker, err := objectPath("bkt", tc.key)
		if code := errCode(err); code != tc.code || rel != tc.rel || marker != tc.marker {
			t.Errorf("objectPath(%.40q) = %q, %v, %v; want %q, %v, %s", tc.key, rel, marker, err, tc.rel, tc.marker, tc.code)
		}
	}
}

func TestRecordPath(t *testing.T) {
	t.Parallel()
	a, b := recordPath("bkt", "a"), recordPath("bkt", "a/")
	if a == b || !strings.HasPrefix(a, metaDir+"/bkt/") || !strings.HasSuffix(a, ".json") {
		t.Errorf("recordPath = %q, %q", a, b)
	}
	if long := recordPath("bkt", strings.Repeat("x/", 500)); len(path.Base(long)) > maxSegment {
		t.Errorf("record name too long: %q", long)
	}
}

// FuzzKeyPath checks that a key objectPath accepts maps to a clean path
// strictly inside the bucket's directory, from which the key can be read
// back, and that a key it refuses is refused with an S3 error.
func FuzzKeyPath(f *testing.F) {
	for _, k := range []string{
		"a", "a/b", "a/b/", "../x", "a/../../x", "a//b", "/a", "./a", "a/.", "a/..",
		"\x00", "a\\..\\b", "..\\..\\x", strings.Repeat("y", 256), "é/ü/", "a/b/c/d/e/f/",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		rel, marker, err := objectPath("bkt", key)
		if err != nil {
			if c := errCode(err); c != gofakes3.ErrInvalidArgument && c != gofakes3.ErrKeyTooLong {
				t.Fatalf("objectPath(%q): %v is not an S3 error", key, err)
			}
			return
		}
		if path.Clean(rel) != rel || !strings.HasPrefix(rel, "bkt/") || len(rel) <= len("bkt/") {
			t.Fatalf("objectPath(%q) = %q: not a clean path in the bucket", key, rel)
		}
		if !filepath.IsLocal(rel) {
			t.Fatalf("objectPath(%q) = %q: not local", key, rel)
		}
		dir := filepath.Join("/data", "bkt")
		if full := filepath.Join("/data", rel); !strings.HasPrefix(full, dir+string(filepath.Separator)) {
			t.Fatalf("objectPath(%q) = %q: %q is outside %q", key, rel, full, dir)
		}
		for seg := range strings.SplitSeq(rel, "/") {
			if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegment || strings.ContainsRune(seg, 0) {
				t.Fatalf("objectPath(%q) = %q: bad segment %q", key, rel, seg)
			}
		}
		back := strings.TrimPrefix(rel, "bkt/")
		if marker {
			back += "/"
		}
		if back != key {
			t.Fatalf("objectPath(%q) = %q, %v: maps back to %q", key, rel, marker, back)
		}
	})
}

func TestParentDir(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"bkt/a/b": "bkt/a", "bkt/a": "bkt", "bkt": ""} {
		if got := parentDir(in); got != want {
			t.Errorf("parentDir(%q) = %q, want %q", in, got, want)
		}
	}
}
