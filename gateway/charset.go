package gateway

import (
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// charset translates the file names of clients whose firmware does not speak
// UTF-8 (old scanners and cameras send Latin-1 or Shift_JIS bytes). A name
// that is valid UTF-8 is taken as is; any other is decoded from the legacy
// charset. Once a session has sent a legacy name, the names it is shown in
// listings are encoded back to that charset, so its display matches.
type charset struct {
	name string
	enc  encoding.Encoding
}

// newCharset returns the charset called name (a WHATWG/IANA label such as
// "windows-1252", "iso-8859-15", "shift_jis"), or nil for "".
func newCharset(name string) (*charset, error) {
	if name == "" {
		return nil, nil
	}
	enc, err := htmlindex.Get(name)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q: %w", name, err)
	}
	canonical, _ := htmlindex.Name(enc)
	return &charset{name: canonical, enc: enc}, nil
}

// names is the per-session side of a charset: whether the session has sent
// a legacy name yet. A nil *names takes every name as it is.
type names struct {
	cs     *charset // nil: UTF-8 only, invalid names go on to be refused
	legacy atomic.Bool
}

// decode returns name as UTF-8.
func (n *names) decode(name string) string {
	if n == nil || n.cs == nil || utf8.ValidString(name) {
		return name
	}
	decoded, err := n.cs.enc.NewDecoder().String(name)
	if err != nil {
		return name // refused later as an invalid name
	}
	n.legacy.Store(true)
	return decoded
}

// listing returns infos with their names encoded for a legacy session (a
// character the charset lacks becomes "?"), or infos unchanged.
func (n *names) listing(infos []fs.FileInfo) []fs.FileInfo {
	if n == nil || n.cs == nil || !n.legacy.Load() {
		return infos
	}
	enc := n.cs.enc.NewEncoder()
	out := make([]fs.FileInfo, len(infos))
	for i, fi := range infos {
		out[i] = renamedInfo{FileInfo: fi, name: encodeName(enc, fi.Name())}
	}
	return out
}

// encodeName encodes name with enc, writing "?" for what it cannot encode.
func encodeName(enc *encoding.Encoder, name string) string {
	if encoded, err := enc.String(name); err == nil {
		return encoded
	}
	var b strings.Builder
	for _, r := range name {
		part, err := enc.String(string(r))
		if err != nil {
			part = "?"
		}
		b.WriteString(part)
	}
	return b.String()
}

// renamedInfo is a FileInfo shown under another name.
type renamedInfo struct {
	fs.FileInfo
	name string
}

func (r renamedInfo) Name() string { return r.name }
