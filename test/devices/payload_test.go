package devices

import (
	"bytes"
	"testing"
)

// TestPayloads: each kind has its size, its format's markers, and the same
// line always gives the same bytes while another seed gives others.
func TestPayloads(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind       string
		size       int64
		head, tail string
	}{
		{"pdf", 180 << 10, "%PDF-1.4\n", "%%EOF\n"},
		{"jpeg", 64 << 10, "\xff\xd8\xff\xe0\x00\x10JFIF\x00", "\xff\xd9"},
		{"mp4", 1 << 20, "\x00\x00\x00\x18ftypisom", ""},
		{"csv", 5000, "time,channel,value\r\n", ""},
		{"bin", 4097, "", ""},
		{"jpeg", 5, "\xff\xd8\xff\xe0\x00", ""}, // smaller than the markers: a prefix of them
		{"pdf", 0, "", ""},
	} {
		p := Payload{Name: "x", Kind: c.kind, Size: c.size, Seed: 1}
		b := p.Bytes()
		if int64(len(b)) != c.size || !bytes.HasPrefix(b, []byte(c.head)) || !bytes.HasSuffix(b, []byte(c.tail)) {
			t.Errorf("%s %d: %d bytes, starts %q, ends %q", c.kind, c.size, len(b), b[:min(len(b), 12)], b[max(0, len(b)-8):])
		}
		if !bytes.Equal(b, p.Bytes()) {
			t.Errorf("%s %d: two generations differ", c.kind, c.size)
		}
		other := p
		other.Seed = 2
		if c.size > 64 && bytes.Equal(b, other.Bytes()) {
			t.Errorf("%s %d: seeds 1 and 2 give the same bytes", c.kind, c.size)
		}
	}
	csv := Payload{Name: "x", Kind: "csv", Size: 5000}.Bytes()
	if n := bytes.Count(csv, []byte("\r\n")); n < 100 || bytes.Count(csv, []byte("\n")) != n {
		t.Errorf("csv has %d CRLF and %d LF line ends", n, bytes.Count(csv, []byte("\n")))
	}
}
