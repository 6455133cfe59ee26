package console_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/auth/sqlite"
	"github.com/s3ftp/s3ftp/console"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/activity"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// chromium returns the browser to drive: $S3FTP_CHROMIUM, else chromium on
// PATH. Without one the test is skipped, or fails under S3FTP_TEST_STRICT=1
// (CI, where test/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("S3FTP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("S3FTP_TEST_STRICT") == "1" {
		t.Fatal("chromium is not installed (apt-get install chromium) and S3FTP_TEST_STRICT=1")
	}
	t.Skip("chromium is not installed")
	return ""
}

// shotsDir is where screenshots go: $S3FTP_CONSOLE_SHOTS, else a temporary
// directory of the test.
func shotsDir(t *testing.T) string {
	if d := os.Getenv("S3FTP_CONSOLE_SHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// fleetEnv is a gateway and its console sharing one SQLite store, as serve
// runs them, with activity written behind every 50 ms.
type fleetEnv struct {
	consoleURL string
	ftpAddr    string
	bucket     string
	m          *auth.Manager
	store      *sqlite.Store
}

func newFleetEnv(t *testing.T) *fleetEnv {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rec, err := activity.New(store, activity.Config{FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	s3 := s3test.Fake(t)
	bucket := s3.NewBucket(t)
	svc, err := storage.NewService(s3.Client(false, nil), storage.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewAuthenticator(store, auth.AuthenticatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Config{
		Settings:      gateway.Settings{Listener: l},
		Authenticator: authn,
		Storage:       svc,
		Activity:      rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	m := auth.NewManager(store)
	h, err := console.NewHandler(console.Config{Manager: m, Tokens: []api.Token{api.PlainToken(adminToken, false)}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fleetEnv{consoleURL: srv.URL, ftpAddr: gw.Addr(), bucket: bucket, m: m, store: store}
}

// TestBrowser drives Debian's chromium through the console as an operator
// would: sign in, add a device's user, see its FTP upload appear, change
// its permissions, see it flagged silent when its expectation passes, and
// sign out. Screenshots of each step are saved in shotsDir.
func TestBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	shots := shotsDir(t)
	e := newFleetEnv(t)
	seedFleet(t, e)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()
	// A dialog would mean a script from a file name ran.
	dialogs := make(chan string, 4)
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*cdppage.EventJavascriptDialogOpening); ok {
			select {
			case dialogs <- d.Message:
			default:
			}
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	get := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	// No session: the sign-in page.
	run("open the console", chromedp.Navigate(e.consoleURL+"/console/"), chromedp.WaitVisible(css("#token")))
	if url := get("location", chromedp.Location()); !strings.HasSuffix(url, "/console/sign-in") {
		t.Fatalf("without a session the console shows %s, want the sign-in page", url)
	}
	shot("01-sign-in")
	run("sign in with a wrong token", chromedp.SendKeys(css("#token"), "not the token"), chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css(".error")))
	if text := get("refusal", chromedp.Text(css(".error"))); text != "Sign-in refused. Check the token or password." {
		t.Errorf("wrong token: %q", text)
	}
	run("sign in", chromedp.SendKeys(css("#token"), adminToken), chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css("#fleet")))

	// Add the user of a new camera.
	run("add a user", chromedp.Navigate(e.consoleURL+"/console/new"), chromedp.WaitVisible(css("#name")),
		chromedp.SendKeys(css("#name"), "cam17"), chromedp.SendKeys(css("#password"), "cam17 password"),
		chromedp.SendKeys(css("#bucket"), e.bucket), chromedp.SendKeys(css("#expect_upload_every"), "3s"),
		chromedp.SendKeys(css("#description"), "Loading dock camera"))
	shot("02-add-user")
	run("submit", chromedp.Click(css("#create")), chromedp.WaitVisible(css("#last-upload")))
	if url := get("location", chromedp.Location()); !strings.Contains(url, "/console/users/cam17") {
		t.Fatalf("after adding: %s", url)
	}

	// The camera uploads through FTP; the upload shows on its page.
	const evil = `<script>alert(1)</script>.jpg`
	c, err := ftp.Dial(e.ftpAddr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("cam17", "cam17 password"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("dock-0600.jpg", bytes.NewReader(bytes.Repeat([]byte("j"), 48213))); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor(evil, bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, e.consoleURL+"/console/users/cam17", "#recent", evil)
	if text := get("recent uploads", chromedp.Text(css("#recent"))); !strings.Contains(text, "dock-0600.jpg") || !strings.Contains(text, "48.2 kB") {
		t.Errorf("recent uploads: %q", text)
	}
	shot("03-user-upload")

	// Edit its permissions (list, upload and mkdir by default): add
	// download, drop mkdir.
	run("edit permissions", chromedp.Click(css("#perm-download")), chromedp.Click(css("#perm-mkdir")),
		chromedp.Submit(css("#edit")), chromedp.WaitVisible(css(".flash")))
	if text := get("flash", chromedp.Text(css(".flash"))); text != "Saved." {
		t.Errorf("after saving: %q", text)
	}
	if u, err := e.m.Get(t.Context(), "cam17"); err != nil || u.Permissions.String() != "list,download,upload" {
		t.Errorf("permissions after the edit: %v, %v", u, err)
	}
	// A bad value is refused next to its field.
	run("bad expectation", chromedp.SetValue(css("#expect_upload_every"), "soon"), chromedp.Submit(css("#edit")),
		chromedp.WaitVisible(css("#expect_upload_every-error")))
	if text := get("field error", chromedp.Text(css("#expect_upload_every-error"))); !strings.Contains(text, "must be a duration") {
		t.Errorf("error next to the field: %q", text)
	}
	shot("04-field-error")

	// Three seconds without an upload: silent.
	waitText(t, ctx, e.consoleURL+"/console/users/cam17", "#status", "silent")
	shot("05-user-silent")
	run("fleet", chromedp.Navigate(e.consoleURL+"/console/?sort=status&desc=1"), chromedp.WaitVisible(css("#fleet")))
	if text := get("silent row", chromedp.Text(css("#fleet tr.silent"))); !strings.Contains(text, "cam17") {
		t.Errorf("the fleet's first silent row: %q", text)
	}
	shot("06-fleet")

	// Sign out: the console is closed again.
	run("sign out", chromedp.Click(css(".signout button")), chromedp.WaitVisible(css("#token")),
		chromedp.Navigate(e.consoleURL+"/console/users/cam17"), chromedp.WaitVisible(css("#token")))
	if url := get("location", chromedp.Location()); !strings.HasSuffix(url, "/console/sign-in") {
		t.Errorf("after signing out: %s", url)
	}
	select {
	case msg := <-dialogs:
		t.Errorf("a script ran in the console: dialog %q", msg)
	default:
	}
}

// waitText reloads url until the element sel holds want.
func waitText(t *testing.T, ctx context.Context, url, sel, want string) {
	t.Helper()
	for {
		err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
		var text string
		if err == nil {
			text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		}
		if err != nil {
			t.Fatalf("waiting for %q in %s: %v", want, sel, err)
		}
		if strings.Contains(text, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never showed %q (last: %q)", sel, want, text)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// seedFleet adds a few devices with activity, so the fleet looks like one.
func seedFleet(t *testing.T, e *fleetEnv) {
	t.Helper()
	now := time.Now()
	hash := "$2a$04$.7mQsNFZKy1WaiViIWJmMuAqSH696Cp3F2406h6/xNubZ/e82D61S"
	for i, d := range []struct {
		name, desc string
		every      time.Duration
		disabled   bool
		uploads    int
	}{
		{"cam01", "Lobby camera", time.Hour, false, 240},
		{"cam02", "Car park camera", time.Hour, false, 180},
		{"scanner-hr", "HR office scanner", 0, false, 12},
		{"lab-spectro", "Spectrometer, lab 3", 24 * time.Hour, false, 3},
		{"old-nvr", "Replaced NVR", 0, true, 0},
	} {
		if _, err := e.m.Create(t.Context(), d.name, auth.UserPatch{PasswordHash: &hash, Bucket: &e.bucket,
			Description: &d.desc, ExpectUploadEvery: &d.every, Disabled: &d.disabled}); err != nil {
			t.Fatal(err)
		}
		if d.uploads == 0 {
			continue
		}
		var ups []auth.Upload
		for j := range min(d.uploads, auth.RecentUploads) {
			ups = append(ups, auth.Upload{Time: now.Add(-time.Duration(d.uploads-j) * 5 * time.Minute / time.Duration(i+1)),
				Path: fmt.Sprintf("/%s/%04d.jpg", now.Format("2006/01/02"), j), Size: int64(150000 + 1000*j)})
		}
		err := e.store.RecordActivity(t.Context(), []auth.ActivityUpdate{{Name: d.name, Uploads: ups,
			UploadCount: int64(d.uploads), UploadBytes: int64(d.uploads) * 160000}})
		if err != nil {
			t.Fatal(err)
		}
	}
}
