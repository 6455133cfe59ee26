package api

import (
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// TestUserJSONRoundTrip checks that toUser inverts toUserJSON and that
// empty lists are [] rather than null.
func TestUserJSONRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("CET", 3600))
	u := &auth.User{
		Name: "cam01", Bucket: "cams", Prefix: "p/", Permissions: auth.PermList | auth.PermRmdir,
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")},
		RequireTLS:      true, Disabled: true, Description: "d", CreatedAt: now, UpdatedAt: now,
	}
	j := toUserJSON(u)
	if j.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at is not UTC: %v", j.CreatedAt)
	}
	back, err := j.toUser()
	if err != nil {
		t.Fatal(err)
	}
	if !back.CreatedAt.Equal(now) || !back.UpdatedAt.Equal(now) {
		t.Errorf("times: %v %v", back.CreatedAt, back.UpdatedAt)
	}
	back.CreatedAt, back.UpdatedAt = now, now
	if !reflect.DeepEqual(back, u) {
		t.Errorf("round trip: %+v\nwant %+v", back, u)
	}
	empty := toUserJSON(&auth.User{Name: "x"})
	if empty.Permissions == nil || empty.AllowedNetworks == nil {
		t.Errorf("empty lists are nil: %+v", empty)
	}
}

func TestParseNetworks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want string
		err  bool
	}{
		{nil, "[]", false},
		{[]string{"192.0.2.0/24", "192.0.2.7", "2001:db8::/32", "::1"}, "[192.0.2.0/24 192.0.2.7/32 2001:db8::/32 ::1/128]", false},
		{[]string{"10.0.0.0/8", "ten"}, "", true},
		{[]string{"10.0.0.0/33"}, "", true},
		{[]string{"fe80::1%eth0"}, "", true},
		{[]string{""}, "", true},
	}
	for _, tt := range tests {
		got, err := parseNetworks(tt.in)
		if tt.err {
			if fe, ok := err.(*auth.FieldError); !ok || fe.Field != "allowed_networks" {
				t.Errorf("parseNetworks(%q) = %v, %v; want a field error", tt.in, got, err)
			}
			continue
		}
		if err != nil || formatPrefixes(got) != tt.want {
			t.Errorf("parseNetworks(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func formatPrefixes(p []netip.Prefix) string {
	s := make([]string, len(p))
	for i, n := range p {
		s[i] = n.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestDecode checks decode directly for the cases an HTTP test cannot
// reach easily, and that no error repeats the body.
func TestDecode(t *testing.T) {
	t.Parallel()
	const secret = "SecretValue42"
	tests := []struct {
		body, field, msg string
	}{
		{`{"password": "` + secret + `"}`, "", ""},
		{`{"password": "` + secret + `"} `, "", ""},
		{`{"password": "` + secret + `"} x`, "", "malformed JSON"},
		{`{"password": ` + secret + `}`, "", "malformed JSON"},
		{`{"password": "` + secret + `", "Password2": 1}`, "Password2", "unknown field"},
		{`{"password": 1}`, "password", "must be a string, not a number"},
		{`{"password": true}`, "password", "must be a string, not a bool"},
		{`"` + secret + `"`, "", "the body must be a JSON object"},
		{`null`, "", "the body must be a JSON object"},
		{`[{}]`, "", "the body must be a JSON object"},
		{`{} {}`, "", "exactly one"},
		{``, "", "empty"},
		{`   `, "", "empty"},
		{`{"password": "` + secret, "", "middle"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		var in passwordInput
		err := decode(r, &in)
		if tt.msg == "" {
			if err != nil {
				t.Errorf("decode(%q): %v", tt.body, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Status != 400 || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
			t.Errorf("decode(%q) = %v; want a 400 for field %q with %q", tt.body, err, tt.field, tt.msg)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("decode(%q) = %v, which repeats the body", tt.body, err)
		}
	}
}
