package embedded

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rclone/gofakes3"
)

// recordingDisk does every operation on the disk it wraps and records, in
// order, those that succeed: "create F", "write F" (consecutive writes to
// one file are one), "fsync F" (a file or a directory), "mkdir D",
// "rename F G", "link F G", "remove F". Temporary files are named tmp1, tmp2... in the
// order they appear, the directory of the (one) multipart upload "upload",
// and the data directory ".".
type recordingDisk struct {
	disk
	mu   sync.Mutex
	ops  []string
	tmps map[string]string
}

// recordOps makes b's disk record its operations from now on.
func recordOps(b *Backend) *recordingDisk {
	r := &recordingDisk{disk: b.disk, tmps: map[string]string{}}
	b.disk = r
	return r
}

// recorded returns the operations recorded so far.
func (r *recordingDisk) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// add records the operation op on names, unless err says it failed.
func (r *recordingDisk) add(err error, op string, names ...string) {
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		op += " " + r.name(n)
	}
	if strings.HasPrefix(op, "write ") && len(r.ops) > 0 && r.ops[len(r.ops)-1] == op {
		return
	}
	r.ops = append(r.ops, op)
}

// name returns how the operations show the path p.
func (r *recordingDisk) name(p string) string {
	switch {
	case p == "":
		return "."
	case strings.HasPrefix(p, tmpDir+"/"):
		if _, ok := r.tmps[p]; !ok {
			r.tmps[p] = fmt.Sprintf("tmp%d", len(r.tmps)+1)
		}
		return r.tmps[p]
	case strings.HasPrefix(p, uploadsDir+"/"):
		_, rest, _ := strings.Cut(strings.TrimPrefix(p, uploadsDir+"/"), "/")
		return "upload/" + rest
	}
	return p
}

// Create implements disk.
func (r *recordingDisk) Create(name string) (diskFile, error) {
	f, err := r.disk.Create(name)
	r.add(err, "create", name)
	if err != nil {
		return nil, err
	}
	return &recordingFile{diskFile: f, r: r, name: name}, nil
}

// Mkdir implements disk.
func (r *recordingDisk) Mkdir(name string) error {
	err := r.disk.Mkdir(name)
	r.add(err, "mkdir", name)
	return err
}

// Rename implements disk.
func (r *recordingDisk) Rename(oldname, newname string) error {
	err := r.disk.Rename(oldname, newname)
	r.add(err, "rename", oldname, newname)
	return err
}

// Link implements disk.
func (r *recordingDisk) Link(oldname, newname string) error {
	err := r.disk.Link(oldname, newname)
	r.add(err, "link", oldname, newname)
	return err
}

// Remove implements disk.
func (r *recordingDisk) Remove(name string) error {
	err := r.disk.Remove(name)
	r.add(err, "remove", name)
	return err
}

// Sync implements disk.
func (r *recordingDisk) Sync(name string) error {
	err := r.disk.Sync(name)
	r.add(err, "fsync", name)
	return err
}

// recordingFile is a file of a recordingDisk.
type recordingFile struct {
	diskFile
	r    *recordingDisk
	name string
}

// Write implements io.Writer.
func (f *recordingFile) Write(p []byte) (int, error) {
	n, err := f.diskFile.Write(p)
	f.r.add(err, "write", f.name)
	return n, err
}

// ReadFrom implements io.ReaderFrom.
func (f *recordingFile) ReadFrom(src io.Reader) (int64, error) {
	n, err := f.diskFile.ReadFrom(src)
	f.r.add(err, "write", f.name)
	return n, err
}

// opsPart is a stretch of the operations a test expects: in this order,
// or, if concurrent, in any order (they run at once).
type opsPart struct {
	ops        []string
	concurrent bool
}

// inOrder expects ops one after the other.
func inOrder(ops ...string) opsPart { return opsPart{ops: ops} }

// atOnce expects ops in any order.
func atOnce(ops ...string) opsPart { return opsPart{ops: ops, concurrent: true} }

