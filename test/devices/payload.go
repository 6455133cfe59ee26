package devices

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
)

// Payload is a file a device uploads, generated deterministically from its
// kind, size, seed and name: the same line always yields the same bytes.
type Payload struct {
	Name string
	Kind string // a key of generators
	Size int64
	Seed uint64
}

// kinds lists the payload kinds, for error messages.
const kinds = "bin, csv, jpeg, mp4, pdf"

// generator returns the function that builds the bytes of a payload kind (a
// recognisable header and trailer around pseudo-random content, cut to
// size), or nil for an unknown kind.
func generator(kind string) func(rng *rand.ChaCha8, size int64) []byte {
	switch kind {
	case "pdf": // a scanner's document: %PDF header, one stream object, %%EOF
		return framed([]byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 0 >>\nstream\n"), []byte("\nendstream\nendobj\n%%EOF\n"))
	case "jpeg": // a camera snapshot: SOI, JFIF APP0 segment ... EOI
		return framed([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"), []byte("\xff\xd9"))
	case "mp4": // an NVR recording segment: an ftyp box, then media data
		return framed([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x08mdat"), nil)
	case "csv": // a datalogger's export: text lines ending in CRLF
		return csvText
	case "bin": // pseudo-random bytes
		return framed(nil, nil)
	}
	return nil
}

// Bytes generates the payload.
func (p Payload) Bytes() []byte {
	var seed [32]byte
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", p.Name, p.Kind, p.Seed))
	copy(seed[:], sum[:])
	return generator(p.Kind)(rand.NewChaCha8(seed), p.Size)
}

// framed returns a generator of head + random bytes + tail; a payload
// smaller than head and tail is a prefix of them.
func framed(head, tail []byte) func(*rand.ChaCha8, int64) []byte {
	return func(rng *rand.ChaCha8, size int64) []byte {
		b := make([]byte, size)
		n := copy(b, head)
		if size > int64(len(head)+len(tail)) {
			_, _ = rng.Read(b[n : size-int64(len(tail))]) // ChaCha8 never fails
			copy(b[size-int64(len(tail)):], tail)
		} else {
			copy(b[n:], tail)
		}
		return b
	}
}

// csvText returns lines of comma separated readings ending in CRLF.
func csvText(rng *rand.ChaCha8, size int64) []byte {
	var buf bytes.Buffer
	buf.WriteString("time,channel,value\r\n")
	r := rand.New(rng)
	for i := 0; int64(buf.Len()) < size; i++ {
		fmt.Fprintf(&buf, "2026-11-25T%02d:%02d:%02d,ch%d,%d.%02d\r\n", i/3600%24, i/60%60, i%60, r.IntN(8)+1, r.IntN(400), r.IntN(100))
	}
	return buf.Bytes()[:size]
}
