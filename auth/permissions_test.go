package auth_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
)

func TestParsePermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names   []string
		want    auth.Permissions
		wantErr bool
	}{
		{nil, 0, false},
		{[]string{}, 0, false},
		{[]string{""}, 0, false},
		{[]string{"list"}, auth.PermList, false},
		{[]string{"LIST", " Upload "}, auth.PermList | auth.PermUpload, false},
		{[]string{"list", "list"}, auth.PermList, false},
		{[]string{"", "rmdir", ""}, auth.PermRmdir, false},
		{[]string{"all"}, auth.AllPermissions, false},
		{[]string{"ALL", "list"}, auth.AllPermissions, false},
		{[]string{"download", "overwrite", "delete", "rename", "mkdir"},
			auth.PermDownload | auth.PermOverwrite | auth.PermDelete | auth.PermRename | auth.PermMkdir, false},
		{[]string{"fly"}, 0, true},
		{[]string{"list", "lists"}, 0, true},
		{[]string{"list,upload"}, 0, true},
	}
	for _, tt := range tests {
		got, err := auth.ParsePermissions(tt.names)
		if tt.wantErr {
			if err == nil || fieldOf(err) != "permissions" {
				t.Errorf("ParsePermissions(%q) = %v, %v; want a permissions FieldError", tt.names, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePermissions(%q) = %v, %v; want %v", tt.names, got, err, tt.want)
		}
	}
}

func TestPermissionsNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    auth.Permissions
		want []string
	}{
		{0, []string{}},
		{auth.PermUpload | auth.PermList, []string{"list", "upload"}},
		{auth.AllPermissions, []string{"list", "download", "upload", "overwrite", "delete", "rename", "mkdir", "rmdir"}},
		{auth.PermRmdir | 1<<12, []string{"rmdir"}},
	}
	for _, tt := range tests {
		got := tt.p.Names()
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("Permissions(%#x).Names() = %#v, want %q", uint16(tt.p), got, tt.want)
		}
		if s := tt.p.String(); s != strings.Join(tt.want, ",") {
			t.Errorf("Permissions(%#x).String() = %q", uint16(tt.p), s)
		}
	}
}

func TestPermissionsHas(t *testing.T) {
	t.Parallel()
	p := auth.PermList | auth.PermDownload
	tests := []struct {
		want auth.Permissions
		has  bool
	}{
		{0, true},
		{auth.PermList, true},
		{auth.PermList | auth.PermDownload, true},
		{auth.PermUpload, false},
		{auth.PermList | auth.PermUpload, false},
	}
	for _, tt := range tests {
		if got := p.Has(tt.want); got != tt.has {
			t.Errorf("%v.Has(%v) = %v, want %v", p, tt.want, got, tt.has)
		}
	}
}

// TestPermissionsRoundTrip checks every combination through String and
// ParsePermissions (the SQLite column) and through JSON.
func TestPermissionsRoundTrip(t *testing.T) {
	t.Parallel()
	for p := range auth.AllPermissions + 1 {
		got, err := auth.ParsePermissions(strings.Split(p.String(), ","))
		if err != nil || got != p {
			t.Fatalf("ParsePermissions(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
		b, err := json.Marshal(struct{ P auth.Permissions }{p})
		if err != nil {
			t.Fatalf("Marshal(%v): %v", p, err)
		}
		var back struct{ P auth.Permissions }
		if err := json.Unmarshal(b, &back); err != nil || back.P != p {
			t.Fatalf("Unmarshal(%s) = %v, %v; want %v", b, back.P, err, p)
		}
	}
}

func TestPermissionsJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(auth.PermList | auth.PermMkdir)
	if err != nil || string(b) != `["list","mkdir"]` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
	if b, _ := json.Marshal(auth.Permissions(0)); string(b) != `[]` {
		t.Errorf("Marshal(0) = %s, want []", b)
	}
	tests := []struct {
		in      string
		want    auth.Permissions
		wantErr bool
	}{
		{`[]`, 0, false},
		{`null`, 0, false},
		{`["all"]`, auth.AllPermissions, false},
		{`["Download","list"]`, auth.PermList | auth.PermDownload, false},
		{`"list"`, 0, true},
		{`3`, 0, true},
		{`{"list":true}`, 0, true},
		{`["fly"]`, 0, true},
		{`[1]`, 0, true},
	}
	for _, tt := range tests {
		var p auth.Permissions
		err := json.Unmarshal([]byte(tt.in), &p)
		if tt.wantErr {
			if fieldOf(err) != "permissions" {
				t.Errorf("Unmarshal(%s) = %v, %v; want a permissions FieldError", tt.in, p, err)
			}
			continue
		}
		if err != nil || p != tt.want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", tt.in, p, err, tt.want)
		}
	}
}
