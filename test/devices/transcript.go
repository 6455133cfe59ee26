// Package devices replays the FTP sessions of device families (scanners, IP
// cameras, NVRs, dataloggers) against a gateway over raw TCP and checks each
// reply code, the data connections and the objects that land in S3.
//
// A transcript is a text file (testdata/*.txt, one per device family) in the
// line format described in docs/devices.md: Parse reads one, Replay runs it
// against a Target. The tests in this package start the built s3ftp binary
// for every transcript and backend.
package devices

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bounds that keep a transcript quick and every wait finite.
const (
	maxSleep   = 5 * time.Second // longest sleep or paced send
	maxRepeat  = 1000            // most iterations of one repeat block
	maxPayload = 64 << 20        // largest payload
)

// Script is a parsed transcript.
type Script struct {
	Name        string             // file name, for messages (scanner.txt)
	Serve       []string           // extra `s3ftp serve` flags (serve lines)
	Permissions string             // the FTP user's permissions (user line); default "all"
	Payloads    map[string]Payload // payload lines, by name
	Steps       []Step
}

// Step is one executable line of a transcript.
type Step interface {
	// lineNo returns the transcript line the step comes from.
	lineNo() int
}

// Protocol steps talk to the gateway; a failure ends the control connection
// and the replay skips to the next connect.
type (
	connectStep struct{ line int }
	// sendStep sends one command line; cmd is raw bytes (escapes decoded),
	// placeholders are expanded when it runs.
	sendStep struct {
		line int
		cmd  string
	}
	replyStep struct {
		line     int
		codes    []string // "226", "2xx"
		contains string   // text the reply must hold (any case, placeholders expanded); "" for any
	}
	dataSendStep struct {
		line int
		ref  PayloadRef
		over time.Duration // spread the writes over this long (0: at once)
	}
	dataRecvStep  struct{ line int }
	dataCloseStep struct {
		line  int
		reset bool // close with RST instead of FIN
	}
	sleepStep struct {
		line int
		d    time.Duration
	}
	eofStep    struct{ line int }
	repeatStep struct {
		line  int
		n     int
		name  string // loop variable, default "i"
		steps []Step
	}
)

// Check steps look at the store or at the last data received; a failure is
// reported and the replay goes on.
type (
	// expectStep checks the store: what is one of object, absent, dir, files, count.
	expectStep struct {
		line  int
		what  string
		path  string
		ref   PayloadRef // object
		names []string   // files
		n     int        // count
	}
	// dataCheckStep checks the last data received: what is one of has,
	// lacks, count, contains, equals.
	dataCheckStep struct {
		line  int
		what  string
		names []string
		n     int
		text  string
		ref   PayloadRef
	}
)

func (s connectStep) lineNo() int   { return s.line }
func (s sendStep) lineNo() int      { return s.line }
func (s replyStep) lineNo() int     { return s.line }
func (s dataSendStep) lineNo() int  { return s.line }
func (s dataRecvStep) lineNo() int  { return s.line }
func (s dataCloseStep) lineNo() int { return s.line }
func (s sleepStep) lineNo() int     { return s.line }
func (s eofStep) lineNo() int       { return s.line }
func (s repeatStep) lineNo() int    { return s.line }
func (s expectStep) lineNo() int    { return s.line }
func (s dataCheckStep) lineNo() int { return s.line }

