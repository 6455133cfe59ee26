package embedded

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRecords(t *testing.T) {
	t.Parallel()
	b := newTestBackend(t)
	mustPut(t, b, "bkt", "k", []byte("contents"))
	rec := b.readRecord("bkt", "k")
	if rec == nil || rec.Key != "k" || rec.Size != 8 || rec.ETag != md5Hex([]byte("contents")) {
		t.Fatalf("record = %+v", rec)
	}
	info, err := b.root.Stat("bkt/k")
	if err != nil || !rec.describes(info) {
		t.Fatalf("the record does not describe its file: %v", err)
	}

	// A record of another key under the same name (a hash collision) is
	// not this key's.
	other := *rec
	other.Key = "other"
	if err := b.writeJSON(recordPath("bkt", "k"), &other); err != nil {
		t.Fatal(err)
	}
	if got := b.readRecord("bkt", "k"); got != nil {
		t.Errorf("readRecord returned the record of %q", got.Key)
	}

	// A file changed behind the store's back gets a new record.
	full := filepath.Join(b.root.Name(), "bkt", "k")
	if err := os.WriteFile(full, []byte("changed!"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(full, later, later); err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, b, "bkt", "k"); string(got) != "changed!" {
		t.Fatalf("contents = %q", got)
	}
	rec = b.readRecord("bkt", "k")
	if rec == nil || rec.ETag != md5Hex([]byte("changed!")) || !rec.LastModified.Equal(later.UTC().Truncate(time.Second)) {
		t.Errorf("repaired record = %+v", rec)
	}

	if _, err := b.removeRecord("bkt", "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.removeRecord("bkt", "k"); err != nil {
		t.Errorf("removing a missing record: %v", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(b.root.Name(), tmpDir)); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestLastModified(t *testing.T) {
	t.Parallel()
	want := time.Date(2024, 2, 29, 12, 30, 0, 0, time.UTC)
	if got := lastModified(map[string]string{"Last-Modified": "Thu, 29 Feb 2024 12:30:00 GMT"}); !got.Equal(want) {
		t.Errorf("lastModified = %v, want %v", got, want)
	}
	if got := lastModified(nil); time.Since(got) > time.Minute {
		t.Errorf("lastModified without the header = %v, want now", got)
	}
}
