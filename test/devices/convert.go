package devices

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Convert turns the control-connection bytes of a recorded session into a
// transcript draft. Its input is what tshark prints for the TCP segments of
// the control port, in capture order:
//
//	tshark -r dev.pcapng -Y 'tcp.port==2121 && tcp.len>0' -T fields \
//	    -e tcp.stream -e tcp.srcport -e tcp.payload
//
// one segment a line: STREAM TAB SOURCE-PORT TAB HEX-BYTES. Segments whose
// source port is serverPort are the gateway's; the others the device's.
// The bytes are used as they are (Latin-1 names survive, which tshark's ftp
// fields replace by U+FFFD); lines split over segments are joined.
//
// Each TCP stream becomes one connect block, in the order the streams
// start. The draft replaces the user name and the password by {user} and
// {password} and PORT/EPRT addresses by {port} and {eprt}, gives one
// `< CODE` per reply (multi-line ones included), and adds the data steps
// after each 150/125 reply: send and close for an upload, recv for a
// download or a listing. Each upload gets a payload line whose kind is
// guessed from the file name and whose size is a placeholder to adjust.
func Convert(r io.Reader, w io.Writer, serverPort int) error {
	c := &converter{streams: map[string]*stream{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 3 {
			return fmt.Errorf("line %d: %d tab-separated fields, want 3 (tcp.stream, tcp.srcport, tcp.payload)", n, len(f))
		}
		port, err := strconv.Atoi(f[1])
		if err != nil {
			return fmt.Errorf("line %d: source port %q is not a number", n, f[1])
		}
		payload, err := hex.DecodeString(strings.ReplaceAll(f[2], ":", ""))
		if err != nil {
			return fmt.Errorf("line %d: payload is not hex: %w", n, err)
		}
		c.segment(f[0], port == serverPort, payload)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(c.order) == 0 {
		return fmt.Errorf("no segments: check the capture filter and the server port (%d)", serverPort)
	}
	var b strings.Builder
	b.WriteString("# Recorded with tshark and converted by tshark2transcript (docs/devices.md).\n")
	b.WriteString("# TODO: describe the device (make, model, firmware, transfer mode), check\n# the payload sizes, and add expect lines for what must land in the store.\n")
	b.WriteString("user all\n")
	if len(c.payloads) > 0 {
		b.WriteString("\n")
	}
	for _, p := range c.payloads {
		fmt.Fprintf(&b, "# TODO: the size of %s\npayload %s %s 64KiB\n", printable(p.file), p.name, p.kind)
	}
	for _, id := range c.order {
		b.WriteString("\nconnect\n")
		for _, l := range c.streams[id].out {
			b.WriteString(l + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type converter struct {
	streams  map[string]*stream
	order    []string // stream ids in the order they started
	payloads []draftPayload
}

// stream is the conversion state of one control connection.
type stream struct {
	out      []string
	fromDev  []byte // incomplete line from the device
	fromSrv  []byte // incomplete line from the gateway
	multi    string // code of the multi-line reply in progress
	lastVerb string
	lastArg  string
}

type draftPayload struct{ name, kind, file string }

func (c *converter) segment(id string, fromServer bool, payload []byte) {
	s, ok := c.streams[id]
	if !ok {
		s = &stream{}
		c.streams[id] = s
		c.order = append(c.order, id)
	}
	buf := &s.fromDev
	if fromServer {
		buf = &s.fromSrv
	}
	*buf = append(*buf, payload...)
	for {
		i := bytes.IndexByte(*buf, '\n')
		if i < 0 {
			return
		}
		line := string(bytes.TrimRight((*buf)[:i], "\r"))
		*buf = (*buf)[i+1:]
		if fromServer {
			c.reply(s, line)
		} else {
			c.command(s, line)
		}
	}
}

func (c *converter) command(s *stream, line string) {
	verb, arg, hasArg := strings.Cut(line, " ")
	s.lastVerb, s.lastArg = strings.ToUpper(verb), arg
	switch s.lastVerb {
	case "USER":
		arg = "{user}"
	case "PASS":
		arg = "{password}"
	case "PORT":
		arg = "{port}"
	case "EPRT":
		arg = "{eprt}"
	}
	out := "> " + escape(verb)
	switch {
	case hasArg && arg == "":
		out += `\x20` // "NOOP ": keep the blank the device sent
	case hasArg:
		out += " " + escape(arg)
	}
	s.out = append(s.out, out)
}

// reply handles one line from the gateway: a one-line reply, or the first,
// a middle or the last line of a multi-line one (RFC 959 4.2).
func (c *converter) reply(s *stream, line string) {
	if s.multi != "" {
		if strings.HasPrefix(line, s.multi+" ") {
			s.multi = ""
		}
		return
	}
	if len(line) < 4 || !codePattern.MatchString(line[:3]) {
		s.out = append(s.out, "# unparsed reply: "+escape(line))
		return
	}
	code := line[:3]
	if line[3] == '-' {
		s.multi = code
	}
	s.out = append(s.out, "< "+code)
	switch {
	case code == "221" && s.lastVerb == "QUIT":
		s.out = append(s.out, "eof")
	case code != "150" && code != "125":
	case s.lastVerb == "STOR" || s.lastVerb == "APPE" || s.lastVerb == "STOU":
		n := len(c.payloads) + 1
		p := draftPayload{name: fmt.Sprintf("upload%d%s", n, strings.ToLower(path.Ext(s.lastArg))), kind: guessKind(s.lastArg), file: s.lastArg}
		if !payloadName.MatchString(p.name) {
			p.name = fmt.Sprintf("upload%d", n)
		}
		c.payloads = append(c.payloads, p)
		s.out = append(s.out, "send "+p.name, "close")
	default: // RETR, LIST, NLST, MLSD
		s.out = append(s.out, "recv")
	}
}

// guessKind returns the payload kind for a file name's extension.
func guessKind(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg":
		return "jpeg"
	case ".pdf":
		return "pdf"
	case ".mp4", ".m4v", ".mov", ".avi", ".dav":
		return "mp4"
	case ".csv", ".txt", ".log":
		return "csv"
	}
	return "bin"
}

// escape writes a command argument for a `>` line: bytes that are not
// printable UTF-8 as \xNN, a backslash that unescape would read as the
// start of an escape as \\, and a trailing blank (which editors drop) as
// \x20.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == '\\'):
			b.WriteString(`\\`)
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f, (r == ' ' || r == '\t') && strings.TrimRight(s[i:], " \t") == "":
			fmt.Fprintf(&b, `\x%02x`, s[i])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