// matchOps reports whether got is the operations of want, part after part.
func matchOps(got []string, want []opsPart) bool {
	for _, p := range want {
		if len(got) < len(p.ops) {
			return false
		}
		chunk, want := got[:len(p.ops)], p.ops
		if p.concurrent {
			chunk, want = slices.Sorted(slices.Values(chunk)), slices.Sorted(slices.Values(want))
		}
		if !slices.Equal(chunk, want) {
			return false
		}
		got = got[len(p.ops):]
	}
	return len(got) == 0
}

// withoutFsync returns want without its fsyncs, as NoSync does it.
func withoutFsync(want []opsPart) []opsPart {
	var out []opsPart
	for _, p := range want {
		ops := slices.DeleteFunc(slices.Clone(p.ops), func(op string) bool { return strings.HasPrefix(op, "fsync ") })
		if len(ops) > 0 {
			out = append(out, opsPart{ops: ops, concurrent: p.concurrent})
		}
	}
	return out
}

// durabilityViolations checks operations against the rules that make a
// change survive a power cut, whatever the expected sequence says: a file
// renamed into place was fsynced after it was last written and before the
// rename; the directory receiving a rename, and the parent of a new
// directory, are fsynced after. Multipart parts are exempt (see
// createUpload).
func durabilityViolations(ops []string) []string {
	var bad []string
	fsyncAfter := func(name string, i int) bool {
		return slices.Contains(ops[i+1:], "fsync "+name)
	}
	parent := func(name string) string { return dirName(parentDir(name)) }
	for i, op := range ops {
		f := strings.Fields(op)
		switch {
		case f[0] == "rename" && !strings.HasPrefix(f[2], "upload/"):
			written, synced := -1, -1
			for j, o := range ops[:i] {
				switch {
				case o == "write "+f[1] || strings.HasPrefix(o, "link ") && strings.HasSuffix(o, " "+f[1]):
					written = j
				case o == "fsync "+f[1]:
					synced = j
				}
			}
			if written < 0 || synced < written {
				bad = append(bad, fmt.Sprintf("%q: %s not fsynced after it was written, before the rename", op, f[1]))
			}
			if !fsyncAfter(parent(f[2]), i) {
				bad = append(bad, fmt.Sprintf("%q: directory %s not fsynced after", op, parent(f[2])))
			}
		case f[0] == "mkdir" && !strings.HasPrefix(f[1], "upload"):
			if !fsyncAfter(parent(f[1]), i) {
				bad = append(bad, fmt.Sprintf("%q: parent %s not fsynced after", op, parent(f[1])))
			}
		}
	}
	return bad
}

