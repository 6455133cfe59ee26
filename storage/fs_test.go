package storage_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

const (
	writeFlags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	mib        = 1 << 20
)

// smallParts makes multipart uploads happen with little data.
var smallParts = storage.Settings{PartSize: 5 * mib, Concurrency: 2}

// allDigests keeps every digest storage can keep, with smallParts.
var allDigests = storage.Settings{PartSize: 5 * mib, Concurrency: 2, Digests: []string{storage.DigestSHA256, storage.DigestMD5, storage.DigestCRC32}}

// fsCase is one behaviour of the Fs, run against every S3 server and both
// checksum modes.
type fsCase struct {
	name string
	set  storage.Settings
	run  func(t *testing.T, e *env)
}

func TestFs(t *testing.T) {
	for _, srv := range s3test.All(t) {
		for _, mode := range []storage.ChecksumMode{storage.ChecksumsSupported, storage.ChecksumsRequired} {
			t.Run(srv.Name+"/"+string(mode), func(t *testing.T) {
				bucket := srv.NewBucket(t)
				for _, tc := range fsCases {
					t.Run(tc.name, func(t *testing.T) {
						t.Parallel()
						tc.run(t, newEnv(t, srv, bucket, mode, tc.set))
					})
				}
			})
		}
	}
}

var fsCases = []fsCase{
	{name: "small file is one PutObject", run: func(t *testing.T, e *env) {
		data := []byte("hello, scanner\n")
		e.rt.reset(nil)
		e.upload(t, "/scan.pdf", data)
		if got, want := e.rt.snapshot(), map[string]int{"PutObject": 1}; !reflect.DeepEqual(got, want) {
			t.Errorf("requests = %v, want %v", got, want)
		}
		got, err := e.object("scan.pdf")
		must(t, "get", err)
		if !bytes.Equal(got, data) {
			t.Errorf("stored %q, want %q", got, data)
		}
	}},
	{name: "an upload's result names what was stored", set: smallParts, run: func(t *testing.T, e *env) {
		for _, c := range []struct {
			name    string
			data    []byte
			flags   int
			digests bool // false: composed with the existing file, not all read
		}{
			{"/one.jpg", randBytes(1000), writeFlags, true},
			{"/parts.mp4", randBytes(11 * mib), writeFlags, true},
			{"/one.jpg", randBytes(10), os.O_WRONLY | os.O_APPEND, false},
		} {
			h, err := e.fs.Upload(c.name, c.flags, 0)
			must(t, "open", err)
			_, err = h.Write(c.data)
			must(t, "write", err)
			must(t, "close", h.Close())
			r := h.Result()
			fi, err := e.fs.Stat(c.name)
			must(t, "stat", err)
			if r.Key != e.prefix+strings.TrimPrefix(c.name, "/") || r.Size != fi.Size() {
				t.Errorf("%s: result %q, %d bytes; want %q, %d", c.name, r.Key, r.Size, e.prefix+c.name[1:], fi.Size())
			}
			want := map[crypto.Hash]string{crypto.SHA256: digest(crypto.SHA256, c.data), storage.CRC32: digest(storage.CRC32, c.data)}
			if !c.digests {
				want = nil
			}
			if !reflect.DeepEqual(r.Digests, want) {
				t.Errorf("%s: digests %v, want %v", c.name, r.Digests, want)
			}
		}
	}},
	{name: "empty file", run: func(t *testing.T, e *env) {
		e.upload(t, "/empty", nil)
		fi, err := e.fs.Stat("/empty")
		must(t, "stat", err)
		if fi.Size() != 0 || fi.IsDir() {
			t.Errorf("stat = size %d dir %v", fi.Size(), fi.IsDir())
		}
	}},
	{name: "exactly one part is one PutObject", set: smallParts, run: func(t *testing.T, e *env) {
		data := randBytes(5 * mib)
		e.rt.reset(nil)
		e.upload(t, "/one-part.bin", data)
		if got := e.rt.snapshot(); got["PutObject"] != 1 || got["CreateMultipartUpload"] != 0 {
			t.Errorf("requests = %v, want one PutObject", got)
		}
	}},
	{name: "large file is a multipart upload", set: smallParts, run: func(t *testing.T, e *env) {
		data := randBytes(17*mib + 12345)
		e.rt.reset(nil)
		e.upload(t, "/video/cam1.mp4", data)
		c := e.rt.snapshot()
		if c["CreateMultipartUpload"] != 1 || c["UploadPart"] != 4 || c["CompleteMultipartUpload"] != 1 || c["PutObject"] != 0 {
			t.Errorf("requests = %v, want 1 create, 4 parts, 1 complete", c)
		}
		got, err := e.object("video/cam1.mp4")
		must(t, "get", err)
		if sum(got) != sum(data) {
			t.Fatalf("stored object differs: %d bytes, want %d", len(got), len(data))
		}
		if got := e.download(t, "/video/cam1.mp4", 0); sum(got) != sum(data) {
			t.Errorf("download differs")
		}
		e.nothingAt(t, "none")
	}},
	{name: "download resumes at REST offset with a ranged GET", run: func(t *testing.T, e *env) {
		data := randBytes(100000)
		e.upload(t, "/f.bin", data)
		for _, off := range []int64{0, 1, 65536, 99999, 100000} {
			if got := e.download(t, "/f.bin", off); !bytes.Equal(got, data[off:]) {
				t.Errorf("offset %d: got %d bytes, want %d", off, len(got), len(data)-int(off))
			}
		}
		_, err := e.fs.Download("/f.bin", 100001)
		wantErr(t, "offset past end", err, fs.ErrInvalid)
		h, err := e.fs.Download("/f.bin", 10)
		must(t, "open", err)
		defer h.Close()
		if _, err := h.Seek(20, io.SeekStart); err == nil {
			t.Errorf("seek elsewhere than the REST offset succeeded")
		}
	}},
	{name: "download of missing file or directory fails before transfer", run: func(t *testing.T, e *env) {
		_, err := e.fs.Download("/nope", 0)
		wantErr(t, "missing", err, fs.ErrNotExist)
		must(t, "mkdir", e.fs.Mkdir("/d", 0o755))
		_, err = e.fs.Download("/d", 0)
		wantErr(t, "dir", err, storage.ErrIsDir)
	}},
	{name: "aborted upload leaves nothing", set: smallParts, run: func(t *testing.T, e *env) {
		for _, size := range []int{1000, 12 * mib} {
			h, err := e.fs.Upload("/partial.bin", writeFlags, 0)
			must(t, "open", err)
			_, err = h.Write(randBytes(size))
			must(t, "write", err)
			h.Abort(errors.New("connection reset by peer"))
			err = h.Close()
			wantErr(t, "close after TransferError", err, storage.ErrAborted)
			e.nothingAt(t, "partial.bin")
		}
	}},
	{name: "cancelled session aborts the upload", set: smallParts, run: func(t *testing.T, e *env) {
		h, err := e.fs.Upload("/partial.bin", writeFlags, 0)
		must(t, "open", err)
		_, err = h.Write(randBytes(11 * mib))
		must(t, "write", err)
		e.cancel()
		if err := h.Close(); err == nil {
			t.Fatal("close after session cancel succeeded")
		}
		e.nothingAt(t, "partial.bin")
	}},
	{name: "S3 failure of a part fails the upload and aborts it", set: smallParts, run: func(t *testing.T, e *env) {
		e.rt.reset(func(op string, n int) bool { return op == "UploadPart" && n >= 2 })
		err := writeThrough(e.fs, "/broken.bin", randBytes(16*mib))
		wantErr(t, "upload with failing part", err, storage.ErrBackend)
		e.rt.reset(nil)
		e.nothingAt(t, "broken.bin")
	}},
	{name: "S3 failure of the completion aborts it", set: smallParts, run: func(t *testing.T, e *env) {
		e.rt.reset(func(op string, _ int) bool { return op == "CompleteMultipartUpload" })
		err := writeThrough(e.fs, "/broken.bin", randBytes(11*mib))
		wantErr(t, "upload with failing completion", err, storage.ErrBackend)
		e.rt.reset(nil)
		e.nothingAt(t, "broken.bin")
	}},
	{name: "S3 refusals are the gateway's configuration, not the user's", set: smallParts, run: func(t *testing.T, e *env) {
		e.upload(t, "/f", []byte("f"))
		for _, a := range []s3Answer{{http.StatusForbidden, "AccessDenied"}, {http.StatusBadRequest, "InvalidArgument"}} {
			e.rt.refuse(a, func(op string, _ int) bool { return op != "HeadObject" })
			for what, err := range map[string]error{
				"mkdir":  e.fs.Mkdir("/d", 0o755),
				"rename": e.fs.Rename("/f", "/g"),
				"upload": writeThrough(e.fs, "/u", randBytes(6*mib)),
			} {
				wantErr(t, a.code+" "+what, err, storage.ErrRefused)
				wantErr(t, a.code+" "+what, err, storage.ErrBackend)
				if errors.Is(err, fs.ErrPermission) || errors.Is(err, storage.ErrInvalidName) {
					t.Errorf("%s %s: %v is the user's error", a.code, what, err)
				}
			}
		}
		e.rt.refuse(s3Answer{}, func(op string, _ int) bool { return op == "HeadObject" })
		_, err := e.fs.Stat("/f") // a HEAD answer has no body: 403 alone says it
		wantErr(t, "stat with HEAD refused", err, storage.ErrBackend)
		e.rt.refuse(s3Answer{http.StatusForbidden, "AccessDenied"}, func(op string, _ int) bool { return op == "HeadObject" })
		_, err = e.fs.Stat("/f")
		wantErr(t, "stat with HEAD forbidden", err, storage.ErrRefused)
		e.rt.reset(nil)
	}},
	{name: "overwrite replaces only on completion", set: smallParts, run: func(t *testing.T, e *env) {
		old := []byte("old content")
		e.upload(t, "/latest.jpg", old)
		h, err := e.fs.Upload("/latest.jpg", writeFlags, 0)
		must(t, "open", err)
		_, err = h.Write(randBytes(6 * mib))
		must(t, "write", err)
		if got, _ := e.object("latest.jpg"); !bytes.Equal(got, old) {
			t.Errorf("object changed before the upload completed")
		}
		h.Abort(errors.New("ABOR"))
		_ = h.Close()
		if got, _ := e.object("latest.jpg"); !bytes.Equal(got, old) {
			t.Errorf("aborted overwrite changed the object")
		}
		e.upload(t, "/latest.jpg", []byte("new"))
		if got, _ := e.object("latest.jpg"); string(got) != "new" {
			t.Errorf("object = %q after overwrite", got)
		}
	}},
	{name: "APPE and REST+STOR compose with the existing file", set: smallParts, run: func(t *testing.T, e *env) {
		storage.SetCopyLimits(e.svc, 6*mib, 5*mib)
		for _, c := range []struct {
			name     string
			existing int // bytes already there (-1: no file)
			offset   int64
			appe     bool
			more     int
		}{
			{"appe small", 1000, 0, true, 500},
			{"appe big", 11*mib + 7, 0, true, 6*mib + 3},  // prefix copied server-side in two parts
			{"appe nothing", 7 * mib, 0, true, 0},         // a copy of itself
			{"appe missing file", -1, 0, true, 300},       // created
			{"rest small", 1000, 400, false, 5000},        // the end is replaced
			{"rest big", 9 * mib, 6*mib + 1, false, 1000}, // prefix copied, rest replaced
			{"rest at end", 2000, 2000, false, 100},       // same as appending
		} {
			name := "/" + strings.ReplaceAll(c.name, " ", "-")
			var old []byte
			if c.existing >= 0 {
				old = randBytes(c.existing)
				e.upload(t, name, old)
			}
			keep := c.offset
			if c.appe {
				keep = int64(len(old))
			}
			more := randBytes(c.more)
			flags := os.O_WRONLY | os.O_CREATE
			if c.appe {
				flags |= os.O_APPEND
			}
			h, err := e.fs.Upload(name, flags, c.offset)
			must(t, c.name+": open", err)
			if c.offset != 0 {
				_, err := h.Seek(c.offset, io.SeekStart) // as ftpserverlib does after REST
				must(t, c.name+": seek", err)
			}
			_, err = h.Write(more)
			must(t, c.name+": write", err)
			must(t, c.name+": close", h.Close())
			want := append(append([]byte{}, old[:keep]...), more...)
			got, err := e.object(strings.TrimPrefix(name, "/"))
			must(t, c.name+": get", err)
			if sum(got) != sum(want) {
				t.Errorf("%s: object is %d bytes, want %d", c.name, len(got), len(want))
			}
		}
		e.nothingAt(t, "none")
		_, err := e.fs.Upload("/rest-small", os.O_WRONLY|os.O_CREATE, 1_000_000)
		wantErr(t, "REST past the end", err, fs.ErrInvalid)
		_, err = e.fs.Upload("/missing", os.O_WRONLY|os.O_CREATE, 10)
		wantErr(t, "REST on a missing file", err, fs.ErrInvalid)
	}},
	{name: "APPE and REST+STOR never overwrite a file changed meanwhile, and an aborted one changes nothing", set: smallParts, run: func(t *testing.T, e *env) {
		for _, c := range []struct {
			name       string
			size, more int
			offset     int64 // REST offset; 0: APPE
		}{
			{"APPE, one PutObject", 1000, 100, 0},
			{"REST, one PutObject", 1000, 100, 500},
			{"APPE, kept bytes read, multipart", 1000, 6 * mib, 0},
			{"APPE, kept bytes copied, multipart", 7 * mib, 100, 0},
			{"REST, kept bytes copied, multipart", 7 * mib, 100, 6 * mib},
		} {
			old, more := randBytes(c.size), randBytes(c.more)
			e.upload(t, "/changing", old)
			flags := os.O_WRONLY | os.O_APPEND
			if c.offset > 0 {
				flags = os.O_WRONLY
			}
			h, err := e.fs.Upload("/changing", flags, c.offset)
			must(t, c.name+": open", err)
			e.put(t, "changing", []byte("replaced meanwhile"))
			_, _ = h.Write(more)
			// The commit (or a copy of a kept part) checks the ETag the
			// file had at open: the other writer's file stays.
			wantErr(t, c.name+": close", h.Close(), storage.ErrChanged)
			if got, _ := e.object("changing"); string(got) != "replaced meanwhile" {
				t.Errorf("%s: the file is %d bytes, not the other writer's", c.name, len(got))
			}
			e.nothingAt(t, "none")
			before, _ := e.object("changing")
			h, err = e.fs.Upload("/changing", os.O_WRONLY|os.O_APPEND, 0)
			must(t, "open", err)
			_, _ = h.Write(randBytes(100))
			h.Abort(errors.New("ABOR"))
			_ = h.Close()
			if after, _ := e.object("changing"); !bytes.Equal(after, before) {
				t.Errorf("%s: an aborted APPE changed the file", c.name)
			}
			e.nothingAt(t, "none")
		}
	}},
	{name: "HASH answers from stored digests or reads the object", set: allDigests, run: func(t *testing.T, e *env) {
		small, big := randBytes(100_000), randBytes(12*mib)
		e.upload(t, "/small.jpg", small)
		e.upload(t, "/big.mp4", big)
		for _, c := range []struct {
			name       string
			data       []byte
			algo       crypto.Hash
			start, end int64
			wantGet    bool
		}{
			{"/small.jpg", small, crypto.SHA256, 0, 100_000, false},
			{"/small.jpg", small, crypto.MD5, 0, 100_000, false},
			{"/small.jpg", small, storage.CRC32, 0, 100_000, false},
			{"/small.jpg", small, crypto.SHA1, 0, 100_000, true},
			{"/small.jpg", small, crypto.SHA256, 10, 5000, true},
			{"/big.mp4", big, crypto.SHA256, 0, 12 * mib, true},
			{"/big.mp4", big, crypto.SHA512, 0, 12 * mib, true},
		} {
			e.rt.reset(nil)
			got, err := e.fs.ComputeHash(c.name, c.algo, c.start, c.end)
			must(t, "hash", err)
			if want := digest(c.algo, c.data[c.start:c.end]); got != want {
				t.Errorf("%s algo %d [%d,%d) = %s, want %s", c.name, c.algo, c.start, c.end, got, want)
			}
			if gets := e.rt.snapshot()["GetObject"]; (gets > 0) != c.wantGet {
				t.Errorf("%s algo %d [%d,%d): %d GETs, want reading %v", c.name, c.algo, c.start, c.end, gets, c.wantGet)
			}
		}
		_, err := e.fs.ComputeHash("/small.jpg", crypto.SHA256, 0, 200_000)
		wantErr(t, "hash past the end", err, fs.ErrInvalid)
	}},
	{name: "only the configured digests are computed and kept", run: func(t *testing.T, e *env) {
		small := randBytes(100_000)
		h, err := e.fs.Upload("/small.jpg", writeFlags, 0)
		must(t, "upload", err)
		_, err = h.Write(small)
		must(t, "write", err)
		must(t, "close", h.Close())
		if got, want := h.Result().Digests, map[crypto.Hash]string{crypto.SHA256: digest(crypto.SHA256, small), storage.CRC32: digest(storage.CRC32, small)}; !maps.Equal(got, want) {
			t.Errorf("digests %v, want %v (the default: sha256 and crc32)", got, want)
		}
		for algo, wantGet := range map[crypto.Hash]bool{crypto.SHA256: false, storage.CRC32: false, crypto.MD5: true} {
			e.rt.reset(nil)
			got, err := e.fs.ComputeHash("/small.jpg", algo, 0, int64(len(small)))
			must(t, "hash", err)
			if want := digest(algo, small); got != want {
				t.Errorf("algo %d = %s, want %s", algo, got, want)
			}
			if gets := e.rt.snapshot()["GetObject"]; (gets > 0) != wantGet {
				t.Errorf("algo %d: %d GETs, want reading %v", algo, gets, wantGet)
			}
		}
	}},
	{name: "HASH of a multipart upload stored by copy", set: storage.Settings{PartSize: 5 * mib, MultipartHashes: storage.MultipartHashesCopy}, run: func(t *testing.T, e *env) {
		big := randBytes(11 * mib)
		e.upload(t, "/big.mp4", big)
		e.rt.reset(nil)
		got, err := e.fs.ComputeHash("/big.mp4", crypto.SHA256, 0, int64(len(big)))
		must(t, "hash", err)
		if got != digest(crypto.SHA256, big) {
			t.Errorf("sha256 = %s", got)
		}
		if gets := e.rt.snapshot()["GetObject"]; gets != 0 {
			t.Errorf("%d GETs: the digest was not stored", gets)
		}
		if back, _ := e.object("big.mp4"); sum(back) != sum(big) {
			t.Errorf("the copy changed the object")
		}
	}},
	{name: "stat files, markers, implied dirs", run: func(t *testing.T, e *env) {
		e.put(t, "file.txt", []byte("12345"))
		e.put(t, "marker/", nil)
		e.put(t, "implied/deep/x.jpg", []byte("x"))
		e.put(t, "filex", []byte("not a dir child"))
		for _, c := range []struct {
			name string
			dir  bool
			size int64
			err  error
		}{
			{"/", true, 0, nil},
			{"/file.txt", false, 5, nil},
			{"/marker", true, 0, nil},
			{"/implied", true, 0, nil},
			{"/implied/deep", true, 0, nil},
			{"/implied/deep/x.jpg", false, 1, nil},
			{"/file", false, 0, fs.ErrNotExist}, // "file" must not match "file.txt" or "filex"
			{"/nope", false, 0, fs.ErrNotExist},
			{"/implied/../file.txt", false, 5, nil},
			{"/../../file.txt", false, 5, nil},
		} {
			fi, err := e.fs.Stat(c.name)
			if c.err != nil {
				wantErr(t, "stat "+c.name, err, c.err)
				continue
			}
			must(t, "stat "+c.name, err)
			if fi.IsDir() != c.dir || fi.Size() != c.size {
				t.Errorf("stat %s = dir %v size %d, want dir %v size %d", c.name, fi.IsDir(), fi.Size(), c.dir, c.size)
			}
		}
	}},
	{name: "readdir lists one level, paged, markers hidden", set: storage.Settings{ListPageSize: 3}, run: func(t *testing.T, e *env) {
		for _, k := range []string{"d/", "d/a.txt", "d/b.txt", "d/c.txt", "d/sub/", "d/sub/x", "d/implied/y/z", "d/e f.txt", "d/ü.txt", "other.txt"} {
			e.put(t, k, content(k))
		}
		infos, err := e.fs.ReadDir("/d")
		must(t, "readdir", err)
		var got []string
		for _, fi := range infos {
			n := fi.Name()
			if fi.IsDir() {
				n += "/"
			}
			got = append(got, n)
		}
		want := []string{"a.txt", "b.txt", "c.txt", "e f.txt", "implied/", "sub/", "ü.txt"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("readdir = %v, want %v", got, want)
		}
		root, err := e.fs.ReadDir("/")
		must(t, "readdir /", err)
		if len(root) != 2 {
			t.Errorf("root has %d entries, want 2 (d/, other.txt)", len(root))
		}
		_, err = e.fs.ReadDir("/missing")
		wantErr(t, "readdir missing", err, fs.ErrNotExist)
		must(t, "mkdir", e.fs.Mkdir("/empty", 0o755))
		empty, err := e.fs.ReadDir("/empty")
		must(t, "readdir empty", err)
		if len(empty) != 0 {
			t.Errorf("empty dir lists %d entries", len(empty))
		}
	}},
	{name: "readdir of a big directory pages through", set: storage.Settings{ListPageSize: 100}, run: func(t *testing.T, e *env) {
		const n = 250
		for i := range n {
			e.put(t, "big/"+fmt.Sprintf("%04d", i), nil)
		}
		e.rt.reset(nil)
		infos, err := e.fs.ReadDir("/big")
		must(t, "readdir", err)
		if len(infos) != n {
			t.Errorf("got %d entries, want %d", len(infos), n)
		}
		if got := e.rt.snapshot()["ListObjectsV2"]; got != 3 {
			t.Errorf("ListObjectsV2 calls = %d, want 3 pages", got)
		}
	}},
	{name: "mkdir", run: func(t *testing.T, e *env) {
		must(t, "mkdir", e.fs.Mkdir("/2026", 0o755))
		wantErr(t, "mkdir again", e.fs.Mkdir("/2026", 0o755), fs.ErrExist)
		must(t, "mkdir nested", e.fs.Mkdir("/a/b/c", 0o755))
		for _, d := range []string{"/a", "/a/b", "/a/b/c"} {
			if fi, err := e.fs.Stat(d); err != nil || !fi.IsDir() {
				t.Errorf("stat %s: %v", d, err)
			}
		}
		e.upload(t, "/file", []byte("x"))
		wantErr(t, "mkdir over file", e.fs.Mkdir("/file", 0o755), fs.ErrExist)
		wantErr(t, "mkdir under file", e.fs.Mkdir("/file/sub", 0o755), storage.ErrNotDir)
		wantErr(t, "mkdir root", e.fs.Mkdir("/", 0o755), fs.ErrExist)
		must(t, "mkdirall existing", e.fs.MkdirAll("/2026", 0o755))
		wantErr(t, "mkdirall over file", e.fs.MkdirAll("/file", 0o755), storage.ErrNotDir)
		if got := e.keys(t); !reflect.DeepEqual(got, []string{"2026/", "a/b/c/", "file"}) {
			t.Errorf("keys = %v", got)
		}
	}},
	{name: "remove files", run: func(t *testing.T, e *env) {
		e.upload(t, "/dir/only.jpg", []byte("x"))
		must(t, "remove", e.fs.Remove("/dir/only.jpg"))
		fi, err := e.fs.Stat("/dir")
		must(t, "dir still exists after its last file is deleted", err)
		if !fi.IsDir() {
			t.Errorf("/dir is not a dir")
		}
		wantErr(t, "remove missing", e.fs.Remove("/dir/only.jpg"), fs.ErrNotExist)
		wantErr(t, "remove dir", e.fs.Remove("/dir"), storage.ErrIsDir)
		wantErr(t, "remove root", e.fs.Remove("/"), storage.ErrIsDir)
	}},
	{name: "remove directories", run: func(t *testing.T, e *env) {
		e.upload(t, "/full/x", []byte("x"))
		wantErr(t, "rmdir non-empty", e.fs.RemoveDir("/full"), storage.ErrNotEmpty)
		must(t, "mkdir", e.fs.Mkdir("/full/empty", 0o755))
		must(t, "rmdir empty", e.fs.RemoveDir("/full/empty"))
		wantErr(t, "rmdir gone", e.fs.RemoveDir("/full/empty"), fs.ErrNotExist)
		wantErr(t, "rmdir file", e.fs.RemoveDir("/full/x"), storage.ErrNotDir)
		wantErr(t, "rmdir root", e.fs.RemoveDir("/"), fs.ErrPermission)
		must(t, "removeall", e.fs.RemoveAll("/full"))
		if got := e.keys(t); len(got) != 0 {
			t.Errorf("keys after removeall = %v", got)
		}
		wantErr(t, "removeall missing", e.fs.RemoveAll("/full"), fs.ErrNotExist)
		e.upload(t, "/keep.txt", []byte("keep"))
		wantErr(t, "removeall file", e.fs.RemoveAll("/keep.txt"), storage.ErrNotDir)
		if got := e.keys(t); !reflect.DeepEqual(got, []string{"keep.txt"}) {
			t.Errorf("keys after removeall of a file = %v, want the file kept", got)
		}
	}},
	{name: "a file above the name is not a directory", run: func(t *testing.T, e *env) {
		e.upload(t, "/x.jpg", []byte("x"))
		e.upload(t, "/in/a.jpg", []byte("a"))
		for _, name := range []string{"/x.jpg/y.jpg", "/x.jpg/sub/y.jpg"} {
			_, err := e.fs.Upload(name, writeFlags, 0)
			wantErr(t, "upload "+name, err, storage.ErrNotDir)
			_, err = e.fs.Upload(name, os.O_WRONLY|os.O_APPEND, 0)
			wantErr(t, "append "+name, err, storage.ErrNotDir)
			wantErr(t, "rename file to "+name, e.fs.Rename("/in/a.jpg", name), storage.ErrNotDir)
			wantErr(t, "rename dir to "+name, e.fs.Rename("/in", name), storage.ErrNotDir)
			wantErr(t, "mkdir "+name, e.fs.Mkdir(name, 0o755), storage.ErrNotDir)
		}
		if got, want := e.keys(t), []string{"in/a.jpg", "x.jpg"}; !reflect.DeepEqual(got, want) {
			t.Errorf("keys = %v, want %v", got, want)
		}
	}},
	{name: "repeated uploads into a known directory are one PutObject each", run: func(t *testing.T, e *env) {
		count := func(what string, want map[string]int, names ...string) {
			t.Helper()
			e.rt.reset(nil)
			for _, n := range names {
				e.upload(t, n, []byte(n))
			}
			if got := e.rt.snapshot(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: requests = %v, want %v", what, got, want)
			}
		}
		must(t, "mkdir", e.fs.Mkdir("/cam1", 0o755))
		count("after MKD", map[string]int{"PutObject": 3}, "/cam1/1.jpg", "/cam1/2.jpg", "/cam1/3.jpg")
		e.put(t, "cam2/old.jpg", nil)
		_, err := e.fs.Stat("/cam2") // CWD
		must(t, "stat", err)
		count("after CWD", map[string]int{"PutObject": 2}, "/cam2/1.jpg", "/cam2/2.jpg")
		e.put(t, "cam3/old.jpg", nil)
		_, err = e.fs.ReadDir("/cam3") // LIST
		must(t, "readdir", err)
		count("after LIST", map[string]int{"PutObject": 2}, "/cam3/1.jpg", "/cam3/2.jpg")
		count("unknown directory, checked once", map[string]int{"HeadObject": 2, "PutObject": 3}, "/cam4/day/1.jpg", "/cam4/day/2.jpg", "/cam4/day/3.jpg")
		count("at the root", map[string]int{"PutObject": 2}, "/1.jpg", "/2.jpg")
		// A directory the session removed is checked again.
		must(t, "removeall", e.fs.RemoveAll("/cam1"))
		e.upload(t, "/cam1", []byte("now a file"))
		_, err = e.fs.Upload("/cam1/4.jpg", writeFlags, 0)
		wantErr(t, "upload under a directory replaced by a file", err, storage.ErrNotDir)
	}},
	{name: "each request of a rename or removal has its own deadline", set: storage.Settings{RequestTimeout: 5 * time.Second}, run: func(t *testing.T, e *env) {
		for _, k := range []string{"in/a.jpg", "tree/x", "tree/y", "tree/sub/z"} {
			e.put(t, k, []byte(k))
		}
		// Every request takes well under the request timeout (1.5 s of 5 s:
		// 600 ms of 2 s timed out under the race detector on a loaded
		// machine); each operation below sends at least four, so together
		// they take longer.
		e.rt.slow(1500 * time.Millisecond)
		must(t, "rename file", e.fs.Rename("/in/a.jpg", "/out/a.jpg"))
		must(t, "rename dir", e.fs.Rename("/tree", "/moved"))
		must(t, "removeall", e.fs.RemoveAll("/moved"))
		e.rt.slow(0)
		if got, want := e.keys(t), []string{"in/", "out/a.jpg"}; !reflect.DeepEqual(got, want) {
			t.Errorf("keys = %v, want %v", got, want)
		}
	}},
	{name: "rename files", run: func(t *testing.T, e *env) {
		for _, name := range []string{"plain.jpg", "with space.jpg", "plus+sign.jpg", "percent%20.jpg", "ünï©ødé.jpg", "hash#q?.jpg"} {
			data := []byte("data of " + name)
			e.upload(t, "/tmp/"+name, data)
			must(t, "rename "+name, e.fs.Rename("/tmp/"+name, "/final/"+name))
			got, err := e.object("final/" + name)
			must(t, "get renamed "+name, err)
			if !bytes.Equal(got, data) {
				t.Errorf("%s: renamed content %q", name, got)
			}
			if _, err := e.object("tmp/" + name); err == nil {
				t.Errorf("%s: source still exists", name)
			}
		}
		if fi, err := e.fs.Stat("/tmp"); err != nil || !fi.IsDir() {
			t.Errorf("source dir vanished after moving its files out: %v", err)
		}
		e.upload(t, "/a", []byte("a"))
		e.upload(t, "/b", []byte("b"))
		must(t, "rename over file", e.fs.Rename("/a", "/b"))
		if got, _ := e.object("b"); string(got) != "a" {
			t.Errorf("b = %q, want a", got)
		}
		must(t, "mkdir", e.fs.Mkdir("/dir", 0o755))
		wantErr(t, "rename onto dir", e.fs.Rename("/b", "/dir"), storage.ErrIsDir)
		wantErr(t, "rename missing", e.fs.Rename("/nope", "/x"), fs.ErrNotExist)
		wantErr(t, "rename root", e.fs.Rename("/", "/x"), fs.ErrPermission)
	}},
	{name: "rename directories", set: storage.Settings{RenameLimit: 5}, run: func(t *testing.T, e *env) {
		for _, k := range []string{"src/", "src/a", "src/sub/b", "src/sub/c"} {
			e.put(t, k, content(k))
		}
		must(t, "rename dir", e.fs.Rename("/src", "/dst"))
		want := []string{"dst/", "dst/a", "dst/sub/b", "dst/sub/c"}
		if got := e.keys(t); !reflect.DeepEqual(got, want) {
			t.Errorf("keys = %v, want %v", got, want)
		}
		wantErr(t, "rename into itself", e.fs.Rename("/dst", "/dst/inner"), fs.ErrInvalid)
		e.put(t, "other/x", nil)
		wantErr(t, "rename onto existing", e.fs.Rename("/dst", "/other"), fs.ErrExist)
		for _, k := range []string{"dst/d", "dst/e"} {
			e.put(t, k, nil)
		}
		wantErr(t, "rename over limit", e.fs.Rename("/dst", "/moved"), storage.ErrTooMany)
		if got := e.keys(t); len(got) != 7 || got[0] != "dst/" {
			t.Errorf("keys after refused rename = %v", got)
		}
	}},
	{name: "rename dir failure leaves source whole", run: func(t *testing.T, e *env) {
		for _, k := range []string{"src/a", "src/b", "src/c"} {
			e.put(t, k, []byte(k))
		}
		e.rt.reset(func(op string, n int) bool { return op == "CopyObject" && n >= 3 })
		wantErr(t, "rename with failing copy", e.fs.Rename("/src", "/dst"), storage.ErrBackend)
		e.rt.reset(nil)
		if got := e.keys(t); !reflect.DeepEqual(got, []string{"src/a", "src/b", "src/c"}) {
			t.Errorf("keys = %v, want the source only", got)
		}
	}},
	{name: "multipart copy of a big file", set: smallParts, run: func(t *testing.T, e *env) {
		storage.SetCopyLimits(e.svc, 6*mib, 5*mib)
		data := randBytes(13 * mib)
		meta := map[string]string{"s3ftp-sha256": sum(data)}
		_, err := e.API.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: &e.bucket, Key: aws.String(e.prefix + "big.jpg"), Body: bytes.NewReader(data),
			ContentType: aws.String("image/jpeg"), Metadata: meta,
		})
		must(t, "put", err)
		e.rt.reset(nil)
		must(t, "rename", e.fs.Rename("/big.jpg", "/moved.jpg"))
		if c := e.rt.snapshot(); c["UploadPartCopy"] != 2 || c["CopyObject"] != 0 {
			t.Errorf("requests = %v, want 2 UploadPartCopy (5 MiB, then 8 MiB: no part under 5 MiB)", c)
		}
		got, err := e.object("moved.jpg")
		must(t, "get", err)
		if sum(got) != sum(data) {
			t.Errorf("copied object differs")
		}
		head, err := e.API.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: aws.String(e.prefix + "moved.jpg")})
		must(t, "head", err)
		if ct := aws.ToString(head.ContentType); ct != "image/jpeg" || !reflect.DeepEqual(head.Metadata, meta) {
			t.Errorf("copy has Content-Type %q and metadata %v, want image/jpeg and %v", ct, head.Metadata, meta)
		}
	}},
	{name: "multipart copy of a file overwritten meanwhile", set: smallParts, run: func(t *testing.T, e *env) {
		storage.SetCopyLimits(e.svc, 6*mib, 5*mib)
		e.put(t, "big.bin", randBytes(13*mib))
		newer := randBytes(13 * mib)
		e.rt.reset(nil)
		e.rt.before = func(op string, n int) {
			if op == "UploadPartCopy" && n == 2 {
				e.put(t, "big.bin", newer) // between the parts of the copy
			}
		}
		if err := e.fs.Rename("/big.bin", "/moved.bin"); err == nil {
			t.Fatal("rename of a file overwritten during the copy succeeded")
		}
		got, err := e.object("big.bin")
		if err != nil || sum(got) != sum(newer) {
			t.Errorf("source after the failed rename: %v, want the newer version", err)
		}
		e.nothingAt(t, "moved.bin")
	}},
	{name: "jail keeps users apart", run: func(t *testing.T, e *env) {
		alice := e.otherFs(e.prefix + "alice")
		alice2 := e.otherFs(e.prefix + "alice2/")
		must(t, "alice upload", writeThrough(alice, "/secret.txt", []byte("alice")))
		must(t, "alice2 upload", writeThrough(alice2, "/mine.txt", []byte("alice2")))
		for _, p := range []string{"/secret.txt", "/../alice/secret.txt", "../alice/secret.txt", "/../../secret.txt", "/./../alice/secret.txt"} {
			if _, err := alice2.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("alice2 stat %q: %v, want not exist", p, err)
			}
		}
		infos, err := alice2.ReadDir("/..")
		must(t, "readdir ..", err)
		if len(infos) != 1 || infos[0].Name() != "mine.txt" {
			t.Errorf("alice2 sees %v", infos)
		}
		must(t, "alice2 writes ../alice/secret.txt", writeThrough(alice2, "/../alice/secret.txt", []byte("evil")))
		if got, _ := e.object("alice/secret.txt"); string(got) != "alice" {
			t.Errorf("alice's file was overwritten: %q", got)
		}
		if got, _ := e.object("alice2/alice/secret.txt"); string(got) != "evil" {
			t.Errorf("the write did not land inside alice2's prefix")
		}
	}},
	{name: "bad names are refused", run: func(t *testing.T, e *env) {
		for _, c := range []struct {
			name string
			err  error
		}{
			{"/nul\x00byte", storage.ErrInvalidName},
			{"/bell\x07", storage.ErrInvalidName},
			{"/del\x7f", storage.ErrInvalidName},
			{"/latin1-\xe9t\xe9", storage.ErrInvalidName},
			{"/" + strings.Repeat("x", 1100), storage.ErrNameTooLong},
			{"/", storage.ErrIsDir},
		} {
			err := writeThrough(e.fs, c.name, []byte("x"))
			wantErr(t, "upload "+strings.ToValidUTF8(c.name[:min(len(c.name), 20)], "?"), err, c.err)
		}
		if got := e.keys(t); len(got) != 0 {
			t.Errorf("keys = %v, want none", got)
		}
	}},
	{name: "file and directory of the same name", run: func(t *testing.T, e *env) {
		// S3 allows "d" and "d/x" together; file-system backed servers refuse
		// one of them. Either way the refusal must not look like an outage. A
		// file under a file is refused on every server (a key no CWD reaches).
		must(t, "mkdir", e.fs.Mkdir("/d", 0o755))
		e.upload(t, "/d/x", []byte("x"))
		err := writeThrough(e.fs, "/d", []byte("file"))
		t.Logf("%s: file over a directory: %v", e.srv.Name, err)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			t.Errorf("file over a directory: %v, want success or fs.ErrExist", err)
		}
		e.upload(t, "/f", []byte("file"))
		wantErr(t, "file under a file", writeThrough(e.fs, "/f/x", []byte("x")), storage.ErrNotDir)
	}},
	{name: "chmod and chtimes", run: func(t *testing.T, e *env) {
		e.upload(t, "/f", []byte("x"))
		must(t, "chmod", e.fs.Chmod("/f", 0o600))
		wantErr(t, "chmod missing", e.fs.Chmod("/nope", 0o600), fs.ErrNotExist)
		wantErr(t, "chtimes", e.fs.Chtimes("/f", time.Time{}, time.Time{}), storage.ErrUnsupported)
	}},
	{name: "open directory and readdir through afero", run: func(t *testing.T, e *env) {
		e.upload(t, "/d/x", []byte("x"))
		f, err := e.fs.Open("/d")
		must(t, "open dir", err)
		names, err := f.Readdirnames(-1)
		must(t, "readdirnames", err)
		if !reflect.DeepEqual(names, []string{"x"}) {
			t.Errorf("names = %v", names)
		}
		must(t, "close", f.Close())
		w, err := e.fs.Create("/via-create")
		must(t, "create", err)
		_, err = w.WriteString("abc")
		must(t, "write", err)
		must(t, "close", w.Close())
		if got, _ := e.object("via-create"); string(got) != "abc" {
			t.Errorf("created = %q", got)
		}
	}},
}

