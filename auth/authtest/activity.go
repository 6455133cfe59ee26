package authtest

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// ActivityStore is a Store that keeps activity, as both SQL stores do.
type ActivityStore interface {
	auth.Store
	auth.ActivityStore
}

// TestActivity runs the conformance suite of auth.ActivityStore, each test
// in a parallel subtest on a new, empty store from open, closed when the
// subtest ends.
func TestActivity(t *testing.T, open func(t *testing.T) ActivityStore) {
	runSuite(t, open, []suiteTest[ActivityStore]{
		{"Empty", testActivityEmpty},
		{"Record", testActivityRecord},
		{"NewerWins", testActivityNewerWins},
		{"RecentBounded", testActivityRecentBounded},
		{"Window", testActivityWindow},
		{"UnknownUserSkipped", testActivityUnknownUser},
		{"DeletedWithUser", testActivityDeleted},
		{"List", testActivityList},
		{"SilentNotified", testSilentNotified},
	})
}

// TestSharedActivity checks that two stores a and b opened on the same
// database (two gateways) see one fleet: what one records the other reads,
// and of both setting SilentNotified at once exactly one wins.
func TestSharedActivity(t *testing.T, a, b ActivityStore) {
	create(t, a, newUser(t, "cam17"))
	now := time.Now().UTC().Truncate(time.Microsecond)
	record(t, a, auth.ActivityUpdate{Name: "cam17", Uploads: []auth.Upload{{Time: now, Path: "/a.jpg", Size: 10}}, UploadCount: 1, UploadBytes: 10})
	record(t, b, auth.ActivityUpdate{Name: "cam17", Uploads: []auth.Upload{{Time: now.Add(time.Second), Path: "/b.jpg", Size: 20}}, UploadCount: 1, UploadBytes: 20})
	for _, s := range []ActivityStore{a, b} {
		got := getActivity(t, s, "cam17", now)
		if got.Uploads24h != 2 || got.Bytes24h != 30 || got.LastUpload == nil || got.LastUpload.Path != "/b.jpg" || len(got.Recent) != 2 {
			t.Errorf("activity = %+v, want both gateways' uploads", got)
		}
	}
	if won := raceSilent(t, []auth.ActivityStore{a, b, a, b}, "cam17", true); won != 1 {
		t.Errorf("%d stores flipped silent_notified to true, want 1", won)
	}
	if won := raceSilent(t, []auth.ActivityStore{b, a, b, a}, "cam17", false); won != 1 {
		t.Errorf("%d stores flipped silent_notified to false, want 1", won)
	}
}

func record(t *testing.T, s auth.ActivityStore, updates ...auth.ActivityUpdate) {
	t.Helper()
	if err := s.RecordActivity(t.Context(), updates); err != nil {
		t.Fatalf("RecordActivity: %v", err)
	}
}

func getActivity(t *testing.T, s auth.ActivityStore, name string, now time.Time) *auth.Activity {
	t.Helper()
	a, err := s.GetActivity(t.Context(), name, now)
	if err != nil {
		t.Fatalf("GetActivity(%q): %v", name, err)
	}
	return a
}

// raceSilent calls SetSilentNotified(name, to) on every store at once and
// returns how many reported a change.
func raceSilent(t *testing.T, stores []auth.ActivityStore, name string, to bool) int {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  int
		errs []error
	)
	start := make(chan struct{})
	for _, s := range stores {
		wg.Go(func() {
			<-start
			ok, err := s.SetSilentNotified(t.Context(), name, to)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				won++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("SetSilentNotified(%q, %v): %v", name, to, err)
	}
	return won
}

func testActivityEmpty(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "quiet"))
	a := getActivity(t, s, "quiet", time.Now())
	if a.LastLogin != nil || a.LastUpload != nil || a.LastError != nil || a.Uploads24h != 0 ||
		a.Bytes24h != 0 || len(a.Recent) != 0 || a.SilentNotified {
		t.Errorf("activity of a new user = %+v, want the zero Activity", a)
	}
	if _, err := s.GetActivity(t.Context(), "nobody", time.Now()); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("GetActivity(nobody) = %v, want ErrNotFound", err)
	}
}

