package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"testing"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway/gatewaytest"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// The camera burst: each camera logs in, and for each of its dated
// directories sends the MKD chain (camera folder, then the day's), a CWD
// into it and burstFiles pictures of burstSize bytes.
const (
	burstFiles = 25
	burstSize  = 200 << 10
)

// cameraBurst runs one camera's session: dirs dated directories of
// burstFiles pictures each under /cam, with the MKD chain before each
// directory, as cameras do (an existing folder answers 550, which they
// ignore).
func cameraBurst(tb testing.TB, rig *gatewaytest.Rig, user, session string, dirs int) {
	tb.Helper()
	c := rig.Login(tb, user, ftp.DialWithDisabledEPSV(false))
	pic := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0xE0}, burstSize/4)
	for d := range dirs {
		dir := fmt.Sprintf("/cam/2026-12-%02d-%s", d+1, session)
		_ = c.MakeDir("/cam") // 550 once it exists
		if err := c.MakeDir(dir); err != nil {
			tb.Fatalf("MKD %s: %v", dir, err)
		}
		if err := c.ChangeDir(dir); err != nil {
			tb.Fatalf("CWD %s: %v", dir, err)
		}
		for i := range burstFiles {
			name := fmt.Sprintf("%06d.jpg", i)
			if err := c.Stor(name, bytes.NewReader(pic)); err != nil {
				tb.Fatalf("STOR %s/%s: %v", dir, name, err)
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
// one PutObject, and the session one listing of the camera folder to learn
// it exists and what is in it: 1.05 requests per file for 100 files. A user
// without the overwrite permission adds one HeadObject per picture.
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
			"ListObjectsV2": sessions,              // MKD /cam: it exists, and what is in it
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
			total := 0
			for _, n := range got {
				total += n
			}
			if !maps.Equal(got, c.want) {
				t.Errorf("S3 requests %v, want %v", got, c.want)
			}
			if perFile := float64(total) / files; perFile > c.perFile {
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
	total := 0
	for _, v := range counter.Counts() {
		total += v
	}
	b.ReportMetric(float64(total)/float64(b.N*sessions*dirs*burstFiles), "s3req/file")
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
