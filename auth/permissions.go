package auth

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Permissions is a set of Permission bits.
type Permissions uint16

// The permissions a user can hold. Each FTP command needs the ones listed.
const (
	PermList      Permissions = 1 << iota // LIST, NLST, MLSD, MLST, STAT, SIZE, MDTM, CWD
	PermDownload                          // RETR
	PermUpload                            // STOR of a new file
	PermOverwrite                         // STOR over an existing file, APPE, REST+STOR
	PermDelete                            // DELE
	PermRename                            // RNFR/RNTO
	PermMkdir                             // MKD
	PermRmdir                             // RMD

	// AllPermissions is every permission: a full read-write account.
	AllPermissions = PermList | PermDownload | PermUpload | PermOverwrite | PermDelete | PermRename | PermMkdir | PermRmdir
)

// permissionNames is the order in which permissions are printed.
var permissionNames = []struct {
	perm Permissions
	name string
}{
	{PermList, "list"},
	{PermDownload, "download"},
	{PermUpload, "upload"},
	{PermOverwrite, "overwrite"},
	{PermDelete, "delete"},
	{PermRename, "rename"},
	{PermMkdir, "mkdir"},
	{PermRmdir, "rmdir"},
}

// Has reports whether p holds every bit of want.
func (p Permissions) Has(want Permissions) bool { return p&want == want }

// Names returns the names of the permissions in p, in a fixed order.
func (p Permissions) Names() []string {
	names := []string{}
	for _, pn := range permissionNames {
		if p.Has(pn.perm) {
			names = append(names, pn.name)
		}
	}
	return names
}

// String returns the names joined by commas.
func (p Permissions) String() string { return strings.Join(p.Names(), ",") }

// ParsePermissions parses permission names. "all" stands for AllPermissions.
// An unknown name is a *FieldError for the field "permissions".
func ParsePermissions(names []string) (Permissions, error) {
	var p Permissions
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		if n == "all" {
			p |= AllPermissions
			continue
		}
		found := false
		for _, pn := range permissionNames {
			if pn.name == n {
				p |= pn.perm
				found = true
				break
			}
		}
		if !found {
			return 0, &FieldError{Field: "permissions", Message: fmt.Sprintf("unknown permission %q", n)}
		}
	}
	return p, nil
}

// MarshalJSON encodes p as a list of names.
func (p Permissions) MarshalJSON() ([]byte, error) { return json.Marshal(p.Names()) }

// UnmarshalJSON decodes a list of names.
func (p *Permissions) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return &FieldError{Field: "permissions", Message: "must be a list of permission names"}
	}
	v, err := ParsePermissions(names)
	if err != nil {
		return err
	}
	*p = v
	return nil
}
