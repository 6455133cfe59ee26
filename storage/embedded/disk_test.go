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
// one file are one), "fsync F", "mkdir D", "rename F G", "link F G",
// "remove F", "fsync-dir D". Temporary files are named tmp1, tmp2... in the
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

// SyncDir implements disk.
func (r *recordingDisk) SyncDir(name string) error {
	err := r.disk.SyncDir(name)
	r.add(err, "fsync-dir", name)
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

// Sync implements diskFile.
func (f *recordingFile) Sync() error {
	err := f.diskFile.Sync()
	f.r.add(err, "fsync", f.name)
	return err
}

// TestOrderOfOperations checks, for every change the store makes, that
// what is renamed into place was written and fsynced before, and that the
// directories whose entries changed (the one receiving the rename, the
// parents of new directories, the one losing a deleted key) are fsynced
// after, before the request returns; and that NoSync leaves out every
// fsync and nothing else. The sequences are complete: an extra or a
// missing operation fails the test.
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
		want  []string
	}{{
		name: "object in new directories",
		op:   func(t *testing.T, b *Backend, _ gofakes3.UploadID) { mustPut(t, b, "bkt", "a/b/c.jpg", []byte("jpeg")) },
		want: []string{
			"create tmp1", "write tmp1", "fsync tmp1", // the object
			"create tmp2", "write tmp2", "fsync tmp2", // its record
			"mkdir bkt/a", "mkdir bkt/a/b",
			"rename tmp1 bkt/a/b/c.jpg",
			"mkdir " + metaBkt, "mkdir " + recDir("a/b/c.jpg"),
			"rename tmp2 " + rec("a/b/c.jpg"),
			"fsync-dir bkt/a/b", "fsync-dir bkt/a", "fsync-dir bkt",
			"fsync-dir " + recDir("a/b/c.jpg"), "fsync-dir " + metaBkt, "fsync-dir " + metaDir,
		},
	}, {
		name:  "object replaced",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID { mustPut(t, b, "bkt", "k", []byte("old")); return "" },
		op:    func(t *testing.T, b *Backend, _ gofakes3.UploadID) { mustPut(t, b, "bkt", "k", []byte("new")) },
		want: []string{
			"create tmp1", "write tmp1", "fsync tmp1",
			"create tmp2", "write tmp2", "fsync tmp2",
			"rename tmp1 bkt/k", "rename tmp2 " + rec("k"),
			"fsync-dir bkt", "fsync-dir " + recDir("k"),
		},
	}, {
		name: "directory marker",
		op:   func(t *testing.T, b *Backend, _ gofakes3.UploadID) { mustPut(t, b, "bkt", "d/e/", nil) },
		want: []string{
			"create tmp1", "write tmp1", "fsync tmp1", // its record
			"mkdir bkt/d", "mkdir bkt/d/e",
			"mkdir " + metaBkt, "mkdir " + recDir("d/e/"),
			"rename tmp1 " + rec("d/e/"),
			"fsync-dir bkt/d", "fsync-dir bkt",
			"fsync-dir " + recDir("d/e/"), "fsync-dir " + metaBkt, "fsync-dir " + metaDir,
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
		want: []string{
			"link bkt/src tmp1",
			"create tmp2", "write tmp2", "fsync tmp2",
			"mkdir bkt/dst",
			"rename tmp1 bkt/dst/x",
			"mkdir " + recDir("dst/x"),
			"rename tmp2 " + rec("dst/x"),
			"fsync-dir bkt/dst", "fsync-dir bkt",
			"fsync-dir " + recDir("dst/x"), "fsync-dir " + metaBkt,
		},
	}, {
		name:  "multipart part: not synced, uploads do not outlive a restart",
		setup: createUpload,
		op: func(t *testing.T, b *Backend, id gofakes3.UploadID) {
			if _, err := b.UploadPart(ctx(t), "bkt", "m/obj", id, 1, int64(len(part1)), bytes.NewReader(part1)); err != nil {
				t.Fatal(err)
			}
		},
		want: []string{"create tmp1", "write tmp1", "rename tmp1 upload/" + partName(1, md5Hex(part1))},
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
		want: []string{
			"create tmp1", "write tmp1", "fsync tmp1", // the parts, concatenated
			"create tmp2", "write tmp2", "fsync tmp2",
			"mkdir bkt/m",
			"rename tmp1 bkt/m/obj",
			"mkdir " + metaBkt, "mkdir " + recDir("m/obj"),
			"rename tmp2 " + rec("m/obj"),
			"fsync-dir bkt/m", "fsync-dir bkt",
			"fsync-dir " + recDir("m/obj"), "fsync-dir " + metaBkt, "fsync-dir " + metaDir,
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
		op: func(t *testing.T, b *Backend, _ gofakes3.UploadID) { readObject(t, b, "bkt", "k") },
		want: []string{
			"create tmp1", "write tmp1", "fsync tmp1",
			"rename tmp1 " + rec("k"),
			"fsync-dir " + recDir("k"),
		},
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
		want: []string{
			"remove bkt/a/k", "remove " + rec("a/k"),
			"fsync-dir bkt/a",
			"remove bkt/a", // left empty (need not last: empty directories are not listed)
		},
	}, {
		name:  "delete a directory marker",
		setup: func(t *testing.T, b *Backend) gofakes3.UploadID { mustPut(t, b, "bkt", "d/", nil); return "" },
		op: func(t *testing.T, b *Backend, _ gofakes3.UploadID) {
			if _, err := b.DeleteObject(ctx(t), "bkt", "d/"); err != nil {
				t.Fatal(err)
			}
		},
		want: []string{
			"remove " + rec("d/"), "remove bkt/d",
			"fsync-dir " + recDir("d/"), // a directory without its record is no marker
		},
	}, {
		name: "bucket",
		op: func(t *testing.T, b *Backend, _ gofakes3.UploadID) {
			if err := b.CreateBucket(ctx(t), "new"); err != nil {
				t.Fatal(err)
			}
		},
		want: []string{"mkdir new", "fsync-dir ."},
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
				want := tc.want
				if noSync {
					want = slices.DeleteFunc(slices.Clone(want), func(op string) bool { return strings.HasPrefix(op, "fsync") })
				}
				if got := r.recorded(); !slices.Equal(got, want) {
					t.Errorf("operations:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
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
