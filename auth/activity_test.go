package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

func TestParseExpectUploadEvery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"  ", 0, true},
		{"1h", time.Hour, true},
		{"1s", time.Second, true},
		{"90m", 90 * time.Minute, true},
		{"8784h", 8784 * time.Hour, true},
		{"8785h", 0, false},
		{"500ms", 0, false},
		{"1.5s", 0, false},
		{"0s", 0, true},
		{"-1h", 0, false},
		{"1 hour", 0, false},
		{"<script>", 0, false},
	}
	for _, tt := range tests {
		got, err := auth.ParseExpectUploadEvery(tt.in)
		var fe *auth.FieldError
		switch {
		case tt.ok && (err != nil || got != tt.want):
			t.Errorf("ParseExpectUploadEvery(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		case !tt.ok && (!errors.As(err, &fe) || fe.Field != "expect_upload_every" || !errors.Is(err, auth.ErrInvalid)):
			t.Errorf("ParseExpectUploadEvery(%q) = %v, %v; want a FieldError for expect_upload_every", tt.in, got, err)
		}
	}
	if s := auth.FormatExpectUploadEvery(90 * time.Minute); s != "1h30m0s" {
		t.Errorf("FormatExpectUploadEvery(90m) = %q", s)
	}
	if s := auth.FormatExpectUploadEvery(0); s != "" {
		t.Errorf("FormatExpectUploadEvery(0) = %q, want empty", s)
	}
}

func TestActivitySilent(t *testing.T) {
	t.Parallel()
	created := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	upload := func(d time.Duration) *auth.Activity {
		return &auth.Activity{LastUpload: &auth.Upload{Time: created.Add(d)}}
	}
	tests := []struct {
		name     string
		every    time.Duration
		disabled bool
		a        *auth.Activity
		now      time.Time
		want     bool
	}{
		{"no expectation", 0, false, nil, created.Add(1000 * time.Hour), false},
		{"new user within its first period", time.Hour, false, nil, created.Add(time.Hour), false},
		{"never uploaded, past the period", time.Hour, false, &auth.Activity{}, created.Add(time.Hour + time.Second), true},
		{"uploaded recently", time.Hour, false, upload(5 * time.Hour), created.Add(5*time.Hour + 59*time.Minute), false},
		{"uploaded too long ago", time.Hour, false, upload(5 * time.Hour), created.Add(6*time.Hour + time.Second), true},
		{"disabled users are never silent", time.Hour, true, upload(0), created.Add(100 * time.Hour), false},
		{"upload before creation (recreated user)", time.Hour, false, upload(-10 * time.Hour), created.Add(30 * time.Minute), false},
	}
	for _, tt := range tests {
		u := &auth.User{Name: "cam", ExpectUploadEvery: tt.every, Disabled: tt.disabled, CreatedAt: created}
		if got := tt.a.Silent(u, tt.now); got != tt.want {
			t.Errorf("%s: Silent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestManagerExpectUploadEvery(t *testing.T) {
	t.Parallel()
	m := auth.NewManager(openStore(t))
	ctx := t.Context()
	if _, err := m.Create(ctx, "cam", auth.UserPatch{Password: ptr("a password"), Bucket: ptr("cams"),
		ExpectUploadEvery: ptr(500 * time.Millisecond)}); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("Create with expect_upload_every 500ms = %v, want ErrInvalid", err)
	}
	u, err := m.Create(ctx, "cam", auth.UserPatch{Password: ptr("a password"), Bucket: ptr("cams"), ExpectUploadEvery: ptr(time.Hour)})
	if err != nil || u.ExpectUploadEvery != time.Hour {
		t.Fatalf("Create = %+v, %v", u, err)
	}
	var fe *auth.FieldError
	if _, err := m.Update(ctx, "cam", auth.UserPatch{ExpectUploadEvery: ptr(-time.Hour)}); !errors.As(err, &fe) || fe.Field != "expect_upload_every" {
		t.Errorf("Update to -1h = %v, want a FieldError for expect_upload_every", err)
	}
	if u, err := m.Update(ctx, "cam", auth.UserPatch{Description: ptr("kept")}); err != nil || u.ExpectUploadEvery != time.Hour {
		t.Errorf("an Update of another field changed the expectation: %+v, %v", u, err)
	}
	if u, err := m.Replace(ctx, "cam", auth.UserPatch{Bucket: ptr("cams")}); err != nil || u.ExpectUploadEvery != 0 {
		t.Errorf("Replace without it = %+v, %v; want no expectation", u, err)
	}
	_, a, err := m.Activity(ctx, "cam", time.Now())
	if err != nil || a.LastUpload != nil {
		t.Errorf("Activity of a new user = %+v, %v", a, err)
	}
	if _, _, err := m.Activity(ctx, "nobody", time.Now()); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("Activity(nobody) = %v, want ErrNotFound", err)
	}
}