// TestOrderOfOperations checks, for every change the store makes, that
// what is renamed into place was written and fsynced before, and that the
// directories whose entries changed (the one receiving the rename, the
// parents of new directories, the one losing a deleted key) are fsynced
// after, before the request returns; and that NoSync leaves out every
// fsync and nothing else. The sequences are complete: an extra or a
// missing operation fails the test. Fsyncs run at once (see syncAll), so
// their order among themselves is free.
func TestOrderOfOperations(t *testing.T) {
	t.Parallel()
	rec := func(key string) string { return recordPath("bkt", key) }
	recDir := func(key string) string { return parentDir(recordPath("bkt", key)) }
	const metaBkt = metaDir + "/bkt"
	part1, part2 := []byte("the first part "), []byte("the second part")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, b *Backend) gofakes3.UploadID // before recording; returns the upload of the case, if any
		op    func(t *testing.T, b *Backend, id gofakes3.UploadID)
		want  []opsPart
	}{{
		name: "object in new directories",
		op:   func(t *testing.T, b *Backend, _ gofakes3.UploadID) { mustPut(t, b, "bkt", "a/b/c.jpg", []byte("jpeg")) },
		want: []opsPart{
			inOrder("create tmp1", "write tmp1", "create tmp2", "write tmp2"), // the object, its record
			atOnce("fsync tmp1", "fsync tmp2"),
			inOrder("mkdir bkt/a", "mkdir bkt/a/b", "rename tmp1 bkt/a/b/c.jpg",
				"mkdir "+metaBkt, "mkdir "+recDir("a/b/c.jpg"), "rename tmp2 "+rec("a/b/c.jpg")),
			atOnce("fsync bkt/a/b", "fsync bkt/a", "fsync bkt", "fsync "+recDir("a/b/c.jpg"), "fsync "+metaBkt, "fsync "+metaDir),
		},
	}, {
		name:  "object replaced",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID { mustPut(t, b, "bkt", "k", []byte("old")); return "" },
		op:    func(t *testing.T, b *Backend, _ gofakes3.UploadID) { mustPut(t, b, "bkt", "k", []byte("new")) },
		want: []opsPart{
			inOrder("create tmp1", "write tmp1", "create tmp2", "write tmp2"),
			atOnce("fsync tmp1", "fsync tmp2"),
			inOrder("rename tmp1 bkt/k", "rename tmp2 "+rec("k")),
			atOnce("fsync bkt", "fsync "+recDir("k")),
		},
	}, {
		name: "directory marker",
		op:   func(t *testing.T, b *Backend, _ gofakes3.UploadID) { mustPut(t, b, "bkt", "d/e/", nil) },
		want: []opsPart{
			inOrder("create tmp1", "write tmp1", "fsync tmp1", // its record
				"mkdir bkt/d", "mkdir bkt/d/e", "mkdir "+metaBkt, "mkdir "+recDir("d/e/"), "rename tmp1 "+rec("d/e/")),
			atOnce("fsync bkt/d", "fsync bkt", "fsync "+recDir("d/e/"), "fsync "+metaBkt, "fsync "+metaDir),
		},
	}, {
		name: "copy (hard link)",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID {
			mustPut(t, b, "bkt", "src", []byte("data"))
			return ""
		},
		op: func(t *testing.T, b *Backend, _ gofakes3.UploadID) {
			if _, err := b.CopyObject(ctx(t), "bkt", "src", "bkt", "dst/x", map[string]string{}); err != nil {
				t.Fatal(err)
			}
		},
		want: []opsPart{
			inOrder("link bkt/src tmp1", "create tmp2", "write tmp2"),
			atOnce("fsync tmp1", "fsync tmp2"),
			inOrder("mkdir bkt/dst", "rename tmp1 bkt/dst/x", "mkdir "+recDir("dst/x"), "rename tmp2 "+rec("dst/x")),
			atOnce("fsync bkt/dst", "fsync bkt", "fsync "+recDir("dst/x"), "fsync "+metaBkt),
		},
	}, {
		name:  "multipart part: not synced, uploads do not outlive a restart",
		setup: createUpload,
		op: func(t *testing.T, b *Backend, id gofakes3.UploadID) {
			if _, err := b.UploadPart(ctx(t), "bkt", "m/obj", id, 1, int64(len(part1)), bytes.NewReader(part1)); err != nil {
				t.Fatal(err)
			}
		},
		want: []opsPart{inOrder("create tmp1", "write tmp1", "rename tmp1 upload/"+partName(1, md5Hex(part1)))},
	}, {
		name: "multipart completion",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID {
			id := createUpload(t, b)
			for n, p := range [][]byte{part1, part2} {
				if _, err := b.UploadPart(ctx(t), "bkt", "m/obj", id, n+1, int64(len(p)), bytes.NewReader(p)); err != nil {
					t.Fatal(err)
				}
			}
			return id
		},
		op: func(t *testing.T, b *Backend, id gofakes3.UploadID) {
			parts := []gofakes3.CompletedPart{{PartNumber: 1, ETag: md5Hex(part1)}, {PartNumber: 2, ETag: md5Hex(part2)}}
			if _, _, err := b.CompleteMultipartUpload(ctx(t), "bkt", "m/obj", id, &gofakes3.CompleteMultipartUploadRequest{Parts: parts}); err != nil {
				t.Fatal(err)
			}
		},
		want: []opsPart{
			inOrder("create tmp1", "write tmp1", "create tmp2", "write tmp2"), // the parts concatenated, the record
			atOnce("fsync tmp1", "fsync tmp2"),
			inOrder("mkdir bkt/m", "rename tmp1 bkt/m/obj", "mkdir "+metaBkt, "mkdir "+recDir("m/obj"), "rename tmp2 "+rec("m/obj")),
			atOnce("fsync bkt/m", "fsync bkt", "fsync "+recDir("m/obj"), "fsync "+metaBkt, "fsync "+metaDir),
		},
	}, {
		name: "record of a file without one",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID {
			mustPut(t, b, "bkt", "k", []byte("data"))
			if err := os.Remove(filepath.Join(b.root.Name(), rec("k"))); err != nil {
				t.Fatal(err)
			}
			return ""
		},
		op:   func(t *testing.T, b *Backend, _ gofakes3.UploadID) { readObject(t, b, "bkt", "k") },
		want: []opsPart{inOrder("create tmp1", "write tmp1", "fsync tmp1", "rename tmp1 "+rec("k"), "fsync "+recDir("k"))},
	}, {
		name: "delete",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID {
			mustPut(t, b, "bkt", "a/k", []byte("data"))
			return ""
		},
		op: func(t *testing.T, b *Backend, _ gofakes3.UploadID) {
			if _, err := b.DeleteObject(ctx(t), "bkt", "a/k"); err != nil {
				t.Fatal(err)
			}
		},
		want: []opsPart{inOrder("remove bkt/a/k", "remove "+rec("a/k"), "fsync bkt/a",
			"remove bkt/a")}, // left empty; need not last: empty directories are not listed
	}, {
		name:  "delete a directory marker",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID { mustPut(t, b, "bkt", "d/", nil); return "" },
		op: func(t *testing.T, b *Backend, _ gofakes3.UploadID) {
			if _, err := b.DeleteObject(ctx(t), "bkt", "d/"); err != nil {
				t.Fatal(err)
			}
		},
		want: []opsPart{inOrder("remove "+rec("d/"), "remove bkt/d",
			"fsync "+recDir("d/"))}, // a directory without its record is no marker
	}, {
		name: "bucket",
		op: func(t *testing.T, b *Backend, _ gofakes3.UploadID) {
			if err := b.CreateBucket(ctx(t), "new"); err != nil {
				t.Fatal(err)
			}
		},
		want: []opsPart{inOrder("mkdir new", "fsync .")},
	}} {
		for _, noSync := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/NoSync=%v", tc.name, noSync), func(t *testing.T) {
				t.Parallel()
				b := newTestBackendWith(t, BackendOptions{NoSync: noSync})
				var id gofakes3.UploadID
				if tc.setup != nil {
					id = tc.setup(t, b)
				}
				r := recordOps(b)
				tc.op(t, b, id)
				got, want := r.recorded(), tc.want
				if noSync {
					want = withoutFsync(want)
				} else {
					for _, v := range durabilityViolations(got) {
						t.Error(v)
					}
				}
				if !matchOps(got, want) {
					var w []string
					for _, p := range want {
						w = append(w, strings.Join(p.ops, "\n  "))
					}
					t.Errorf("operations:\n  %s\nwant (fsyncs in a group in any order):\n  %s", strings.Join(got, "\n  "), strings.Join(w, "\n  --\n  "))
				}
			})
		}
	}
}

// createUpload starts the multipart upload of "m/obj" in "bkt".
func createUpload(t *testing.T, b *Backend) gofakes3.UploadID {
	t.Helper()
	id, err := b.CreateMultipartUpload(ctx(t), "bkt", "m/obj", nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