// content returns test data for key: empty for a directory marker.
func content(key string) []byte {
	if strings.HasSuffix(key, "/") {
		return nil
	}
	return []byte(key)
}

func TestSettingsDefaults(t *testing.T) {
	srv := s3test.Fake(t)
	svc, err := storage.NewService(srv.Client(false, nil), storage.Settings{})
	must(t, "new service", err)
	s := svc.Settings()
	if s.PartSize != 8*mib || s.Concurrency != 3 || s.RenameLimit != 1000 || s.ListPageSize != 1000 || s.Checksums != storage.ChecksumsRequired ||
		s.DownloadConcurrency != 4 || s.DownloadChunkSize != s.PartSize {
		t.Errorf("defaults = %+v", s)
	}
	for _, bad := range []storage.Settings{
		{PartSize: 1 * mib}, {Concurrency: -1}, {ListPageSize: 5000}, {Checksums: "auto"},
		{Digests: []string{"sha1"}}, {Digests: []string{storage.DigestsNone, storage.DigestMD5}},
	} {
		if _, err := storage.NewService(srv.Client(false, nil), bad); err == nil {
			t.Errorf("settings %+v accepted", bad)
		}
	}
	if _, err := storage.NewService(nil, storage.Settings{}); err == nil {
		t.Error("nil API accepted")
	}
}