func testActivityRecord(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "scanner"))
	now := time.Now().UTC().Truncate(time.Microsecond)
	addr := netip.MustParseAddr("2001:db8::7")
	ups := []auth.Upload{
		{Time: now.Add(-2 * time.Second), Path: "/scans/1.pdf", Size: 100},
		{Time: now.Add(-time.Second), Path: "/scans/Zoë \"2\".pdf", Size: 200},
	}
	record(t, s, auth.ActivityUpdate{
		Name: "scanner", Login: &auth.Login{Time: now.Add(-3 * time.Second), Addr: addr},
		Error:   &auth.Failure{Time: now, Message: "upload /x: refused"},
		Uploads: ups, UploadCount: 3, UploadBytes: 350, // one more than Uploads holds
	})
	a := getActivity(t, s, "scanner", now)
	if a.LastLogin == nil || !a.LastLogin.Time.Equal(now.Add(-3*time.Second)) || a.LastLogin.Addr != addr {
		t.Errorf("LastLogin = %+v", a.LastLogin)
	}
	if a.LastUpload == nil || *a.LastUpload != ups[1] || a.LastUpload.Time.Location() != time.UTC {
		t.Errorf("LastUpload = %+v, want %+v in UTC", a.LastUpload, ups[1])
	}
	if a.LastError == nil || a.LastError.Message != "upload /x: refused" || !a.LastError.Time.Equal(now) {
		t.Errorf("LastError = %+v", a.LastError)
	}
	if a.Uploads24h != 3 || a.Bytes24h != 350 {
		t.Errorf("Uploads24h, Bytes24h = %d, %d; want 3, 350", a.Uploads24h, a.Bytes24h)
	}
	if want := []auth.Upload{ups[1], ups[0]}; !slices.Equal(a.Recent, want) {
		t.Errorf("Recent = %+v, want %+v (newest first)", a.Recent, want)
	}
	// A second batch adds to the counts.
	record(t, s, auth.ActivityUpdate{Name: "scanner", Uploads: []auth.Upload{{Time: now, Path: "/3", Size: 1}}, UploadCount: 1, UploadBytes: 1})
	if a := getActivity(t, s, "scanner", now); a.Uploads24h != 4 || a.Bytes24h != 351 || len(a.Recent) != 3 {
		t.Errorf("after a second batch: %d uploads, %d bytes, %d recent; want 4, 351, 3", a.Uploads24h, a.Bytes24h, len(a.Recent))
	}
}

func testActivityNewerWins(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "cam"))
	now := time.Now().UTC().Truncate(time.Microsecond)
	newer := auth.ActivityUpdate{Name: "cam",
		Login:   &auth.Login{Time: now, Addr: netip.MustParseAddr("10.0.0.2")},
		Error:   &auth.Failure{Time: now, Message: "new"},
		Uploads: []auth.Upload{{Time: now, Path: "/new", Size: 2}}, UploadCount: 1, UploadBytes: 2}
	older := auth.ActivityUpdate{Name: "cam",
		Login:   &auth.Login{Time: now.Add(-time.Minute), Addr: netip.MustParseAddr("10.0.0.1")},
		Error:   &auth.Failure{Time: now.Add(-time.Minute), Message: "old"},
		Uploads: []auth.Upload{{Time: now.Add(-time.Minute), Path: "/old", Size: 1}}, UploadCount: 1, UploadBytes: 1}
	record(t, s, newer) // a gateway that flushed first
	record(t, s, older) // one that was behind
	a := getActivity(t, s, "cam", now)
	if a.LastLogin.Addr.String() != "10.0.0.2" || a.LastError.Message != "new" || a.LastUpload.Path != "/new" {
		t.Errorf("an older update replaced a newer one: %+v %+v %+v", a.LastLogin, a.LastError, a.LastUpload)
	}
	if a.Uploads24h != 2 || len(a.Recent) != 2 || a.Recent[0].Path != "/new" {
		t.Errorf("counts %d, recent %+v; want both uploads, newest first", a.Uploads24h, a.Recent)
	}
}

func testActivityRecentBounded(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "busy"))
	start := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	var batch []auth.Upload
	for i := range auth.RecentUploads + 7 {
		batch = append(batch, auth.Upload{Time: start.Add(time.Duration(i) * time.Second), Path: fmt.Sprintf("/f%d", i), Size: 1})
	}
	// In two batches, so that pruning also removes rows of an earlier one.
	record(t, s, auth.ActivityUpdate{Name: "busy", Uploads: batch[:10], UploadCount: 10, UploadBytes: 10})
	record(t, s, auth.ActivityUpdate{Name: "busy", Uploads: batch[10:], UploadCount: int64(len(batch) - 10), UploadBytes: int64(len(batch) - 10)})
	a := getActivity(t, s, "busy", start.Add(time.Hour))
	if len(a.Recent) != auth.RecentUploads {
		t.Fatalf("%d recent uploads kept, want %d", len(a.Recent), auth.RecentUploads)
	}
	for i, u := range a.Recent {
		if want := batch[len(batch)-1-i]; u != want {
			t.Errorf("Recent[%d] = %+v, want %+v", i, u, want)
		}
	}
	if a.Uploads24h != int64(len(batch)) {
		t.Errorf("Uploads24h = %d, want %d", a.Uploads24h, len(batch))
	}
}