// Parse reads a transcript. Errors name the line.
func Parse(name string, r io.Reader) (*Script, error) {
	p := &parser{script: &Script{Name: name, Permissions: "all", Payloads: map[string]Payload{}}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	// stack holds the step lists of the open repeat blocks; stack[0] is the top level.
	stack := []*[]Step{&p.script.Steps}
	var open []repeatStep
	for sc.Scan() {
		p.line++
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasPrefix(trimmed, "> ") {
			// A command is sent as written, trailing blanks included.
			trimmed = strings.TrimLeft(line, " \t")
		}
		if trimmed == "}" {
			if len(open) == 0 {
				return nil, p.errorf("} without repeat")
			}
			rs := open[len(open)-1]
			rs.steps = *stack[len(stack)-1]
			open, stack = open[:len(open)-1], stack[:len(stack)-1]
			*stack[len(stack)-1] = append(*stack[len(stack)-1], rs)
			continue
		}
		if rs, ok, err := p.repeat(trimmed); err != nil {
			return nil, err
		} else if ok {
			open = append(open, rs)
			stack = append(stack, &[]Step{})
			continue
		}
		step, err := p.parseLine(trimmed, len(open) > 0)
		if err != nil {
			return nil, err
		}
		if step != nil {
			*stack[len(stack)-1] = append(*stack[len(stack)-1], step)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("%s:%d: repeat block not closed", name, open[len(open)-1].line)
	}
	if err := p.checkRefs(p.script.Steps); err != nil {
		return nil, err
	}
	return p.script, nil
}

type parser struct {
	script *Script
	line   int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.script.Name, p.line, fmt.Sprintf(format, args...))
}

var repeatLine = regexp.MustCompile(`^repeat\s+(\d+)(?:\s+as\s+([a-z]+))?\s*\{$`)

// repeat parses "repeat N [as VAR] {".
func (p *parser) repeat(s string) (repeatStep, bool, error) {
	if !strings.HasPrefix(s, "repeat") {
		return repeatStep{}, false, nil
	}
	m := repeatLine.FindStringSubmatch(s)
	if m == nil {
		return repeatStep{}, false, p.errorf("want `repeat N {` or `repeat N as VAR {`")
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > maxRepeat {
		return repeatStep{}, false, p.errorf("repeat count must be 1..%d", maxRepeat)
	}
	name := m[2]
	switch name {
	case "":
		name = "i"
	case "user", "password", "port", "eprt", "size", "sha256":
		return repeatStep{}, false, p.errorf("repeat: %s is a placeholder name; choose another", name)
	}
	return repeatStep{line: p.line, n: n, name: name}, true, nil
}

// parseLine parses one line that is not a comment or a block delimiter. It
// returns a nil Step for the settings lines (serve, user, payload).
func (p *parser) parseLine(s string, inBlock bool) (Step, error) {
	switch {
	case strings.HasPrefix(s, "> "):
		cmd, err := unescape(s[2:])
		if err != nil {
			return nil, p.errorf("%v", err)
		}
		return sendStep{line: p.line, cmd: cmd}, nil
	case strings.HasPrefix(s, "< "):
		return p.reply(s[2:])
	}
	keyword, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	if inBlock && (keyword == "serve" || keyword == "user" || keyword == "payload") {
		return nil, p.errorf("%s is a setting: not allowed inside repeat", keyword)
	}
	switch keyword {
	case "serve":
		f, err := fields(rest)
		if err != nil || len(f) == 0 {
			return nil, p.errorf("serve: want flags, e.g. serve --idle-timeout 2s")
		}
		p.script.Serve = append(p.script.Serve, f...)
		return nil, nil
	case "user":
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return nil, p.errorf("user: want one comma separated permission list, e.g. user upload,mkdir")
		}
		p.script.Permissions = rest
		return nil, nil
	case "payload":
		return nil, p.payload(rest)
	case "connect", "recv", "close", "reset", "eof":
		if rest != "" {
			return nil, p.errorf("%s takes no argument", keyword)
		}
		switch keyword {
		case "connect":
			return connectStep{line: p.line}, nil
		case "recv":
			return dataRecvStep{line: p.line}, nil
		case "eof":
			return eofStep{line: p.line}, nil
		}
		return dataCloseStep{line: p.line, reset: keyword == "reset"}, nil
	case "sleep":
		d, err := time.ParseDuration(rest)
		if err != nil || d <= 0 || d > maxSleep {
			return nil, p.errorf("sleep: want a duration up to %v, e.g. sleep 50ms", maxSleep)
		}
		return sleepStep{line: p.line, d: d}, nil
	case "send":
		return p.send(rest)
	case "expect":
		return p.expect(rest)
	case "data":
		return p.dataCheck(rest)
	}
	return nil, p.errorf("unknown line %q (want > CMD, < CODE, connect, send, recv, close, reset, sleep, eof, repeat, expect, data, serve, user or payload)", s)
}

var codePattern = regexp.MustCompile(`^[1-5][0-9x][0-9x]$`)

// reply parses "CODES [~ TEXT]" where CODES is "226", "550|553" or "2xx".
func (p *parser) reply(s string) (Step, error) {
	codes, text, hasText := strings.Cut(s, "~")
	rs := replyStep{line: p.line}
	for c := range strings.SplitSeq(strings.TrimSpace(codes), "|") {
		if !codePattern.MatchString(c) {
			return nil, p.errorf("reply: %q is not a code like 226, 2xx or 550|553", c)
		}
		rs.codes = append(rs.codes, c)
	}
	if hasText {
		rs.contains = strings.TrimSpace(text)
		if rs.contains == "" {
			return nil, p.errorf("reply: empty text after ~")
		}
	}
	return rs, nil
}

// payload parses "NAME KIND SIZE [seed N]".
func (p *parser) payload(s string) error {
	f, err := fields(s)
	if err != nil || (len(f) != 3 && len(f) != 5) || (len(f) == 5 && f[3] != "seed") {
		return p.errorf("payload: want NAME KIND SIZE [seed N]")
	}
	name, kind := f[0], f[1]
	if !payloadName.MatchString(name) {
		return p.errorf("payload: name %q: use letters, digits and . _ -", name)
	}
	if _, dup := p.script.Payloads[name]; dup || name == "empty" {
		return p.errorf("payload %s declared twice (or named empty, which is reserved)", name)
	}
	if generator(kind) == nil {
		return p.errorf("payload: unknown kind %q (want one of %s)", kind, kinds)
	}
	size, err := parseSize(f[2])
	if err != nil || size > maxPayload {
		return p.errorf("payload: size %q: want bytes or KiB/MiB, at most %d MiB", f[2], maxPayload>>20)
	}
	var seed uint64
	if len(f) == 5 {
		if seed, err = strconv.ParseUint(f[4], 10, 64); err != nil {
			return p.errorf("payload: seed %q is not a number", f[4])
		}
	}
	p.script.Payloads[name] = Payload{Name: name, Kind: kind, Size: size, Seed: seed}
	return nil
}

var payloadName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// send parses "PAYLOAD[RANGE] [over DURATION]".
func (p *parser) send(s string) (Step, error) {
	f, err := fields(s)
	if err != nil || (len(f) != 1 && len(f) != 3) || (len(f) == 3 && f[1] != "over") {
		return nil, p.errorf("send: want PAYLOAD, PAYLOAD[FROM:TO] or PAYLOAD over DURATION")
	}
	ref, err := parseRef(f[0])
	if err != nil {
		return nil, p.errorf("send: %v", err)
	}
	ds := dataSendStep{line: p.line, ref: ref}
	if len(f) == 3 {
		if ds.over, err = time.ParseDuration(f[2]); err != nil || ds.over <= 0 || ds.over > maxSleep {
			return nil, p.errorf("send: over: want a duration up to %v", maxSleep)
		}
	}
	return ds, nil
}

// expect parses the store checks.
func (p *parser) expect(s string) (Step, error) {
	f, err := fields(s)
	if err != nil {
		return nil, p.errorf("expect: %v", err)
	}
	usage := p.errorf("expect: want `object PATH = PAYLOAD`, `absent PATH`, `dir PATH`, `files DIR = NAME...` or `count DIR N`")
	if len(f) < 2 {
		return nil, usage
	}
	es := expectStep{line: p.line, what: f[0], path: f[1]}
	switch {
	case f[0] == "object" && len(f) == 4 && f[2] == "=":
		if es.ref, err = parseRef(f[3]); err != nil {
			return nil, p.errorf("expect: %v", err)
		}
	case (f[0] == "absent" || f[0] == "dir") && len(f) == 2:
	case f[0] == "files" && len(f) >= 3 && f[2] == "=":
		es.names = f[3:]
	case f[0] == "count" && len(f) == 3:
		if es.n, err = strconv.Atoi(f[2]); err != nil || es.n < 0 {
			return nil, p.errorf("expect count: %q is not a count", f[2])
		}
	default:
		return nil, usage
	}
	return es, nil
}

// dataCheck parses the checks on the last data received.
func (p *parser) dataCheck(s string) (Step, error) {
	what, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	dc := dataCheckStep{line: p.line, what: what}
	switch what {
	case "has", "lacks":
		f, err := fields(rest)
		if err != nil || len(f) == 0 {
			return nil, p.errorf("data %s: want one or more names", what)
		}
		dc.names = f
	case "count":
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			return nil, p.errorf("data count: want a number of entries")
		}
		dc.n = n
	case "~":
		if rest == "" {
			return nil, p.errorf("data ~: want a text")
		}
		dc.what, dc.text = "contains", rest
	case "=":
		ref, err := parseRef(rest)
		if err != nil {
			return nil, p.errorf("data =: %v", err)
		}
		dc.what, dc.ref = "equals", ref
	default:
		return nil, p.errorf("data: want `has NAME...`, `lacks NAME...`, `count N`, `~ TEXT` or `= PAYLOAD`")
	}
	return dc, nil
}

