package events

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

func TestEventJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		ev   Event
		want map[string]any
	}{
		{
			name: "upload",
			ev: Event{ID: "0123456789abcdef0123456789abcdef", Type: TypeUpload, Time: at, User: "scanner1",
				Bucket: "docs", Key: "scanner1/in/a.pdf", Path: "/in/a.pdf", Size: 42,
				SHA256:   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				ClientIP: "192.0.2.7", Session: "s-17"},
			want: map[string]any{"id": "0123456789abcdef0123456789abcdef", "type": "upload",
				"time": "2025-03-01T12:00:00.123Z", "user": "scanner1", "bucket": "docs",
				"key": "scanner1/in/a.pdf", "path": "/in/a.pdf", "size": 42.0,
				"sha256":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				"client_ip": "192.0.2.7", "session": "s-17"},
		},
		{
			name: "rename without digest",
			ev: Event{ID: "id2", Type: TypeRename, Time: at, User: "u", Bucket: "b", Key: "u/new",
				Path: "/new", OldKey: "u/old", OldPath: "/old", ClientIP: "2001:db8::1", Session: "s"},
			want: map[string]any{"id": "id2", "type": "rename", "time": "2025-03-01T12:00:00.123Z",
				"user": "u", "bucket": "b", "key": "u/new", "path": "/new", "size": 0.0,
				"old_key": "u/old", "old_path": "/old", "client_ip": "2001:db8::1", "session": "s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("fields: got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %#v, want %#v", k, got[k], v)
				}
			}
			var back Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !back.Time.Equal(at.Truncate(time.Millisecond)) {
				t.Errorf("time round trip: got %v", back.Time)
			}
		})
	}
}

func TestEventJSONBadTime(t *testing.T) {
	t.Parallel()
	if _, err := json.Marshal(Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Fatal("year 10000 encoded")
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := make(map[string]bool)
	for range 1000 {
		id := newID()
		if !hex32.MatchString(id) || seen[id] {
			t.Fatalf("id %q: not 32 hex digits or repeated", id)
		}
		seen[id] = true
	}
}
