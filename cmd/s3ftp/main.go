// Command s3ftp is an FTP server that stores files in S3.
//
//	s3ftp serve [flags]            run the gateway
//	s3ftp users add|list|show|set-password|enable|disable|delete
//	                               manage users (local store or admin API)
//	s3ftp config check [flags]     validate the configuration and print it
//	s3ftp version                  print the version
//
// main only wires: it parses flags and configuration, builds the S3 client,
// the user store and the FTP server, and stops them on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3ftp:", err)
		if errors.Is(err, flag.ErrHelp) || errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// env is the process environment a command runs in, injectable by tests.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is a command line that cannot be understood.
type usageError string

func (e usageError) Error() string { return string(e) }

const usage = `usage:
  s3ftp serve [flags]                 run the FTP gateway (see s3ftp serve -h)
  s3ftp users add NAME --bucket B [--prefix P] [--permissions LIST] --password-stdin
  s3ftp users list
  s3ftp users show NAME
  s3ftp users set-password NAME --password-stdin
  s3ftp users enable NAME
  s3ftp users disable NAME
  s3ftp users expect NAME --expect-upload-every D   (empty D: no expectation)
  s3ftp users delete NAME
  s3ftp config check [flags]          validate the configuration and print it
  s3ftp version
s3ftp users shows every flag, and --api URL --token T to manage the users of a
running gateway through its admin API.`

// run executes the command line args.
func run(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usageError(usage)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], e)
	case "users":
		return users(ctx, args[1:], e)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			return usageError(usage)
		}
		return configCheck(args[2:], e)
	case "version":
		fmt.Fprintln(e.stdout, "s3ftp", versionString())
		return nil
	case "-h", "--help", "help":
		fmt.Fprintln(e.stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q\n%s", args[0], usage))
}

// versionString returns the version set at build time, or the module version.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// parseInterspersed parses args with fs, allowing flags after positional
// arguments ("users add NAME --bucket B"), and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil // everything after "--" is positional
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