// checkRefs reports payload references to undeclared payloads.
func (p *parser) checkRefs(steps []Step) error {
	for _, s := range steps {
		var ref PayloadRef
		switch s := s.(type) {
		case dataSendStep:
			ref = s.ref
		case expectStep:
			ref = s.ref
		case dataCheckStep:
			ref = s.ref
		case repeatStep:
			if err := p.checkRefs(s.steps); err != nil {
				return err
			}
			continue
		}
		if ref.Name == "" || ref.Name == "empty" {
			continue
		}
		pl, ok := p.script.Payloads[ref.Name]
		if !ok {
			return fmt.Errorf("%s:%d: payload %q is not declared", p.script.Name, s.lineNo(), ref.Name)
		}
		if ref.From > pl.Size || (ref.To >= 0 && (ref.To > pl.Size || ref.To < ref.From)) {
			return fmt.Errorf("%s:%d: range [%d:%d] is outside payload %s (%d bytes)", p.script.Name, s.lineNo(), ref.From, ref.To, pl.Name, pl.Size)
		}
	}
	return nil
}

// PayloadRef names a payload, or the bytes [From:To) of it (To < 0: to the
// end). The name "empty" is the empty payload.
type PayloadRef struct {
	Name     string
	From, To int64
}

var refPattern = regexp.MustCompile(`^([A-Za-z0-9._-]+)(?:\[([0-9A-Za-z]*):([0-9A-Za-z]*)\])?$`)

