package embedded

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/rclone/gofakes3"
)

// emptyMD5 is the MD5 of no bytes, the ETag of every directory marker.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// record is the bookkeeping kept for an object or directory marker, as JSON
// in the file recordPath names. A record describes the file it was written
// for, identified by size and modification time; a file without a record
// that describes it (put there by hand, or left by a crash between renaming
// a file into place and writing its record) gets a new record, its MD5 read
// from the file, the first time it is read.
type record struct {
	Key    string `json:"key"`
	Marker bool   `json:"marker,omitempty"`
	Size   int64  `json:"size"`
	// ModTimeNS is the modification time of the file the record describes.
	ModTimeNS int64 `json:"modTimeNs"`
	// ETag is hex encoded, without quotes: the MD5 of the object, or for an
	// object made by a multipart upload the MD5 of its parts' MD5s.
	ETag         string            `json:"etag"`
	LastModified time.Time         `json:"lastModified"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	PartSizes    []int64           `json:"partSizes,omitempty"`
}

// newRecord returns the record of the object key whose finished file is
// described by info, with MD5 sum (or ETag) etag and the metadata meta that
// gofakes3 gave with it.
func newRecord(key string, info fs.FileInfo, etag []byte, meta map[string]string) *record {
	return &record{
		Key:          key,
		Size:         info.Size(),
		ModTimeNS:    info.ModTime().UnixNano(),
		ETag:         hex.EncodeToString(etag),
		LastModified: lastModified(meta),
		Metadata:     meta,
	}
}

// lastModified returns the Last-Modified time gofakes3 put in meta when it
// received the request, or now.
func lastModified(meta map[string]string) time.Time {
	if t, err := http.ParseTime(meta["Last-Modified"]); err == nil {
		return t
	}
	return time.Now().UTC().Truncate(time.Second)
}

// describes reports whether r is the record of the file info describes.
func (r *record) describes(info fs.FileInfo) bool {
	return r.Size == info.Size() && r.ModTimeNS == info.ModTime().UnixNano()
}

// object returns r as a gofakes3 object with contents and the range rng.
func (r *record) object(contents io.ReadCloser, rng *gofakes3.ObjectRange) *gofakes3.Object {
	hash, _ := hex.DecodeString(r.ETag)
	meta := make(map[string]string, len(r.Metadata))
	for k, v := range r.Metadata {
		meta[k] = v
	}
	return &gofakes3.Object{
		Name:      r.Key,
		Metadata:  meta,
		Size:      r.Size,
		Contents:  contents,
		Hash:      hash,
		Range:     rng,
		PartSizes: r.PartSizes,
	}
}

// content returns r as an entry of a bucket listing.
func (r *record) content() *gofakes3.Content {
	return &gofakes3.Content{
		Key:          r.Key,
		LastModified: gofakes3.NewContentTime(r.LastModified),
		ETag:         quote(r.ETag),
		Size:         r.Size,
		StorageClass: gofakes3.StorageStandard,
	}
}

// readRecord returns the record of key in bucket, or nil if there is none or
// it cannot be read (a record of an object is only a cache of what can be
// read from its file, so a damaged one is replaced).
func (b *Backend) readRecord(bucket, key string) *record {
	var r record
	found, err := b.readJSON(recordPath(bucket, key), &r)
	if err != nil {
		b.log.Warn("embedded store: ignoring damaged record", "bucket", bucket, "key", key, "err", err)
		return nil
	}
	if !found || r.Key != key {
		return nil
	}
	return &r
}

// writeRecord stores r as the record of r.Key in bucket, replacing any,
// durably (see writeJSON).
func (b *Backend) writeRecord(bucket string, r *record) error {
	return b.writeJSON(recordPath(bucket, r.Key), r)
}

// removeRecord deletes the record of key in bucket, if there is one,
// returning the directory whose entries changed (to sync if the removal
// must last).
func (b *Backend) removeRecord(bucket, key string) (string, error) {
	rel := recordPath(bucket, key)
	err := b.disk.Remove(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("remove record: %w", err)
	}
	return parentDir(rel), nil
}

// repair makes a new record for the object key whose file at rel is open as
// f, reading its MD5 from f. It stores the record unless the file has been
// replaced meanwhile.
func (b *Backend) repair(bucket, key, rel string, f *os.File) (*record, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, info.Size())); err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	mtime := info.ModTime().UTC()
	r := newRecord(key, info, h.Sum(nil), map[string]string{"Last-Modified": mtime.Format(http.TimeFormat)})
	l := b.locks.of(rel)
	l.Lock()
	defer l.Unlock()
	now, err := b.root.Stat(rel)
	if err != nil || !os.SameFile(now, info) {
		return r, nil // replaced: its own record is the one to keep
	}
	if err := b.writeRecord(bucket, r); err != nil {
		return nil, err
	}
	b.log.Info("embedded store: recorded a file without a valid record", "bucket", bucket, "key", key)
	return r, nil
}

// readJSON decodes the JSON file at rel into v, reporting false if there is
// no such file.
func (b *Backend) readJSON(rel string, v any) (bool, error) {
	data, err := b.root.ReadFile(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", rel, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", rel, err)
	}
	return true, nil
}

// writeJSON atomically and durably replaces the file at rel with v as JSON,
// creating its directory if needed: a temporary file is written, synced,
// renamed into place, and the directories whose entries changed are synced.
func (b *Backend) writeJSON(rel string, v any) error {
	tmp, err := b.stageSynced(v)
	if err != nil {
		return err
	}
	changed, err := b.install(tmp, rel)
	if err != nil {
		return err
	}
	return b.syncAll(changed...)
}

// stageJSON writes v as JSON to a new temporary file, not synced, and
// returns its path, for install to put in place.
func (b *Backend) stageJSON(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode JSON: %w", err)
	}
	f, tmp, err := b.createTemp("json")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		b.discard(f, tmp)
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		b.discard(nil, tmp)
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	return tmp, nil
}

// stageSynced is stageJSON, the file synced.
func (b *Backend) stageSynced(v any) (string, error) {
	tmp, err := b.stageJSON(v)
	if err != nil {
		return "", err
	}
	if err := b.syncAll(tmp); err != nil {
		b.discard(nil, tmp)
		return "", err
	}
	return tmp, nil
}

// install renames the temporary file tmp, staged by stageJSON, to rel,
// creating rel's directory and its parents if needed, and returns the
// directories whose entries changed: rel's, and the parent of each
// directory it created. It removes tmp if it fails.
func (b *Backend) install(tmp, rel string) ([]string, error) {
	dir := parentDir(rel)
	err := b.disk.Rename(tmp, rel)
	var made []string
	if errors.Is(err, fs.ErrNotExist) {
		// The first file in this directory
		if made, err = b.mkdirs(dir); err == nil {
			err = b.disk.Rename(tmp, rel)
		}
	}
	if err != nil {
		b.discard(nil, tmp)
		return nil, fmt.Errorf("write %s: %w", rel, err)
	}
	return append([]string{dir}, made...), nil
}

// quote returns the hex ETag etag as S3 sends it, in double quotes.
func quote(etag string) string {
	return `"` + etag + `"`
}
