package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway/gatewaytest"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// The camera burst: each camera logs in, and for each of its dated
// directories enters it as cameras do (CWD into each component, MKD and CWD
// where the CWD is refused) and sends burstFiles pictures of burstSize
// bytes.
const (
	burstFiles = 25
	burstSize  = 200 << 10
)

// cameraBurst runs one camera's session: dirs dated directories of
// burstFiles pictures each under /cam.
func cameraBurst(tb testing.TB, rig *gatewaytest.Rig, user, session string, dirs int) {
	tb.Helper()
	c := rig.Login(tb, user, ftp.DialWithDisabledEPSV(false))
	pic := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0xE0}, burstSize/4)
	for d := range dirs {
		if err := c.ChangeDir("/"); err != nil {
			tb.Fatalf("CWD /: %v", err)
		}
		for _, part := range []string{"cam", fmt.Sprintf("2026-12-%02d-%s", d+1, session)} {
			if c.ChangeDir(part) == nil {
				continue
			}
			if err := c.MakeDir(part); err != nil {
				tb.Fatalf("MKD %s: %v", part, err)
			}
			if err := c.ChangeDir(part); err != nil {
				tb.Fatalf("CWD %s after MKD: %v", part, err)
			}
		}
		for i := range burstFiles {
			name := fmt.Sprintf("%06d.jpg", i)
			if err := c.Stor(name, bytes.NewReader(pic)); err != nil {
				tb.Fatalf("STOR %d/%s: %v", d, name, err)
			}
		}
	}
}

