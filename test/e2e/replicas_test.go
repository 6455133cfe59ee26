package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/pgtest"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// TestReplicasShareUsers: two gateways on one PostgreSQL user store (and one
// S3). A user created, changed, disabled, enabled or deleted through one
// gateway's admin API is what the other applies at its next login, with no
// restart. No token or password reaches either gateway's log or output.
func TestReplicasShareUsers(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.Start(t).NewDatabase(t)
	srv := s3test.Versity(t)
	bucket := srv.NewBucket(t)
	token := "replica-token-" + randomHex(12)
	start := func(name string) *gateway {
		config := s3ftpbin.WriteConfig(t, t.TempDir(), srv.Endpoint, srv.AccessKey, srv.SecretKey,
			"api-token-hashes: ["+api.HashToken(token)+"]", fmt.Sprintf("db-url: %q", dbURL), "log-level: debug")
		g := &gateway{Kind: versityStore, Bucket: bucket, S3: srv}
		g.start(t, []string{"serve", "--config", config})
		if g.APIURL == "" {
			t.Fatalf("gateway %s printed no admin API URL:\n%s", name, g.Stdout)
		}
		return g
	}
	a, b := start("a"), start("b")
	admin := func(g *gateway) *api.Client { return &api.Client{BaseURL: g.APIURL, Token: token} }
	login := func(g *gateway, password string) error {
		c, err := ftp.Dial(g.Addr, ftp.DialWithTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Quit()
		if err := c.Login("cam01", password); err != nil {
			return err
		}
		return c.Stor("hello.txt", strings.NewReader("from "+g.Addr))
	}
	first, second := "first-"+randomHex(8), "second-"+randomHex(8)
	perms := auth.PermUpload | auth.PermOverwrite
	steps := []struct {
		what     string
		change   func() error
		on       *gateway
		password string
		ok       bool
	}{
		{"created on a, login on b", func() error {
			_, err := admin(a).Create(t.Context(), "cam01", auth.UserPatch{Password: &first, Bucket: &bucket, Permissions: &perms})
			return err
		}, b, first, true},
		{"password changed on b, old one on a", func() error { return admin(b).SetPassword(t.Context(), "cam01", second, "") }, a, first, false},
		{"password changed on b, new one on a", nil, a, second, true},
		{"disabled on a, login on b", func() error {
			_, err := admin(a).Update(t.Context(), "cam01", auth.UserPatch{Disabled: ptr(true)})
			return err
		}, b, second, false},
		{"enabled on b, login on a", func() error {
			_, err := admin(b).Update(t.Context(), "cam01", auth.UserPatch{Disabled: ptr(false)})
			return err
		}, a, second, true},
		{"deleted on a, login on b", func() error { return admin(a).Delete(t.Context(), "cam01") }, b, second, false},
	}
	for _, s := range steps {
		if s.change != nil {
			if err := s.change(); err != nil {
				t.Fatalf("%s: %v", s.what, err)
			}
		}
		if err := login(s.on, s.password); (err == nil) != s.ok {
			t.Errorf("%s: login error %v, want success %v", s.what, err, s.ok)
		}
	}
	if _, size, ok := (&gateway{Kind: versityStore, Bucket: bucket, Prefix: "cam01/", S3: srv}).object(t, "/hello.txt"); !ok || size == 0 {
		t.Errorf("the uploads did not land in cam01/ of the shared bucket")
	}
	for _, g := range []*gateway{a, b} {
		for _, secret := range []string{token, first, second} {
			if strings.Contains(g.log(), secret) || strings.Contains(g.Stdout.String(), secret) {
				t.Errorf("a token or password appears in the output of the gateway at %s", g.Addr)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
