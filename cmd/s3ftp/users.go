package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/sqlite"
)

// users runs "s3ftp users SUBCOMMAND".
func users(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usageError(usage)
	}
	switch args[0] {
	case "add":
		return usersAdd(ctx, args[1:], e)
	case "list":
		return usersList(ctx, args[1:], e)
	case "delete":
		return usersDelete(ctx, args[1:], e)
	}
	return usageError(fmt.Sprintf("unknown users command %q\n%s", args[0], usage))
}

// storeFlags adds --config and --data-dir to fs; open then opens the user
// store they (or the environment, or the config file) name.
type storeFlags struct {
	config string
	raw    map[string]string
}

func newStoreFlags(fs *flag.FlagSet, e env) *storeFlags {
	sf := &storeFlags{raw: map[string]string{}}
	fs.StringVar(&sf.config, "config", e.getenv(envPrefix+"CONFIG"), "YAML configuration file")
	fs.Var(&flagValue{key: "data-dir", raw: sf.raw}, "data-dir", "directory of the user database (default ./data)")
	return sf
}

func (sf *storeFlags) open(ctx context.Context, e env) (auth.Store, error) {
	c := defaultConfig(sf.config != "")
	if err := load(&c, sf.config, e.getenv, sf.raw); err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, filepath.Join(c.DataDir, "users.db"))
}

func usersAdd(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("users add", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sf := newStoreFlags(fs, e)
	bucket := fs.String("bucket", "", "S3 bucket of the user's files (required)")
	prefix := fs.String("prefix", "", "key prefix inside the bucket (default: NAME/)")
	perms := fs.String("permissions", "all", "comma separated: list,download,upload,overwrite,delete,rename,mkdir,rmdir or all")
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	hash := fs.String("password-hash", "", "a pre-computed argon2id or bcrypt hash instead of a password")
	desc := fs.String("description", "", "free text")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("users add: want exactly one NAME")
	}
	if *stdin == (*hash != "") {
		return usageError("users add: give exactly one of --password-stdin and --password-hash")
	}
	p, err := auth.ParsePermissions(strings.Split(*perms, ","))
	if err != nil {
		return err
	}
	u := &auth.User{Name: pos[0], Bucket: *bucket, Prefix: *prefix, Permissions: p, Description: *desc, PasswordHash: *hash}
	if u.Prefix == "" {
		u.Prefix = strings.ToLower(u.Name) + "/"
	}
	if *stdin {
		password, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		if u.PasswordHash, err = auth.HashPassword(password); err != nil {
			return err
		}
	}
	if err := u.Validate(); err != nil {
		return err
	}
	store, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.CreateUser(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added user %s: bucket %s, prefix %q, permissions %s\n", u.Name, u.Bucket, u.Prefix, u.Permissions)
	return nil
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

func usersList(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("users list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sf := newStoreFlags(fs, e)
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	list, err := store.ListUsers(ctx, "", 0)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tBUCKET\tPREFIX\tPERMISSIONS\tDISABLED")
	for _, u := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", u.Name, u.Bucket, u.Prefix, u.Permissions, u.Disabled)
	}
	return tw.Flush()
}

func usersDelete(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("users delete", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sf := newStoreFlags(fs, e)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("users delete: want exactly one NAME")
	}
	name, err := auth.NormalizeName(pos[0])
	if err != nil {
		return err
	}
	store, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.DeleteUser(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted user %s\n", name)
	return nil
}
