package auth_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/s3ftp/s3ftp/auth"
)

func ptr[T any](v T) *T { return &v }

func TestManager(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	m := auth.NewManager(store)

	u, err := m.Create(ctx, "Cam01", auth.UserPatch{
		Password: ptr("first password"), Bucket: ptr("cams"), Prefix: ptr("/site/cam01"),
		Permissions: ptr(auth.PermUpload | auth.PermMkdir), AllowedNetworks: ptr([]netip.Prefix{netip.MustParsePrefix("192.0.2.7/24")}),
		Description: ptr("lobby camera"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "cam01" || u.Prefix != "site/cam01/" || u.PasswordHash != "" || u.AllowedNetworks[0].String() != "192.0.2.0/24" {
		t.Errorf("created %+v", u)
	}
	stored, err := store.GetUser(ctx, "cam01")
	if err != nil || !auth.IsHash(stored.PasswordHash) {
		t.Fatalf("stored user: %+v, %v", stored, err)
	}
	if ok, _ := auth.VerifyPassword(stored.PasswordHash, "first password"); !ok {
		t.Errorf("stored hash does not verify the password")
	}

	for _, c := range []struct {
		name  string
		p     auth.UserPatch
		field string
	}{
		{"Cam02", auth.UserPatch{Bucket: ptr("cams")}, "password"},
		{"Cam02", auth.UserPatch{Password: ptr("x"), PasswordHash: ptr("y"), Bucket: ptr("cams")}, "password"},
		{"Cam02", auth.UserPatch{PasswordHash: ptr("not-a-hash"), Bucket: ptr("cams")}, "password_hash"},
		{"Cam02", auth.UserPatch{Password: ptr("pw"), Bucket: ptr("Bad_Bucket")}, "bucket"},
		{"bad name", auth.UserPatch{Password: ptr("pw"), Bucket: ptr("cams")}, "name"},
		{"Cam02", auth.UserPatch{Password: ptr("pw"), Bucket: ptr("cams"), Prefix: ptr("a/../b")}, "prefix"},
	} {
		_, err := m.Create(ctx, c.name, c.p)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("create %s %+v: %v, want a %s field error", c.name, c.p, err, c.field)
		}
	}
	if _, err := m.Create(ctx, "CAM01", auth.UserPatch{Password: ptr("pw"), Bucket: ptr("cams")}); !errors.Is(err, auth.ErrExists) {
		t.Errorf("create duplicate: %v", err)
	}

	u, err = m.Update(ctx, "cam01", auth.UserPatch{Disabled: ptr(true), Permissions: ptr(auth.AllPermissions)})
	if err != nil || !u.Disabled || u.Permissions != auth.AllPermissions || u.Bucket != "cams" || u.Description != "lobby camera" {
		t.Errorf("update = %+v, %v", u, err)
	}
	if _, err := m.Update(ctx, "cam01", auth.UserPatch{Prefix: ptr("../x")}); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("update with a bad prefix: %v", err)
	}
	if _, err := m.Update(ctx, "nobody", auth.UserPatch{Disabled: ptr(true)}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}

	u, err = m.Replace(ctx, "cam01", auth.UserPatch{Bucket: ptr("other-bucket")})
	if err != nil || u.Bucket != "other-bucket" || u.Disabled || u.Permissions != 0 || u.Description != "" || u.AllowedNetworks != nil || u.Prefix != "cam01/" {
		t.Errorf("replace = %+v, %v", u, err)
	}
	stored, _ = store.GetUser(ctx, "cam01")
	if ok, _ := auth.VerifyPassword(stored.PasswordHash, "first password"); !ok {
		t.Errorf("replace without a password changed the password")
	}

	if err := m.SetPassword(ctx, "cam01", "second password", ""); err != nil {
		t.Fatal(err)
	}
	stored, _ = store.GetUser(ctx, "cam01")
	if ok, _ := auth.VerifyPassword(stored.PasswordHash, "second password"); !ok {
		t.Errorf("set-password did not take")
	}
	if err := m.SetPassword(ctx, "cam01", "", ""); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("set-password without one: %v", err)
	}

	got, err := m.Get(ctx, "CAM01")
	if err != nil || got.PasswordHash != "" {
		t.Errorf("get = %+v, %v", got, err)
	}
	list, err := m.List(ctx, "", 0)
	if err != nil || len(list) != 1 || list[0].PasswordHash != "" {
		t.Errorf("list = %+v, %v", list, err)
	}
	list, err = m.List(ctx, "CAM", 0)
	if err != nil || len(list) != 1 || list[0].Name != "cam01" {
		t.Errorf("list = %+v, %v", list, err)
	}
	whole, err := m.Create(ctx, "backup", auth.UserPatch{Password: ptr("pw-backup"), Bucket: ptr("cams"), Prefix: ptr("")})
	if err != nil || whole.Prefix != "" {
		t.Errorf("explicit empty prefix = %q, %v; want the whole bucket", whole.Prefix, err)
	}
	defaulted, err := m.Create(ctx, "Cam02", auth.UserPatch{Password: ptr("pw-cam02"), Bucket: ptr("cams")})
	if err != nil || defaulted.Prefix != "cam02/" {
		t.Errorf("default prefix = %q, %v; want cam02/", defaulted.Prefix, err)
	}
	if err := m.Delete(ctx, "Cam01"); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "cam01"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
}
