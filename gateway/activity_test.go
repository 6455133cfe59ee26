package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/activity"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestActivityRecorded: logins, uploads and failed transfers of real FTP
// sessions reach the user store through the write-behind Recorder.
func TestActivityRecorded(t *testing.T) {
	t.Parallel()
	var (
		rec   *activity.Recorder
		store *sqlite.Store
	)
	e := newEnv(t, s3test.Fake(t), envOptions{activity: func(s *sqlite.Store) gateway.ActivityRecorder {
		var err error
		store = s
		rec, err = activity.New(s, activity.Config{FlushInterval: time.Hour}) // written by Close
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}})
	c := e.dial(t, "cam", true)
	start := time.Now()
	must(t, "STOR", c.Stor("<script>alert(1)</script>.jpg", bytes.NewReader([]byte("twelve bytes"))))
	e.fault.set(func(req *http.Request) bool { return req.Method == http.MethodPut })
	if err := c.Stor("fail.jpg", bytes.NewReader([]byte("x"))); err == nil {
		t.Fatal("STOR succeeded during an S3 outage")
	}
	e.fault.set(nil)
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, err := store.GetActivity(t.Context(), "cam", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a.LastLogin == nil || a.LastLogin.Addr != netip.MustParseAddr("127.0.0.1") || a.LastLogin.Time.Before(start.Add(-time.Minute)) {
		t.Errorf("LastLogin = %+v", a.LastLogin)
	}
	want := auth.Upload{Path: "/<script>alert(1)</script>.jpg", Size: 12}
	if a.LastUpload == nil || a.LastUpload.Path != want.Path || a.LastUpload.Size != want.Size || a.Uploads24h != 1 {
		t.Errorf("LastUpload = %+v (%d in 24 h), want %+v", a.LastUpload, a.Uploads24h, want)
	}
	if a.LastError == nil || !strings.Contains(a.LastError.Message, "upload /fail.jpg: failed: storage temporarily unavailable") ||
		strings.Contains(a.LastError.Message, e.bucket) {
		t.Errorf("LastError = %+v", a.LastError)
	}
}

// BenchmarkUploadActivity uploads 4 KiB files through FTP without an
// activity recorder, with one writing to SQLite, and with one whose store
// never answers (the worst case: records wait in the queue, then are
// dropped). Equal figures show that recording adds nothing to an upload.
func BenchmarkUploadActivity(b *testing.B) {
	for _, bc := range []struct {
		name string
		w    func(*sqlite.Store) activity.Writer // nil: no recorder
	}{
		{"none", nil},
		{"sqlite", func(s *sqlite.Store) activity.Writer { return s }},
		{"hung-store", func(*sqlite.Store) activity.Writer { return hangingWriter{} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var opts envOptions
			if bc.w != nil {
				opts.activity = func(s *sqlite.Store) gateway.ActivityRecorder {
					rec, err := activity.New(bc.w(s), activity.Config{})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() {
						ctx, cancel := context.WithTimeout(context.Background(), time.Second)
						defer cancel()
						_ = rec.Close(ctx) // the hung store never finishes
					})
					return rec
				}
			}
			e := newEnv(b, s3test.Fake(b), opts)
			c := e.dial(b, "alice", true)
			data := bytes.Repeat([]byte("x"), 4096)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := c.Stor("bench.jpg", bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// hangingWriter is a store that never answers: RecordActivity returns only
// when its context ends.
type hangingWriter struct{}

func (hangingWriter) RecordActivity(ctx context.Context, _ []auth.ActivityUpdate) error {
	<-ctx.Done()
	return ctx.Err()
}
