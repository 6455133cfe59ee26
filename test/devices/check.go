package devices

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// expect runs a store check.
func (r *replayer) expect(s expectStep) error {
	name, err := r.expand(s.path, false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, dataTimeout)
	defer cancel()
	store := r.target.Store
	switch s.what {
	case "object":
		want := r.payload(s.ref)
		sum, size, ok, err := store.Object(ctx, name)
		switch {
		case err != nil:
			return fmt.Errorf("expect object %s: %w", name, err)
		case !ok:
			return fmt.Errorf("expect object %s: no object stored", name)
		case size != int64(len(want)) || sum != sha256Hex(want):
			return fmt.Errorf("expect object %s: stored %d bytes (sha256 %.12s…), want %s: %d bytes (sha256 %.12s…)", name, size, sum, s.ref, len(want), sha256Hex(want))
		}
		r.logf("ok object %s = %s", name, s.ref)
	case "absent":
		_, size, ok, err := store.Object(ctx, name)
		if err != nil {
			return fmt.Errorf("expect absent %s: %w", name, err)
		}
		if ok {
			return fmt.Errorf("expect absent %s: an object of %d bytes is stored", name, size)
		}
		r.logf("ok absent %s", name)
	case "dir":
		ok, err := store.Dir(ctx, name)
		if err != nil {
			return fmt.Errorf("expect dir %s: %w", name, err)
		}
		if !ok {
			return fmt.Errorf("expect dir %s: no such directory", name)
		}
		r.logf("ok dir %s", name)
	case "files", "count":
		files, err := store.Files(ctx, name)
		if err != nil {
			return fmt.Errorf("expect %s %s: %w", s.what, name, err)
		}
		if s.what == "count" {
			if len(files) != s.n {
				return fmt.Errorf("expect count %s: %d objects, want %d", name, len(files), s.n)
			}
			r.logf("ok count %s %d", name, s.n)
			return nil
		}
		var want []string
		for _, n := range s.names {
			e, err := r.expand(n, false)
			if err != nil {
				return err
			}
			want = append(want, e)
		}
		if missing, extra := diff(want, files); len(missing)+len(extra) > 0 {
			return fmt.Errorf("expect files %s: missing %q, unexpected %q", name, missing, extra)
		}
		r.logf("ok files %s (%d)", name, len(want))
	}
	return nil
}

// checkData runs a check on the last data received.
func (r *replayer) checkData(s dataCheckStep) error {
	var entries []string
	for _, line := range splitLines(r.received) {
		name := entryName(line)
		if base := name[strings.LastIndex(name, "/")+1:]; base != "." && base != ".." {
			entries = append(entries, name) // as devices do, ignore . and .. (LIST -a of some servers)
		}
	}
	switch s.what {
	case "has", "lacks":
		for _, n := range s.names {
			name, err := r.expand(n, false)
			if err != nil {
				return err
			}
			found := hasEntry(entries, name)
			if s.what == "has" && !found {
				return fmt.Errorf("data has %q: not in the %d entries received %q", name, len(entries), entries)
			}
			if s.what == "lacks" && found {
				return fmt.Errorf("data lacks %q: it is in the entries received %q", name, entries)
			}
		}
	case "count":
		if len(entries) != s.n {
			return fmt.Errorf("data count: %d entries received %q, want %d", len(entries), entries, s.n)
		}
	case "contains":
		text, err := r.expand(s.text, false)
		if err != nil {
			return err
		}
		if !strings.Contains(strings.ToLower(string(r.received)), strings.ToLower(text)) {
			return fmt.Errorf("data ~ %q: not in the %d bytes received", text, len(r.received))
		}
	case "equals":
		want := r.payload(s.ref)
		if got := r.received; len(got) != len(want) || sha256Hex(got) != sha256Hex(want) {
			return fmt.Errorf("data = %s: received %d bytes (sha256 %.12s…), want %d (sha256 %.12s…)", s.ref, len(got), sha256Hex(got), len(want), sha256Hex(want))
		}
	}
	switch s.what {
	case "has", "lacks":
		r.logf("ok data %s %s", s.what, strings.Join(s.names, " "))
	case "count":
		r.logf("ok data count %d", s.n)
	case "contains":
		r.logf("ok data ~ %s", s.text)
	case "equals":
		r.logf("ok data = %s", s.ref)
	}
	return nil
}

// listLine is a Unix-style LIST line: mode, links, owner, group, size,
// date (month day, then time or year), name.
var listLine = regexp.MustCompile(`^[-dlcbps][-rwxsStT]{9}[.+@]?\s+\d+\s+\S+\s+\S+\s+\d+\s+\S{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})\s(.+)$`)

// entryName returns the name a listing line gives: the last column of a
// LIST line, what follows the facts of an MLSD line, or an NLST line whole.
func entryName(line string) string {
	if m := listLine.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	if facts, name, ok := strings.Cut(line, " "); ok && strings.Contains(facts, "=") && strings.HasSuffix(facts, ";") {
		return name
	}
	return line
}

// hasEntry reports whether name is among the entries: equal, or equal to
// an entry's last element when name has no "/" (NLST may answer paths).
func hasEntry(entries []string, name string) bool {
	for _, e := range entries {
		if e == name || (!strings.Contains(name, "/") && e[strings.LastIndex(e, "/")+1:] == name) {
			return true
		}
	}
	return false
}

func splitLines(b []byte) []string {
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// diff returns the names of want missing from got and those of got not in want.
func diff(want, got []string) (missing, extra []string) {
	in := map[string]int{}
	for _, g := range got {
		in[g]++
	}
	for _, w := range want {
		if in[w] > 0 {
			in[w]--
		} else {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if in[g] > 0 {
			extra = append(extra, g)
			in[g]--
		}
	}
	return missing, extra
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