func testActivityWindow(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "daily"))
	now := time.Date(2030, 5, 6, 12, 30, 0, 0, time.UTC)
	at := func(d time.Duration, n int64) auth.ActivityUpdate {
		return auth.ActivityUpdate{Name: "daily", Uploads: []auth.Upload{{Time: now.Add(-d), Path: "/x", Size: n}}, UploadCount: 1, UploadBytes: n}
	}
	// The window starts at 13:00 the day before: 24h ago (12:30) is
	// outside it, 23h30m ago (13:00) inside.
	record(t, s, at(30*time.Hour, 1), at(24*time.Hour, 10), at(23*time.Hour+30*time.Minute, 100), at(time.Minute, 1000))
	a := getActivity(t, s, "daily", now)
	if a.Uploads24h != 2 || a.Bytes24h != 1100 {
		t.Errorf("Uploads24h, Bytes24h = %d, %d; want 2, 1100", a.Uploads24h, a.Bytes24h)
	}
	if a := getActivity(t, s, "daily", now.Add(48*time.Hour)); a.Uploads24h != 0 || a.LastUpload == nil {
		t.Errorf("two days later: Uploads24h = %d, LastUpload = %+v; want 0 and the last upload", a.Uploads24h, a.LastUpload)
	}
}

func testActivityUnknownUser(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "known"))
	now := time.Now().UTC().Truncate(time.Microsecond)
	record(t, s,
		auth.ActivityUpdate{Name: "ghost", Login: &auth.Login{Time: now}, Uploads: []auth.Upload{{Time: now, Path: "/g", Size: 1}}, UploadCount: 1},
		auth.ActivityUpdate{Name: "known", Login: &auth.Login{Time: now}})
	if a := getActivity(t, s, "known", now); a.LastLogin == nil || a.LastLogin.Addr.IsValid() {
		t.Errorf("LastLogin of known = %+v, want one without an address", a.LastLogin)
	}
	if _, err := s.GetUser(t.Context(), "ghost"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("recording activity created a user: GetUser(ghost) = %v", err)
	}
}

func testActivityDeleted(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "gone"))
	now := time.Now().UTC().Truncate(time.Microsecond)
	record(t, s, auth.ActivityUpdate{Name: "gone", Login: &auth.Login{Time: now},
		Uploads: []auth.Upload{{Time: now, Path: "/p", Size: 5}}, UploadCount: 1, UploadBytes: 5})
	if _, err := s.SetSilentNotified(t.Context(), "gone", true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	create(t, s, newUser(t, "gone"))
	if a := getActivity(t, s, "gone", now); a.LastLogin != nil || a.LastUpload != nil || a.Uploads24h != 0 || len(a.Recent) != 0 || a.SilentNotified {
		t.Errorf("a new user of a deleted one's name has its activity: %+v", a)
	}
}

func testActivityList(t *testing.T, s ActivityStore) {
	createListUsers(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	record(t, s, auth.ActivityUpdate{Name: "a0", Uploads: []auth.Upload{{Time: now, Path: "/a0", Size: 7}}, UploadCount: 1, UploadBytes: 7})
	all := sortedListNames()
	got, err := s.ListActivity(t.Context(), "a-b", 3, now)
	if err != nil {
		t.Fatalf("ListActivity: %v", err)
	}
	for name := range got {
		if !slices.Contains(all[2:5], name) {
			t.Errorf("ListActivity(a-b, 3) holds %q, want only %q", name, all[2:5])
		}
	}
	if a := got["a0"]; a == nil || a.LastUpload == nil || a.LastUpload.Path != "/a0" || a.Uploads24h != 1 || a.Bytes24h != 7 || a.Recent != nil {
		t.Errorf("ListActivity[a0] = %+v, want its upload and no Recent", a)
	}
	every, err := s.ListActivity(t.Context(), "", 0, now)
	if err != nil || len(every) > len(all) || every["a0"] == nil {
		t.Errorf("ListActivity(all) = %d entries, %v", len(every), err)
	}
}

func testSilentNotified(t *testing.T, s ActivityStore) {
	create(t, s, newUser(t, "cam9"))
	stores := []auth.ActivityStore{s, s, s, s, s, s}
	if won := raceSilent(t, stores, "cam9", false); won != 0 {
		t.Errorf("clearing an unset flag changed it %d times", won)
	}
	if won := raceSilent(t, stores, "cam9", true); won != 1 {
		t.Errorf("%d concurrent SetSilentNotified(true) changed it, want 1", won)
	}
	if a := getActivity(t, s, "cam9", time.Now()); !a.SilentNotified {
		t.Error("SilentNotified not read back")
	}
	if won := raceSilent(t, stores, "cam9", true); won != 0 {
		t.Errorf("setting a set flag changed it %d times", won)
	}
	if won := raceSilent(t, stores, "cam9", false); won != 1 {
		t.Errorf("%d concurrent SetSilentNotified(false) changed it, want 1", won)
	}
	if ok, err := s.SetSilentNotified(t.Context(), "nobody", true); ok || err != nil {
		t.Errorf("SetSilentNotified(nobody) = %v, %v; want false, nil", ok, err)
	}
}
