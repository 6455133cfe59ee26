package gateway

import (
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// Shell patterns in LIST and NLST arguments.
//
// Classic clients (BSD/GNU ftp, tnftp, Windows ftp.exe, scripts built on
// them) expand `mget *.mp4` and `mdelete *.mp4` by sending `NLST *.mp4`, and
// vsftpd, ProFTPD and pure-ftpd expand such a pattern on the server. For
// LIST and NLST, ftpserverlib first asks ListDir (patch 27), which fails
// for a name that is no directory; it then asks Stat about the argument,
// and ListDir again (ReadDir for STAT) for a directory. When the argument
// does not exist and its last component is a pattern, Stat answers with a
// directory (patternDir) and remembers the pattern; the ListDir that
// follows lists the pattern's directory, keeps the entries of each page
// that match, and tells ftpserverlib (with ClientContext.SetListPath, made
// for drivers that expand wildcards) which directory the names belong to,
// so NLST prints them as "dir/name".
//
// The rules:
//   - Only LIST and NLST expand patterns. MLSD takes a directory (RFC 3659);
//     CWD, RETR, DELE, SIZE... take names.
//   - A name that exists is used as it is, even when it contains *, ? or [
//     (finding out costs the first ListDir's listing, then what a Stat
//     costs: a HEAD and a one-key listing).
//   - `LIST -la *.mp4`: ftpserverlib drops the ls options first, as for
//     any listing.
//   - Only the last component is a pattern: `*`, `?`, `[...]` with `[!...]`
//     or `[^...]` to negate, and `\` to quote the next character (Go's
//     path.Match). Metacharacters in earlier components are taken
//     literally, so `*/x.mp4` names a directory called "*". A malformed
//     pattern such as "[a" is a plain name (and does not exist).
//   - The argument is cleaned like every path before the pattern is split
//     off: `..` is resolved lexically inside the user's root (`../*` at the
//     root lists the root, `/*/../*` is `/*`), and the directory is listed
//     through the storage jail, so a pattern never reaches outside the
//     user's prefix. `..*` is a pattern matched against entry names.
//   - A pattern that matches nothing is an empty listing (226).
//   - The listing needs the list permission, as any listing does.
//   - Matching is a predicate on each entry (listPattern.keep), applied to
//     each page the storage listing returns, never a second listing.

// listPattern is a shell pattern in the last component of a LIST or NLST
// argument.
type listPattern struct {
	dir  string // the directory whose entries are matched, cleaned, as the client names it
	glob string // path.Match pattern for the entries' names (UTF-8)
}

// parseListPattern returns the pattern in the last component of name (a
// path decoded to UTF-8). ok is false when that component contains no *, ?
// or [, or is not a well-formed pattern.
func parseListPattern(name string) (p listPattern, ok bool) {
	dir, last := path.Split(path.Clean("/" + name))
	if !strings.ContainsAny(last, "*?[") {
		return listPattern{}, false
	}
	glob := shellClasses(last)
	if _, err := path.Match(glob, ""); err != nil {
		return listPattern{}, false
	}
	return listPattern{dir: path.Clean(dir), glob: glob}, true
}

// shellClasses rewrites the shell's negated class `[!...]` into path.Match's
// `[^...]`, leaving quoted characters (`\[`) alone.
func shellClasses(glob string) string {
	b := []byte(glob)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the quoted character
		case '[':
			if i+1 < len(b) && b[i+1] == '!' {
				b[i+1] = '^'
			}
			j := i + 1 // skip to the end of the class
			for j < len(b) && b[j] != ']' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		}
	}
	return string(b)
}

// keep reports whether the entry fi matches. It is applied to each entry as
// the listing returns it.
func (p *listPattern) keep(fi fs.FileInfo) bool {
	ok, _ := path.Match(p.glob, fi.Name())
	return ok
}

// filter returns the entries of page that match p (all of them for a nil
// p), reusing page's array.
func (p *listPattern) filter(page []fs.FileInfo) []fs.FileInfo {
	if p == nil {
		return page
	}
	return slices.DeleteFunc(page, func(fi fs.FileInfo) bool { return !p.keep(fi) })
}

// pendingPattern is the pattern that a session's Stat found for LIST or
// NLST, waiting for the ReadDir that ftpserverlib calls next with the same
// argument.
type pendingPattern struct {
	mu  sync.Mutex
	arg string // the argument given to Stat; "" for none
	p   listPattern
}

// statPattern is Stat's answer for an argument that does not exist (err):
// for LIST and NLST, when its last component is a pattern, a directory
// standing for the matching entries, and the pattern is kept for ReadDir.
// arg is the argument as the client sent it, name as decoded to UTF-8.
func (d *clientDriver) statPattern(arg, name string, err error) (fs.FileInfo, bool) {
	if !errors.Is(err, fs.ErrNotExist) || strings.HasPrefix(arg, "-") {
		// ftpserverlib asks Stat about a raw argument such as "-la *.mp4"
		// to decide whether "-la" is an ls option: it must not exist, so
		// the option is dropped and "*.mp4" comes back as an absolute path.
		return nil, false
	}
	if cmd := d.sess.cc.GetLastCommand(); cmd != "LIST" && cmd != "NLST" {
		return nil, false
	}
	p, ok := parseListPattern(name) // matched against UTF-8 names
	if !ok {
		return nil, false
	}
	p.dir = path.Dir(path.Clean("/" + arg)) // ReadDir and SetListPath take the client's form
	d.pattern.mu.Lock()
	d.pattern.arg, d.pattern.p = arg, p
	d.pattern.mu.Unlock()
	return patternDir(path.Base(arg)), true
}

// listTarget returns the directory ReadDir(arg) lists and the pattern its
// entries must match: the pattern Stat found for arg (then ftpserverlib is
// told that the names are in the pattern's directory), or arg and nil.
func (d *clientDriver) listTarget(arg string) (string, *listPattern) {
	d.pattern.mu.Lock()
	pending, p := d.pattern.arg, d.pattern.p
	d.pattern.arg = ""
	d.pattern.mu.Unlock()
	if pending == "" || pending != arg {
		return arg, nil
	}
	d.sess.cc.SetListPath(p.dir)
	return p.dir, &p
}

// patternDir is the directory Stat reports for a pattern: ftpserverlib then
// lists it with ReadDir.
type patternDir string

func (n patternDir) Name() string       { return string(n) }
func (n patternDir) Size() int64        { return 0 }
func (n patternDir) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (n patternDir) ModTime() time.Time { return time.Unix(0, 0).UTC() }
func (n patternDir) IsDir() bool        { return true }
func (n patternDir) Sys() any           { return nil }
