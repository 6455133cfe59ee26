package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// userAdmin is what the users commands need. *auth.Manager provides it on
// the local user store, *api.Client through the HTTP API of a running
// gateway.
type userAdmin interface {
	Get(ctx context.Context, name string) (*auth.User, error)
	List(ctx context.Context, after string, limit int) ([]*auth.User, error)
	Create(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error)
	Update(ctx context.Context, name string, p auth.UserPatch) (*auth.User, error)
	SetPassword(ctx context.Context, name, password, hash string) error
	Delete(ctx context.Context, name string) error
}

const usersUsage = `usage: s3ftp users COMMAND [flags]
  add NAME --bucket B [--prefix P] [--permissions LIST] [--allowed-networks CIDRS]
           [--require-tls] [--disabled] [--description TEXT] [--expect-upload-every D]
           (--password-stdin | --password-hash H)
  list
  expect NAME --expect-upload-every D   (a Go duration such as 1h; "" for none)
  show NAME
  set-password NAME (--password-stdin | --password-hash H)
  disable NAME
  enable NAME
  delete NAME
Every command works on the local user store (--data-dir, --db-url or --config)
or, with --api URL --token T (env S3FTP_API_URL, S3FTP_API_TOKEN), through the
admin API of a running gateway.`

// users runs "s3ftp users COMMAND".
func users(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usageError(usersUsage)
	}
	cmd, ok := userCommands[args[0]]
	if !ok {
		return usageError(fmt.Sprintf("unknown users command %q\n%s", args[0], usersUsage))
	}
	fs := flag.NewFlagSet("users "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	target := newAdminFlags(fs, e)
	run := cmd(fs)
	names, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	want := 1
	if args[0] == "list" {
		want = 0
	}
	if len(names) != want {
		return usageError(fmt.Sprintf("users %s: want %d NAME argument(s)\n%s", args[0], want, usersUsage))
	}
	admin, closeAdmin, err := target.open(ctx, e)
	if err != nil {
		return err
	}
	defer closeAdmin()
	return run(ctx, admin, names, e)
}

// userCommand registers its flags on fs and returns the function that runs it.
type userCommand func(fs *flag.FlagSet) func(ctx context.Context, admin userAdmin, names []string, e env) error

var userCommands = map[string]userCommand{
	"add":          usersAdd,
	"list":         usersList,
	"show":         usersShow,
	"set-password": usersSetPassword,
	"disable":      usersSetDisabled(true),
	"enable":       usersSetDisabled(false),
	"delete":       usersDelete,
	"expect":       usersExpect,
}

// passwordFlags are --password-stdin and --password-hash.
type passwordFlags struct {
	stdin *bool
	hash  *string
}

func newPasswordFlags(fs *flag.FlagSet) passwordFlags {
	return passwordFlags{
		stdin: fs.Bool("password-stdin", false, "read the password from the first line of standard input"),
		hash:  fs.String("password-hash", "", "a pre-computed argon2id or bcrypt hash instead of a password"),
	}
}

// read returns the password (from stdin) or the hash; exactly one was asked.
func (pf passwordFlags) read(e env) (password, hash string, err error) {
	if *pf.stdin == (*pf.hash != "") {
		return "", "", usageError("give exactly one of --password-stdin and --password-hash")
	}
	if *pf.hash != "" {
		return "", *pf.hash, nil
	}
	password, err = readPassword(e.stdin)
	return password, "", err
}

func usersAdd(fs *flag.FlagSet) func(context.Context, userAdmin, []string, env) error {
	bucket := fs.String("bucket", "", "S3 bucket of the user's files (required)")
	prefix := fs.String("prefix", "", "key prefix inside the bucket (default: NAME/)")
	perms := fs.String("permissions", "all", "comma separated: list,download,upload,overwrite,delete,rename,mkdir,rmdir or all")
	networks := fs.String("allowed-networks", "", "comma separated CIDRs the user may log in from (default: any)")
	requireTLS := fs.Bool("require-tls", false, "the user must use FTPS")
	disabled := fs.Bool("disabled", false, "create the user disabled")
	desc := fs.String("description", "", "free text")
	expect := fs.String("expect-upload-every", "", "the device uploads at least this often, e.g. 1h (default: no expectation)")
	pw := newPasswordFlags(fs)
	return func(ctx context.Context, admin userAdmin, names []string, e env) error {
		password, hash, err := pw.read(e)
		if err != nil {
			return err
		}
		p, err := auth.ParsePermissions(strings.Split(*perms, ","))
		if err != nil {
			return err
		}
		nets, err := parseNetworks(*networks)
		if err != nil {
			return err
		}
		every, err := auth.ParseExpectUploadEvery(*expect)
		if err != nil {
			return err
		}
		if *prefix == "" {
			*prefix = strings.ToLower(names[0]) + "/"
		}
		patch := auth.UserPatch{
			Bucket: bucket, Prefix: prefix, Permissions: &p, AllowedNetworks: &nets,
			RequireTLS: requireTLS, Disabled: disabled, Description: desc, ExpectUploadEvery: &every,
		}
		if password != "" {
			patch.Password = &password
		} else {
			patch.PasswordHash = &hash
		}
		u, err := admin.Create(ctx, names[0], patch)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added user %s: bucket %s, prefix %q, permissions %s\n", u.Name, u.Bucket, u.Prefix, u.Permissions)
		return nil
	}
}