func parseRef(s string) (PayloadRef, error) {
	m := refPattern.FindStringSubmatch(s)
	if m == nil {
		return PayloadRef{}, fmt.Errorf("%q is not PAYLOAD or PAYLOAD[FROM:TO]", s)
	}
	ref := PayloadRef{Name: m[1], To: -1}
	var err error
	if m[2] != "" {
		if ref.From, err = parseSize(m[2]); err != nil {
			return PayloadRef{}, err
		}
	}
	if m[3] != "" {
		if ref.To, err = parseSize(m[3]); err != nil {
			return PayloadRef{}, err
		}
	}
	return ref, nil
}

// String formats r as it is written in a transcript.
func (r PayloadRef) String() string {
	if r.From == 0 && r.To < 0 {
		return r.Name
	}
	to := ""
	if r.To >= 0 {
		to = strconv.FormatInt(r.To, 10)
	}
	return fmt.Sprintf("%s[%d:%s]", r.Name, r.From, to)
}

// parseSize parses a byte count: 123, 64KiB, 12MiB.
func parseSize(s string) (int64, error) {
	orig, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want bytes or a number with KiB or MiB", orig)
	}
	return n * mult, nil
}

// fields splits s on blanks; a field in double quotes is a Go string literal
// (so it can hold spaces and escapes like \xe9 or \u00e9).
func fields(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] != '"' {
			f, rest, _ := strings.Cut(s, " ")
			out, s = append(out, f), rest
			continue
		}
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, fmt.Errorf("bad quoted field in %q", s)
		}
		f, _ := strconv.Unquote(q)
		out, s = append(out, f), s[len(q):]
		if s != "" && s[0] != ' ' {
			return nil, errors.New("a quoted field must be followed by a blank")
		}
	}
	return out, nil
}

// unescape decodes \xNN (a raw byte) and \\ in a command line; any other
// backslash is kept as it is.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == 'x':
			if i+4 > len(s) {
				return "", fmt.Errorf(`\x needs two hex digits in %q`, s)
			}
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", fmt.Errorf(`\x needs two hex digits in %q`, s)
			}
			b.WriteByte(byte(v))
			i += 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
