package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// debianBinGlob matches the server binaries of every PostgreSQL version
// Debian's postgresql packages install side by side.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// binDir returns the directory holding PostgreSQL's initdb and postgres
// binaries: the highest version under /usr/lib/postgresql/*/bin, else the
// directory `pg_config --bindir` names, else the directory of initdb on PATH.
// It returns "" when PostgreSQL's server is not installed.
func binDir() string {
	if dir := highestBinDir(debianBinGlob); dir != "" {
		return dir
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasServer(dir) {
			return dir
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && hasServer(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	return ""
}

// highestBinDir returns the directory matching pattern, whose parent is
// named for a version ("9.6", "15"), that holds the server binaries and has
// the highest version; "" if none does.
func highestBinDir(pattern string) string {
	dirs, _ := filepath.Glob(pattern) // the only error is a bad pattern
	var best string
	var bestVersion []int
	for _, dir := range dirs {
		v, ok := parseVersion(filepath.Base(filepath.Dir(dir)))
		if !ok || !hasServer(dir) {
			continue
		}
		if best == "" || slices.Compare(v, bestVersion) > 0 {
			best, bestVersion = dir, v
		}
	}
	return best
}

// parseVersion parses a dotted version such as "9.6" or "15".
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// hasServer reports whether dir holds initdb and postgres.
func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}
