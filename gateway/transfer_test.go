package gateway_test

import (
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// TestRetrRanges: RETR of files read in parallel ranged GETs gives the
// client the file's bytes (SHA-256), from the start and after REST; a range
// that S3 fails aborts the transfer with 451 after a prefix of the file,
// never a 226 for a truncated file.
func TestRetrRanges(t *testing.T) {
	t.Parallel()
	servers := []*s3test.Server{s3test.Fake(t)}
	if s3test.VersityInstalled() || s3test.Strict() {
		servers = append(servers, s3test.Versity(t))
	}
	const chunk = 256 << 10
	for _, srv := range servers {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, envOptions{storage: storage.Settings{DownloadConcurrency: 3, DownloadChunkSize: chunk}})
			data := make([]byte, 9*chunk+77)
			for i := range data {
				data[i] = byte(i * 7 / 5)
			}
			e.put(t, "alice/f.bin", data)
			c := e.dial(t, "alice", true)
			for _, off := range []uint64{0, 1, chunk + 5} {
				r, err := c.RetrFrom("f.bin", off)
				if err != nil {
					t.Fatalf("RETR from %d: %v", off, err)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("read from %d: %v", off, err)
				}
				if err := r.Close(); err != nil {
					t.Fatalf("RETR from %d: %v", off, err)
				}
				if sha256.Sum256(got) != sha256.Sum256(data[off:]) {
					t.Errorf("RETR from %d: %d bytes, want %d: SHA-256 differs", off, len(got), len(data)-int(off))
				}
			}

			e.fault.set(func(req *http.Request) bool {
				return req.Method == http.MethodGet && strings.HasPrefix(req.Header.Get("Range"), "bytes=786432-") // the fourth range
			})
			r, err := c.Retr("f.bin")
			if err != nil {
				t.Fatalf("RETR: %v", err)
			}
			got, _ := io.ReadAll(r)
			err = r.Close()
			var reply *textproto.Error
			if !errors.As(err, &reply) || reply.Code != 451 {
				t.Errorf("RETR with a failed range: reply %v, want 451", err)
			}
			if len(got) > 3*chunk || string(got) != string(data[:len(got)]) {
				t.Errorf("RETR with a failed range: got %d bytes, want a prefix of the first 3 ranges", len(got))
			}
			e.fault.set(nil)
		})
	}
}
