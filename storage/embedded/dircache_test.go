package embedded

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rclone/gofakes3"
)

// listPages lists bucket bkt's directory d/ with delimiter "/" in pages of
// max keys, as ListObjectsV2 with continuation tokens does, and returns
// every key, checking that no page is larger than max.
func listPages(t *testing.T, b *Backend, max int64, between func(page int)) []string {
	t.Helper()
	p := gofakes3.Prefix{Prefix: "d/", HasPrefix: true, Delimiter: "/", HasDelimiter: true}
	page := gofakes3.ListBucketPage{MaxKeys: max}
	var keys []string
	for n := 0; n < 100; n++ {
		out, err := b.ListBucket(ctx(t), "bkt", &p, page)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(out.Contents)+len(out.CommonPrefixes)) > max {
			t.Fatalf("page of %d entries, want at most %d", len(out.Contents)+len(out.CommonPrefixes), max)
		}
		for _, c := range out.Contents {
			keys = append(keys, c.Key)
		}
		if !out.IsTruncated {
			return keys
		}
		page.Marker, page.HasMarker = out.NextMarker, true
		if between != nil {
			between(n)
		}
	}
	t.Fatal("more than 100 pages")
	return nil
}

// TestListPagesReadDirectoryOnce: a directory of 3,000 objects listed in
// pages of 500 is read from disk once, not once per page; a file created
// between two pages changes the directory, which is read again, and the
// file is listed.
func TestListPagesReadDirectoryOnce(t *testing.T) {
	t.Parallel()
	b := newTestBackendWith(t, BackendOptions{NoSync: true})
	if err := b.root.Mkdir("bkt/d", dirPerm); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 3000 {
		key := fmt.Sprintf("d/f%05d", i)
		if err := b.root.WriteFile("bkt/"+key, nil, filePerm); err != nil {
			t.Fatal(err)
		}
		want = append(want, key)
	}
	// a directory unchanged for an hour (one changed within racyWindow is
	// never cached)
	old := time.Now().Add(-time.Hour)
	if err := b.root.Chtimes("bkt/d", old, old); err != nil {
		t.Fatal(err)
	}
	reads := func() int {
		b.dirs.mu.Lock()
		defer b.dirs.mu.Unlock()
		return b.dirs.reads
	}

	before := reads()
	if got := listPages(t, b, 500, nil); !slices.Equal(got, want) {
		t.Fatalf("listed %d keys, want %d", len(got), len(want))
	}
	if n := reads() - before; n != 1 {
		t.Errorf("6 pages read the directory %d times, want once", n)
	}

	before = reads()
	got := listPages(t, b, 500, func(page int) {
		if page == 2 {
			mustPut(t, b, "bkt", "d/f99999", nil)
		}
	})
	if !slices.Equal(got, append(want, "d/f99999")) {
		t.Errorf("listed %d keys, want %d with the one created during the listing", len(got), len(want)+1)
	}
	if n := reads() - before; n < 2 {
		t.Errorf("the directory was read %d times, want again after it changed", n)
	}
}