// TestSmallUploadBuffer: a small file does not take a whole part buffer.
func TestSmallUploadBuffer(t *testing.T) {
	srv := s3test.Fake(t)
	bucket := srv.NewBucket(t)
	data := randBytes(200 << 10)
	// Warm up the SDK and the server with another Service, so that only the
	// measured upload's own allocations count and its buffer pool is empty.
	newEnv(t, srv, bucket, storage.ChecksumsRequired, storage.Settings{PartSize: 64 * mib}).upload(t, "/warm-up.jpg", data)
	e := newEnv(t, srv, bucket, storage.ChecksumsRequired, storage.Settings{PartSize: 64 * mib})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	e.upload(t, "/cam.jpg", data)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*mib {
		t.Errorf("uploading 200 KiB allocated %d MiB", alloc/mib)
	}
	if got, _ := e.object("cam.jpg"); !bytes.Equal(got, data) {
		t.Errorf("stored object differs")
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	svc, err := storage.NewService(srv.Client(false, nil), storage.Settings{})
	must(t, "service", err)
	must(t, "ping", svc.Ping(t.Context(), ""))
	must(t, "ping a bucket", svc.Ping(t.Context(), srv.NewBucket(t)))
	wrong := *srv
	wrong.SecretKey = "not-the-secret"
	svc, err = storage.NewService(wrong.Client(false, nil), storage.Settings{})
	must(t, "service", err)
	wantErr(t, "ping with a wrong secret", svc.Ping(t.Context(), ""), storage.ErrBackend)
	if s3test.VersityInstalled() || s3test.Strict() { // gofakes3 creates buckets on first use
		vgw := s3test.Versity(t)
		vsvc, err := storage.NewService(vgw.Client(false, nil), storage.Settings{})
		must(t, "service", err)
		must(t, "ping versitygw", vsvc.Ping(t.Context(), vgw.NewBucket(t)))
		wantErr(t, "ping a missing bucket", vsvc.Ping(t.Context(), "no-such-bucket-here"), storage.ErrBackend)
	}
	gone := *srv
	gone.Endpoint = "http://127.0.0.1:1"
	svc, err = storage.NewService(gone.Client(false, nil), storage.Settings{})
	must(t, "service", err)
	wantErr(t, "ping of a closed port", svc.Ping(t.Context(), ""), storage.ErrBackend)
}