// parseNetworks parses comma separated CIDRs (or single addresses).
func parseNetworks(s string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, item := range splitList(s) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, &auth.FieldError{Field: "allowed_networks", Message: fmt.Sprintf("%q is not a CIDR", item)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nets = append(nets, p)
	}
	return nets, nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("read password: standard input is empty")
	}
	return line, nil
}

// listPage is how many users each request of `users list` asks for.
const listPage = 500

func usersList(*flag.FlagSet) func(context.Context, userAdmin, []string, env) error {
	return func(ctx context.Context, admin userAdmin, _ []string, e env) error {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tBUCKET\tPREFIX\tPERMISSIONS\tDISABLED")
		for after := ""; ; {
			page, err := admin.List(ctx, after, listPage)
			if err != nil {
				return err
			}
			for _, u := range page {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", u.Name, u.Bucket, u.Prefix, u.Permissions, u.Disabled)
			}
			if len(page) < listPage {
				return tw.Flush()
			}
			after = page[len(page)-1].Name
		}
	}
}

func usersShow(*flag.FlagSet) func(context.Context, userAdmin, []string, env) error {
	return func(ctx context.Context, admin userAdmin, names []string, e env) error {
		u, err := admin.Get(ctx, names[0])
		if err != nil {
			return err
		}
		nets := make([]string, len(u.AllowedNetworks))
		for i, n := range u.AllowedNetworks {
			nets[i] = n.String()
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 1, ' ', 0)
		for _, row := range [][2]string{
			{"name", u.Name}, {"bucket", u.Bucket}, {"prefix", u.Prefix}, {"permissions", u.Permissions.String()},
			{"allowed_networks", strings.Join(nets, ",")}, {"require_tls", fmt.Sprint(u.RequireTLS)},
			{"disabled", fmt.Sprint(u.Disabled)}, {"description", u.Description},
			{"expect_upload_every", auth.FormatExpectUploadEvery(u.ExpectUploadEvery)},
			{"created_at", u.CreatedAt.UTC().Format(time.RFC3339)}, {"updated_at", u.UpdatedAt.UTC().Format(time.RFC3339)},
		} {
			fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
		}
		return tw.Flush()
	}
}

func usersSetPassword(fs *flag.FlagSet) func(context.Context, userAdmin, []string, env) error {
	pw := newPasswordFlags(fs)
	return func(ctx context.Context, admin userAdmin, names []string, e env) error {
		password, hash, err := pw.read(e)
		if err != nil {
			return err
		}
		if err := admin.SetPassword(ctx, names[0], password, hash); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s changed\n", strings.ToLower(names[0]))
		return nil
	}
}

func usersSetDisabled(disabled bool) userCommand {
	return func(*flag.FlagSet) func(context.Context, userAdmin, []string, env) error {
		return func(ctx context.Context, admin userAdmin, names []string, e env) error {
			u, err := admin.Update(ctx, names[0], auth.UserPatch{Disabled: &disabled})
			if err != nil {
				return err
			}
			state := "enabled"
			if disabled {
				state = "disabled"
			}
			fmt.Fprintf(e.stdout, "user %s %s\n", u.Name, state)
			return nil
		}
	}
}

// usersExpect sets (or with "" clears) the upload expectation of a user.
func usersExpect(fs *flag.FlagSet) func(context.Context, userAdmin, []string, env) error {
	expect := fs.String("expect-upload-every", "", `the device uploads at least this often, e.g. 1h ("" for no expectation)`)
	return func(ctx context.Context, admin userAdmin, names []string, e env) error {
		every, err := auth.ParseExpectUploadEvery(*expect)
		if err != nil {
			return err
		}
		u, err := admin.Update(ctx, names[0], auth.UserPatch{ExpectUploadEvery: &every})
		if err != nil {
			return err
		}
		if u.ExpectUploadEvery == 0 {
			fmt.Fprintf(e.stdout, "user %s: no upload expectation\n", u.Name)
			return nil
		}
		fmt.Fprintf(e.stdout, "user %s: expects an upload every %s\n", u.Name, u.ExpectUploadEvery)
		return nil
	}
}

func usersDelete(*flag.FlagSet) func(context.Context, userAdmin, []string, env) error {
	return func(ctx context.Context, admin userAdmin, names []string, e env) error {
		if err := admin.Delete(ctx, names[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted user %s (their files stay in S3)\n", strings.ToLower(names[0]))
		return nil
	}
}
