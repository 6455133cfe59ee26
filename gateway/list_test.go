package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3ftp/s3ftp/storage/s3test"
)

// fillDir stores n empty objects alice/big/f00000.jpg..., three
// subdirectories (one with a marker) and "big/f-x" (sorted before "big/f0"
// and after the subdirectory "big/f"), with 16 requests at once. It returns
// the names ListDir gives, in its order (S3's key order).
func fillDir(t testing.TB, srv *s3test.Server, bucket string, n int) []string {
	t.Helper()
	c := srv.Client(false, nil)
	keys := []string{"alice/big/f-x", "alice/big/f/x", "alice/big/sub1/", "alice/big/sub1/y", "alice/big/sub2/z"}
	for i := range n {
		keys = append(keys, fmt.Sprintf("alice/big/f%05d.jpg", i))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(keys); i = int(next.Add(1)) - 1 {
				_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(keys[i]), Body: strings.NewReader("")})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("fill: %v", err)
	}
	names := []string{"f-x", "f"}
	for i := range n {
		names = append(names, fmt.Sprintf("f%05d.jpg", i))
	}
	return append(names, "sub1", "sub2")
}

// TestListStreams: LIST, NLST and MLSD of a directory of 10,000 objects and
// three subdirectories give every entry once, in S3's key order, on
// gofakes3 and versitygw; and the listing streams: the gateway asks S3 for
// the third page of 1,000 keys only after the client has read the first
// two pages' lines, so it never holds more than a page.
func TestListStreams(t *testing.T) {
	t.Parallel()
	servers := []*s3test.Server{s3test.Fake(t)}
	if s3test.VersityInstalled() || s3test.Strict() {
		servers = append(servers, s3test.Versity(t))
	}
	for _, srv := range servers {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv, envOptions{})
			want := fillDir(t, srv, e.bucket, 10000)
			c := rawDial(t, e.addr, "")
			c.login("alice")

			code, text, lines := rawList(c, "NLST big")
			if code != 226 || !slices.Equal(lines, prefixed("big/", want)) {
				t.Errorf("NLST: %d %s, %d names (want %d in key order)", code, text, len(lines), len(want))
			}
			code, text, lines = rawList(c, "MLSD big")
			if code != 226 || !slices.Equal(listedNames(lines), want) || !strings.HasPrefix(lines[1], "Type=dir;") {
				t.Errorf("MLSD: %d %s, %d entries (want %d in key order)", code, text, len(lines), len(want))
			}

			// LIST, with the third page held until the client read two.
			read := make(chan struct{})
			var pages atomic.Int32
			e.fault.holdWith(func(req *http.Request) error {
				if req.URL.Query().Get("list-type") == "2" && req.URL.Query().Get("continuation-token") != "" && pages.Add(1) == 2 {
					select {
					case <-read:
					case <-time.After(30 * time.Second):
					}
				}
				return nil
			})
			data, err := net.DialTimeout("tcp", c.pasv(true), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer data.Close()
			c.send("LIST big")
			c.expect(150)
			_ = data.SetReadDeadline(time.Now().Add(20 * time.Second))
			r := bufio.NewReader(data)
			var got []string
			for len(got) < 2000 {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("LIST: %d lines before the third page was fetched, then %v: the listing is not streamed", len(got), err)
				}
				got = append(got, strings.TrimRight(line, "\r\n"))
			}
			close(read)
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.Split(strings.TrimRight(string(rest), "\r\n"), "\r\n")...)
			c.expect(226)
			if !slices.Equal(listedNames(got), want) || !strings.HasPrefix(got[1], "d") {
				t.Errorf("LIST: %d entries (want %d in key order)", len(got), len(want))
			}
		})
	}
}

func prefixed(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = dir + n
	}
	return out
}
