package gateway

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestOpenRules: OpenFile and Create, which afero callers (and ftpserverlib
// without the GetHandle extension) use, apply the rules of GetHandle: every
// open is refused while the server shuts down, and a user without the
// overwrite permission cannot replace a file.
func TestOpenRules(t *testing.T) {
	t.Parallel()
	srv := s3test.Fake(t)
	svc, err := storage.NewService(srv.Client(false, nil), storage.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	fsys := svc.NewFs(t.Context(), srv.NewBucket(t), "u/", nil)
	f, err := fsys.Create("/exists")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, "old"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	const write = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	openers := []struct {
		name string
		open func(d *clientDriver, name string, flags int) (io.Closer, error)
	}{
		{"OpenFile", func(d *clientDriver, name string, flags int) (io.Closer, error) { return d.OpenFile(name, flags, 0) }},
		{"Create or Open", func(d *clientDriver, name string, flags int) (io.Closer, error) {
			if flags == write {
				return d.Create(name)
			}
			return d.Open(name)
		}},
		{"GetHandle", func(d *clientDriver, name string, flags int) (io.Closer, error) { return d.GetHandle(name, flags, 0) }},
	}
	for _, c := range []struct {
		what     string
		perms    auth.Permissions
		draining bool
		name     string
		flags    int
		want     error // nil: opens
	}{
		{"upload-only user replaces a file", auth.PermUpload, false, "/exists", write, fs.ErrPermission},
		{"upload-only user writes a new file", auth.PermUpload, false, "/new", write, nil},
		{"upload during shutdown", auth.AllPermissions, true, "/new", write, errShuttingDown},
		{"download during shutdown", auth.AllPermissions, true, "/exists", os.O_RDONLY, errShuttingDown},
		{"user with overwrite replaces a file", auth.AllPermissions, false, "/exists", write, nil},
		{"download", auth.AllPermissions, false, "/exists", os.O_RDONLY, nil},
		{"download without the permission", auth.PermUpload, false, "/exists", os.O_RDONLY, fs.ErrPermission},
	} {
		for _, o := range openers {
			s := &Server{observe: nopObserver{}, events: nopPublisher{}, activity: nopActivity{}}
			s.draining.Store(c.draining)
			d := &clientDriver{srv: s, fs: fsys, perms: c.perms, sess: &session{log: slog.New(slog.DiscardHandler), ctx: t.Context()}}
			h, err := o.open(d, c.name, c.flags)
			if h != nil {
				if c.flags != os.O_RDONLY {
					// Abandon the upload: the files stay as they are.
					if tr, ok := h.(*transfer); ok {
						tr.TransferError(errors.New("test"))
					} else {
						h.(*storage.Upload).Abort(errors.New("test"))
					}
				}
				_ = h.Close()
			}
			if (err == nil) != (c.want == nil) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Errorf("%s, %s: error %v, want %v", c.what, o.name, err, c.want)
			}
		}
	}
}