// burstRig starts a gateway logging at info level (as in production) whose
// S3 requests go through counter, with the user "cam" (who may overwrite)
// and "upload-only" (who may not: each STOR first checks that no file is
// there).
func burstRig(tb testing.TB, counter *s3test.Counter) *gatewaytest.Rig {
	return gatewaytest.Start(tb, s3test.Fake(tb), gatewaytest.Config{
		Users: []gatewaytest.User{
			{Name: "cam", Prefix: "cams/", Perms: auth.PermUpload | auth.PermOverwrite | auth.PermMkdir | auth.PermList},
			{Name: "upload-only", Prefix: "cams/", Perms: auth.PermUpload | auth.PermMkdir},
		},
		Transport: counter,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
}

// TestCameraBurstRequests counts the S3 requests of camera sessions whose
// folder exists: each dated directory costs its marker and each picture
// one PutObject, and the session one listing of the camera folder, at its
// first CWD, to learn it exists and what is in it; the CWD into each new
// directory before its MKD, and the MKD's check, cost nothing: 1.05
// requests per file for 100 files. A user without the overwrite permission
// adds one HeadObject per picture.
func TestCameraBurstRequests(t *testing.T) {
	t.Parallel()
	const sessions, dirs = 2, 4
	const files = sessions * dirs * burstFiles
	for _, c := range []struct {
		user    string
		want    map[string]int
		perFile float64
	}{
		{"cam", map[string]int{
			"PutObject":     files + sessions*dirs, // the pictures and the dated directories' markers
			"ListObjectsV2": sessions,              // CWD cam: it exists, and what is in it
		}, 1.05},
		{"upload-only", map[string]int{
			"PutObject":     files + sessions*dirs,
			"ListObjectsV2": sessions,
			"HeadObject":    files, // no file there yet: the overwrite check
		}, 2.05},
	} {
		t.Run(c.user, func(t *testing.T) {
			t.Parallel()
			counter := &s3test.Counter{}
			rig := burstRig(t, counter)
			cameraBurst(t, rig, "cam", "first", 1) // the camera folder is made once
			counter.Reset()
			var wg sync.WaitGroup
			for s := range sessions {
				wg.Go(func() { cameraBurst(t, rig, c.user, fmt.Sprint("s", s), dirs) })
			}
			wg.Wait()
			got := counter.Counts()
			if !maps.Equal(got, c.want) {
				t.Errorf("S3 requests %v, want %v", got, c.want)
			}
			if perFile := float64(total(got)) / files; perFile > c.perFile {
				t.Errorf("%.3f S3 requests per file, want at most %.2f", perFile, c.perFile)
			}
			t.Logf("%d files: %v", files, got)
		})
	}
}

// BenchmarkCameraBurst runs camera bursts of 4 sessions × 4 dated
// directories × 25 pictures of 200 KiB against gofakes3, for profiles:
//
//	go test -run '^$' -bench CameraBurst -benchtime 3x -cpuprofile cpu.out ./gateway/
//	go tool pprof -top -nodecount 30 gateway.test cpu.out
func BenchmarkCameraBurst(b *testing.B) {
	counter := &s3test.Counter{}
	rig := burstRig(b, counter)
	const sessions, dirs = 4, 4
	b.SetBytes(sessions * dirs * burstFiles * burstSize)
	for n := 0; b.Loop(); n++ {
		var wg sync.WaitGroup
		for s := range sessions {
			wg.Go(func() { cameraBurst(b, rig, "cam", fmt.Sprintf("r%d-s%d", n, s), dirs) })
		}
		wg.Wait()
	}
	b.ReportMetric(float64(total(counter.Counts()))/float64(b.N*sessions*dirs*burstFiles), "s3req/file")
}

// TestListOptionRequests: LIST -la lists the directory with its listing
// alone, without asking S3 about a file named "-la" (which cost two
// HeadObject and two ListObjectsV2).
func TestListOptionRequests(t *testing.T) {
	t.Parallel()
	counter := &s3test.Counter{}
	rig := burstRig(t, counter)
	c := rig.Login(t, "cam", ftp.DialWithDisabledMLSD(true))
	if err := c.Stor("a.jpg", bytes.NewReader([]byte("jpeg"))); err != nil {
		t.Fatal(err)
	}
	counter.Reset()
	entries, err := c.List("-la")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "a.jpg" {
		t.Errorf("LIST -la = %v, want a.jpg", entries)
	}
	if got, want := counter.Counts(), map[string]int{"ListObjectsV2": 1}; !maps.Equal(got, want) {
		t.Errorf("LIST -la: %v S3 requests, want %v", got, want)
	}
}

// TestChdir: CWD answers from what the session remembers where it can —
// no S3 request for a name missing from a listing it made — and otherwise
// asks S3; a file is not a directory (a permission error for a user who
// may not see files); another session's new directory is seen by a
// session that remembers it missing once it MKDs it (257, the marker
// written again) or the memory expires.
func TestChdir(t *testing.T) {
	t.Parallel()
	counter := &s3test.Counter{}
	rig := burstRig(t, counter)
	a := rig.Login(t, "cam")
	if err := a.Stor("/f.jpg", bytes.NewReader([]byte("jpeg"))); err != nil {
		t.Fatal(err)
	}
	if err := a.MakeDir("/cam"); err != nil {
		t.Fatal(err)
	}
	b := rig.Login(t, "cam")
	upOnly := rig.Login(t, "upload-only")

	for _, c := range []struct {
		who      *ftp.ServerConn
		name     string
		dir      string
		want     string // "" for 250, else in the 550 reply
		requests int    // S3 requests of the CWD
	}{
		{b, "b: unknown folder: one listing", "/cam", "", 1},
		{b, "b: new name in a listed folder: none", "/cam/2026-12-02", "no such file", 0},
		{b, "b: and again", "/cam/2026-12-02", "no such file", 0},
		{b, "b: a file", "/f.jpg", "not a directory", 2},
		{upOnly, "upload-only: a file", "/f.jpg", "permission denied", 2},
		{a, "a: missing, where it remembers nothing", "/other", "no such file", 2},
		{a, "a: where it found nothing", "/other", "no such file", 0},
	} {
		counter.Reset()
		err := c.who.ChangeDir(c.dir)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: CWD %s: %v", c.name, c.dir, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: CWD %s: %v, want 550 ... %s", c.name, c.dir, err, c.want)
		}
		if n := total(counter.Counts()); n != c.requests {
			t.Errorf("%s: CWD %s: %d S3 requests %v, want %d", c.name, c.dir, n, counter.Counts(), c.requests)
		}
	}

	// a makes /cam/2026-12-02, which b remembers missing until it makes it too.
	if err := a.MakeDir("/cam/2026-12-02"); err != nil {
		t.Fatal(err)
	}
	if err := b.ChangeDir("/cam/2026-12-02"); err == nil {
		t.Error("b entered a directory it remembered missing: the memory is not used")
	}
	if err := b.MakeDir("/cam/2026-12-02"); err != nil {
		t.Errorf("b: MKD of the directory a made: %v, want 257 (the marker again)", err)
	}
	if err := b.ChangeDir("/cam/2026-12-02"); err != nil {
		t.Errorf("b: CWD after its MKD: %v", err)
	}
}

// total sums S3 request counts.
func total(counts map[string]int) int {
	n := 0
	for _, v := range counts {
		n += v
	}
	return n
}
