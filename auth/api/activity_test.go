package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// testActivity records activity in the store as a gateway would and reads
// it back through GET .../activity and the users list.
func testActivity(t *testing.T, open func(t *testing.T) auth.Store) {
	s := newServer(t, open, nil)
	store := s.store.(auth.ActivityStore)
	s.createUser(t, "cam17", auth.UserPatch{ExpectUploadEvery: ptr(time.Second)})
	s.createUser(t, "scanner", auth.UserPatch{})
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := store.RecordActivity(t.Context(), []auth.ActivityUpdate{{
		Name:        "cam17",
		Login:       &auth.Login{Time: now.Add(-3 * time.Hour), Addr: netip.MustParseAddr("192.0.2.17")},
		Error:       &auth.Failure{Time: now.Add(-2 * time.Hour), Message: "upload /b.jpg: aborted"},
		Uploads:     []auth.Upload{{Time: now.Add(-3 * time.Hour), Path: "/a.jpg", Size: 10}, {Time: now.Add(-2 * time.Hour), Path: "/<b>.jpg", Size: 20}},
		UploadCount: 2, UploadBytes: 30,
	}}); err != nil {
		t.Fatal(err)
	}

	// Its uploads predate it (a recreated user): cam17 is silent one
	// second after its creation.
	var r reply
	for {
		r = s.do(t, "GET", "/api/v1/users/CAM17/activity", readToken, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET activity = %d %s", r.status, r.body)
		}
		var probe struct{ Silent bool }
		if r.decode(t, &probe); probe.Silent {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatal("cam17 never became silent")
		case <-time.After(100 * time.Millisecond):
		}
	}
	var raw map[string]json.RawMessage
	r.decode(t, &raw)
	want := []string{"bytes_24h", "last_error", "last_login", "last_upload", "recent", "silent", "uploads_24h"}
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, want) {
		t.Errorf("activity keys = %v, want %v", got, want)
	}
	var a struct {
		LastLogin struct {
			Time time.Time
			Addr string
		} `json:"last_login"`
		LastUpload struct {
			Time time.Time
			Path string
			Size int64
		} `json:"last_upload"`
		LastError  struct{ Message string } `json:"last_error"`
		Uploads24h int64                    `json:"uploads_24h"`
		Bytes24h   int64                    `json:"bytes_24h"`
		Silent     bool                     `json:"silent"`
		Recent     []struct{ Path string }  `json:"recent"`
	}
	r.decode(t, &a)
	if a.LastLogin.Addr != "192.0.2.17" || !a.LastLogin.Time.Equal(now.Add(-3*time.Hour)) ||
		a.LastUpload.Path != "/<b>.jpg" || a.LastUpload.Size != 20 || a.LastError.Message != "upload /b.jpg: aborted" ||
		a.Uploads24h != 2 || a.Bytes24h != 30 || len(a.Recent) != 2 || a.Recent[0].Path != "/<b>.jpg" {
		t.Errorf("activity = %+v", a)
	}

	// A user never seen: nulls, zeros and [].
	r = s.do(t, "GET", "/api/v1/users/scanner/activity", readToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET activity = %d %s", r.status, r.body)
	}
	var empty map[string]any
	r.decode(t, &empty)
	for k, v := range map[string]any{"last_login": nil, "last_upload": nil, "last_error": nil, "uploads_24h": 0.0, "silent": false} {
		if empty[k] != v {
			t.Errorf("activity of a new user: %s = %v, want %v", k, empty[k], v)
		}
	}
	if rec, ok := empty["recent"].([]any); !ok || len(rec) != 0 {
		t.Errorf("recent = %#v, want []", empty["recent"])
	}

	for path, status := range map[string]int{"/api/v1/users/nobody/activity": 404, "/api/v1/users/bad%20name/activity": 400} {
		if r := s.do(t, "GET", path, readToken, ""); r.status != status {
			t.Errorf("GET %s = %d, want %d", path, r.status, status)
		}
	}
	if r := s.do(t, "GET", "/api/v1/users/cam17/activity", "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("GET activity without a token = %d, want 401", r.status)
	}

	var list struct {
		Users    []struct{ Name string }
		Activity map[string]struct {
			Silent     bool  `json:"silent"`
			Uploads24h int64 `json:"uploads_24h"`
		}
	}
	s.do(t, "GET", "/api/v1/users?limit=1&after=cam17", readToken, "").decode(t, &list)
	if len(list.Users) != 1 || list.Users[0].Name != "scanner" || len(list.Activity) != 1 {
		t.Errorf("list page = %+v, want only scanner and its activity", list)
	}
	s.do(t, "GET", "/api/v1/users", readToken, "").decode(t, &list)
	if c := list.Activity["cam17"]; !c.Silent || c.Uploads24h != 2 {
		t.Errorf("list activity of cam17 = %+v", c)
	}
}
