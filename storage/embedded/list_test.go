package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rclone/gofakes3"
)

// listKeys are stored for the listing tests. Byte order differs from the
// order of a directory walk: "a-b" < "a/" < "a/b" < "a0".
var listKeys = []string{
	"A-upper", "a-b", "a/", "a/b", "a/c-d", "a/c/", "a/c/d", "a/c0", "a0",
	"sp ace/f", "x.txt", "x/y-z", "x/y/z", "z/", "~tilde", "é/ü",
}

// entry is a key or (prefix true) a common prefix of a listing.
type entry struct {
	name   string
	prefix bool
}

// reference lists keys as S3 does, all pages together.
func reference(keys []string, prefix, delim, marker string) []entry {
	keys = slices.Sorted(slices.Values(keys))
	var out []entry
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) || k <= marker {
			continue
		}
		if i := strings.Index(k[len(prefix):], delim); delim != "" && i >= 0 {
			cp := k[:len(prefix)+i+len(delim)]
			if cp <= marker || (len(out) > 0 && out[len(out)-1].name == cp) {
				continue
			}
			out = append(out, entry{cp, true})
			continue
		}
		out = append(out, entry{k, false})
	}
	return out
}

// fillBucket stores keys in bucket with the Backend, in parallel.
func fillBucket(t testing.TB, b *Backend, bucket string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range work {
				data := []byte(k)
				if strings.HasSuffix(k, "/") {
					data = nil
				}
				mustPut(t, b, bucket, k, data)
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
}

func TestListBucketPages(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	fillBucket(t, b, "bkt", listKeys)
	// Empty directories nobody wrote a marker for are never listed.
	for _, d := range []string{"ghost/empty", "a/c/hollow", "x/y/hollow/deeper"} {
		if err := b.root.MkdirAll("bkt/"+d, dirPerm); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"", "a", "a/", "a/c", "a/c/", "x/", "x/y", "z/", "nope/", "a-", "../", "a//", "é"} {
		for _, delim := range []string{"", "/", "-"} {
			for _, max := range []int64{1, 2, 3, 0} {
				want := reference(listKeys, prefix, delim, "")
				t.Run(fmt.Sprintf("prefix=%q,delim=%q,max=%d", prefix, delim, max), func(t *testing.T) {
					t.Parallel()
					p := gofakes3.NewPrefix(&prefix, &delim)
					if delim == "" {
						p.HasDelimiter = false
					}
					var got []entry
					page := gofakes3.ListBucketPage{MaxKeys: max}
					for i := 0; ; i++ {
						out, err := b.ListBucket(ctx(t), "bkt", &p, page)
						if err != nil {
							t.Fatalf("ListBucket: %v", err)
						}
						entries := pageEntries(out)
						if max > 0 && int64(len(entries)) > max {
							t.Fatalf("page %d has %d entries, more than %d", i, len(entries), max)
						}
						got = append(got, entries...)
						if !out.IsTruncated {
							break
						}
						if len(entries) == 0 || out.NextMarker != entries[len(entries)-1].name {
							t.Fatalf("page %d: NextMarker %q after %v", i, out.NextMarker, entries)
						}
						page.Marker, page.HasMarker = out.NextMarker, true
						if i > len(listKeys) {
							t.Fatal("listing does not end")
						}
					}
					if !slices.Equal(got, want) {
						t.Errorf("got  %v\nwant %v", got, want)
					}
				})
			}
		}
	}
}

// pageEntries returns the keys and common prefixes of out in order.
func pageEntries(out *gofakes3.ObjectList) []entry {
	var es []entry
	for _, c := range out.Contents {
		es = append(es, entry{c.Key, false})
	}
	for _, p := range out.CommonPrefixes {
		es = append(es, entry{p.Prefix, true})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return es
}

func TestListObjectsOverHTTP(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	c := client(s, whenSupported)
	bucket := "listing"
	if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	fillBucket(t, s.backend, bucket, listKeys)
	tests := []struct {
		prefix, delim, startAfter string
		max                       int32
	}{
		{"", "/", "", 2},
		{"a/", "/", "", 1},
		{"a/", "", "", 3},
		{"", "", "a/c-d", 4},
		{"x", "/", "", 1000},
		{"a/b/", "/", "", 1000},  // under a file: no keys, not an error
		{"x.txt/", "", "", 1000}, // the same without a delimiter
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q,%q,%q,%d", tc.prefix, tc.delim, tc.startAfter, tc.max), func(t *testing.T) {
			t.Parallel()
			in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &tc.prefix, MaxKeys: &tc.max}
			if tc.delim != "" {
				in.Delimiter = &tc.delim
			}
			if tc.startAfter != "" {
				in.StartAfter = &tc.startAfter
			}
			var got []entry
			for p := s3.NewListObjectsV2Paginator(c, in); p.HasMorePages(); {
				out, err := p.NextPage(ctx(t))
				if err != nil {
					t.Fatalf("ListObjectsV2: %v", err)
				}
				for _, o := range out.Contents {
					got = append(got, entry{aws.ToString(o.Key), false})
					if aws.ToString(o.ETag) == "" || o.LastModified == nil {
						t.Errorf("%s has no ETag or LastModified", aws.ToString(o.Key))
					}
				}
				for _, cp := range out.CommonPrefixes {
					got = append(got, entry{aws.ToString(cp.Prefix), true})
				}
			}
			slices.SortFunc(got, func(a, b entry) int { return strings.Compare(a.name, b.name) })
			if want := reference(listKeys, tc.prefix, tc.delim, tc.startAfter); !slices.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

func TestListObjectsV2Pagination2500(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	c := client(s, whenRequired)
	bucket := "many"
	if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("d%d/k%04d", i%3, i))
	}
	fillBucket(t, s.backend, bucket, keys)
	slices.Sort(keys)

	var got []string
	var sizes []int
	for p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, MaxKeys: aws.Int32(1000)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		sizes = append(sizes, len(out.Contents))
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if !slices.Equal(sizes, []int{1000, 1000, 500}) {
		t.Errorf("page sizes %v, want [1000 1000 500]", sizes)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("listed %d keys, not the %d stored in order", len(got), len(keys))
	}
}

func TestDelimiterListingReadsOneDirectory(t *testing.T) {
	t.Parallel()
	var warnings atomic.Int64
	b, err := NewBackend(t.TempDir(), slog.New(countingHandler{&warnings}), BackendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.CreateBucket(ctx(t), "bkt"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "bkt", "deep/top", []byte("t"))
	mustPut(t, b, "bkt", "deep/er/f", []byte("f"))
	// A damaged record is noticed (with a warning) only by what reads it.
	if err := b.root.WriteFile(recordPath("bkt", "deep/er/f"), []byte("{damaged"), filePerm); err != nil {
		t.Fatal(err)
	}
	slash := "/"
	for _, prefix := range []string{"", "deep/"} {
		p := gofakes3.NewPrefix(&prefix, &slash)
		if _, err := b.ListBucket(ctx(t), "bkt", &p, gofakes3.ListBucketPage{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := warnings.Load(); n != 0 {
		t.Fatalf("a \"/\" listing read a record below the directory listed (%d warnings)", n)
	}
	out, err := b.ListBucket(ctx(t), "bkt", nil, gofakes3.ListBucketPage{})
	if err != nil || len(out.Contents) != 2 {
		t.Fatalf("full listing = %v, %v", out, err)
	}
	if warnings.Load() == 0 {
		t.Fatal("the full listing did not read the damaged record")
	}
}

// countingHandler counts the warnings logged.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

func TestReadDirSortedOrder(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	for _, f := range []string{"b", "a0", "a-b"} {
		if err := b.root.WriteFile("bkt/"+f, nil, filePerm); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a", "a."} {
		if err := b.root.Mkdir("bkt/"+d, dirPerm); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := readDirSorted(b, "bkt")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		name := e.name
		if e.dir {
			name += "/"
		}
		got = append(got, name)
	}
	// As keys: "a-b" < "a./..." < "a/..." < "a0" < "b"
	if want := []string{"a-b", "a./", "a/", "a0", "b"}; !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}
