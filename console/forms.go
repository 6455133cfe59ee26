package console

import (
	"net/http"
	"strings"

	"github.com/s3ftp/s3ftp/auth"
)

// userForm is the edit form of a user (and of a new one) as typed: shown
// again as is when the change is refused.
type userForm struct {
	Bucket, Prefix, Networks, Expect, Description string
	Permissions                                   []string
	RequireTLS                                    bool
}

// formOf is the edit form filled in with u.
func formOf(u *auth.User) userForm {
	networks := make([]string, len(u.AllowedNetworks))
	for i, n := range u.AllowedNetworks {
		networks[i] = n.String()
	}
	return userForm{
		Bucket: u.Bucket, Prefix: u.Prefix, Networks: strings.Join(networks, "\n"),
		Expect: auth.FormatExpectUploadEvery(u.ExpectUploadEvery), Description: u.Description,
		Permissions: u.Permissions.Names(), RequireTLS: u.RequireTLS,
	}
}

// readForm reads the edit form of r.
func readForm(r *http.Request) userForm {
	_ = r.ParseForm() // a malformed body leaves the fields empty: refused by validation
	return userForm{
		Bucket: strings.TrimSpace(r.PostFormValue("bucket")), Prefix: strings.TrimSpace(r.PostFormValue("prefix")),
		Networks: r.PostFormValue("allowed_networks"), Expect: strings.TrimSpace(r.PostFormValue("expect_upload_every")),
		Description: r.PostFormValue("description"), Permissions: r.PostForm["permissions"],
		RequireTLS: r.PostFormValue("require_tls") == "1",
	}
}

// patch is the change the form asks for: every field of the form. It
// returns a *auth.FieldError for a permission, network or expectation that
// does not parse; the Manager checks the rest.
func (f userForm) patch() (auth.UserPatch, error) {
	perms, err := auth.ParsePermissions(f.Permissions)
	if err != nil {
		return auth.UserPatch{}, err
	}
	networks, err := auth.ParseNetworks(f.Networks)
	if err != nil {
		return auth.UserPatch{}, err
	}
	every, err := auth.ParseExpectUploadEvery(f.Expect)
	if err != nil {
		return auth.UserPatch{}, err
	}
	return auth.UserPatch{
		Bucket: &f.Bucket, Prefix: &f.Prefix, Permissions: &perms, AllowedNetworks: &networks,
		ExpectUploadEvery: &every, Description: &f.Description, RequireTLS: &f.RequireTLS,
	}, nil
}
