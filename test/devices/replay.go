package devices

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Waits are bounded: a gateway that stops answering fails the step, it
// never hangs the test.
const (
	dialTimeout  = 5 * time.Second  // control and passive data connections
	replyTimeout = 15 * time.Second // one reply on the control connection
	dataTimeout  = 60 * time.Second // one send or recv on a data connection
)

// Target is a running gateway to replay a transcript against.
type Target struct {
	Addr     string // FTP control address, HOST:PORT
	User     string // {user}
	Password string // {password}; shown as **** in the log
	Store    Store  // where the gateway puts the user's files
}

// Store reads what the gateway stored for the user. Paths are FTP paths in
// the user's tree (absolute, "/" separated).
type Store interface {
	// Object returns the sha256 (hex) and size of the object stored at
	// name; ok is false when there is none.
	Object(ctx context.Context, name string) (sum string, size int64, ok bool, err error)
	// Dir reports whether a directory exists at name: a marker object, or
	// any object below it.
	Dir(ctx context.Context, name string) (bool, error)
	// Files returns the objects below dir (recursively, markers left out)
	// as paths relative to dir, in any order.
	Files(ctx context.Context, dir string) ([]string, error)
}

// Result is the outcome of a replay.
type Result struct {
	// Failures are "FILE:LINE: what went wrong", in order. A failed
	// protocol step ends its control connection: the replay skips to the
	// next connect, still running the store checks (expect lines).
	Failures []string
	// Log has every line sent and received, the data connections and
	// the checks, with the time since the start.
	Log string
}

// Replay runs the script against t. It stops early only when ctx ends.
func Replay(ctx context.Context, s *Script, t Target) Result {
	r := &replayer{ctx: ctx, script: s, target: t, start: time.Now(), payloads: map[string][]byte{}, vars: map[string]string{}}
	defer r.closeAll()
	r.run(s.Steps)
	if r.skipped > 0 {
		r.logf("-- skipped %d steps after the failure", r.skipped)
	}
	return Result{Failures: r.failures, Log: r.log.String()}
}

// command is a command line sent.
type command struct {
	verb  string // upper case
	shown string // as logged: "> STOR a.jpg", "> PASS ****"
}

// replayer is the state of one replay.
type replayer struct {
	ctx      context.Context
	script   *Script
	target   Target
	start    time.Time
	log      strings.Builder
	failures []string
	payloads map[string][]byte // generated on first use
	vars     map[string]string // loop variables

	ctrl     net.Conn
	r        *bufio.Reader
	lastCmd  string    // last command line sent, as logged
	pending  []command // commands sent that await their final reply
	data     net.Conn
	listener net.Listener // PORT/EPRT listener awaiting the gateway
	received []byte       // what the last recv read
	broken   bool         // a protocol step failed; skip to the next connect
	skipped  int          // steps skipped since
	stopped  bool         // ctx ended: nothing more runs
}

// deadline returns the time d from now, or the context's deadline if that
// comes first.
func (r *replayer) deadline(d time.Duration) time.Time {
	t := time.Now().Add(d)
	if cd, ok := r.ctx.Deadline(); ok && cd.Before(t) {
		return cd
	}
	return t
}

func (r *replayer) logf(format string, args ...any) {
	fmt.Fprintf(&r.log, "%8.3fs %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// fail records a failure of step.
func (r *replayer) fail(step Step, format string, args ...any) {
	msg := fmt.Sprintf("%s:%d: %s", r.script.Name, step.lineNo(), fmt.Sprintf(format, args...))
	r.failures = append(r.failures, msg)
	r.logf("!! %s", msg)
}

func (r *replayer) run(steps []Step) {
	for _, step := range steps {
		if err := r.ctx.Err(); err != nil {
			if !r.stopped {
				r.fail(step, "replay stopped here: %v", err)
				r.stopped = true
			}
			r.broken = true
			return
		}
		switch s := step.(type) {
		case repeatStep:
			r.repeat(s)
		case expectStep:
			if err := r.expect(s); err != nil {
				r.fail(s, "%v", err)
			}
		case connectStep:
			if r.skipped > 0 {
				r.logf("-- skipped %d steps after the failure", r.skipped)
				r.skipped = 0
			}
			r.closeAll()
			r.broken = false
			r.protocol(s, r.connect)
		default:
			if r.broken {
				r.skipped++
				continue
			}
			if dc, ok := s.(dataCheckStep); ok {
				if err := r.checkData(dc); err != nil {
					r.fail(s, "%v", err)
				}
				continue
			}
			r.protocol(s, func() error { return r.step(s) })
		}
	}
}

// protocol runs a step that talks to the gateway; its failure breaks the
// control connection.
func (r *replayer) protocol(s Step, f func() error) {
	if err := f(); err != nil {
		r.fail(s, "%v", err)
		r.broken = true
		r.closeAll()
	}
}

func (r *replayer) repeat(s repeatStep) {
	saved, had := r.vars[s.name]
	for i := 1; i <= s.n && !r.broken && r.ctx.Err() == nil; i++ {
		r.vars[s.name] = strconv.Itoa(i)
		r.run(s.steps)
	}
	if had {
		r.vars[s.name] = saved
	} else {
		delete(r.vars, s.name)
	}
}

func (r *replayer) step(s Step) error {
	switch s := s.(type) {
	case sendStep:
		return r.send(s.cmd)
	case replyStep:
		return r.reply(s)
	case dataSendStep:
		return r.dataSend(s)
	case dataRecvStep:
		return r.dataRecv()
	case dataCloseStep:
		return r.dataClose(s.reset)
	case sleepStep:
		r.logf("-- sleep %v", s.d)
		select {
		case <-time.After(s.d):
		case <-r.ctx.Done():
		}
		return nil
	case eofStep:
		return r.eof()
	}
	return fmt.Errorf("step %T cannot run", s)
}

func (r *replayer) connect() error {
	conn, err := net.DialTimeout("tcp", r.target.Addr, dialTimeout)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	r.ctrl, r.r = conn, bufio.NewReader(conn)
	r.lastCmd, r.pending = "(connect)", nil
	r.logf("-- connected to %s from %s", r.target.Addr, conn.LocalAddr())
	return nil
}

// send expands the placeholders of a command line and sends it.
func (r *replayer) send(template string) error {
	if r.ctrl == nil {
		return errors.New("no control connection (connect first)")
	}
	line, err := r.expand(template, true)
	if err != nil {
		return err
	}
	verb, _, _ := strings.Cut(line, " ")
	c := command{verb: strings.ToUpper(verb), shown: "> " + printable(line)}
	if c.verb == "PASS" {
		c.shown = "> PASS ****"
	}
	r.lastCmd, r.pending = c.shown, append(r.pending, c)
	r.logf("%s", c.shown)
	_ = r.ctrl.SetWriteDeadline(r.deadline(replyTimeout))
	if _, err := io.WriteString(r.ctrl, line+"\r\n"); err != nil {
		return fmt.Errorf("%s: write: %w", r.lastCmd, err)
	}
	return nil
}

var placeholder = regexp.MustCompile(`\{([a-z0-9]+)(?::([^{}]+))?\}`)

// expand replaces the placeholders in s: {user}, {password}, the loop
// variables ({i}, or {i:04} zero-padded), {size:PAYLOAD} and
// {sha256:PAYLOAD} (PAYLOAD may be a range, as in send), and, in commands
// only, {port} (PORT's h1,h2,h3,h4,p1,p2) and {eprt} (EPRT's |1|HOST|PORT|),
// which open a listener for the gateway's active data connection.
func (r *replayer) expand(s string, command bool) (string, error) {
	var err error
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, e := r.placeholder(m, command)
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	return out, err
}

func (r *replayer) placeholder(m string, command bool) (string, error) {
	sub := placeholder.FindStringSubmatch(m)
	name, arg := sub[1], sub[2]
	switch {
	case name == "user" && arg == "":
		return r.target.User, nil
	case name == "password" && arg == "":
		return r.target.Password, nil
	case (name == "port" || name == "eprt") && arg == "" && command:
		addr, err := r.listen()
		if err != nil {
			return m, err
		}
		if name == "eprt" {
			return fmt.Sprintf("|1|%s|%d|", addr.IP, addr.Port), nil
		}
		ip := addr.IP.To4()
		return fmt.Sprintf("%d,%d,%d,%d,%d,%d", ip[0], ip[1], ip[2], ip[3], addr.Port/256, addr.Port%256), nil
	case name == "size" || name == "sha256":
		ref, err := parseRef(arg)
		if err != nil {
			return m, fmt.Errorf("placeholder %s: %w", m, err)
		}
		if _, ok := r.script.Payloads[ref.Name]; !ok && ref.Name != "empty" {
			return m, fmt.Errorf("placeholder %s: payload %q is not declared", m, ref.Name)
		}
		b := r.payload(ref)
		if name == "size" {
			return strconv.Itoa(len(b)), nil
		}
		return sha256Hex(b), nil
	}
	v, ok := r.vars[name]
	if !ok {
		return m, fmt.Errorf("unknown placeholder %s", m)
	}
	if arg != "" {
		w, err := strconv.Atoi(arg)
		if err != nil || arg[0] != '0' || w > 9 {
			return m, fmt.Errorf("placeholder %s: the width must be like 04", m)
		}
		n, _ := strconv.Atoi(v)
		return fmt.Sprintf("%0*d", w, n), nil
	}
	return v, nil
}

// reply reads one reply and checks it against s. After a 227 (PASV) or a
// 229 (EPSV) it opens the passive data connection, as devices do before
// sending the transfer command.
func (r *replayer) reply(s replyStep) error {
	if r.ctrl == nil {
		return errors.New("no control connection (connect first)")
	}
	code, text, err := r.readReply()
	// The reply answers the oldest command still waiting (commands may be
	// sent ahead: QUIT or ABOR during a transfer); a 1xx is followed by
	// the final reply to the same command.
	answers := command{shown: r.lastCmd}
	if len(r.pending) > 0 {
		answers = r.pending[0]
		if code != "" && code[0] != '1' {
			r.pending = r.pending[1:]
		}
	}
	if err != nil {
		return fmt.Errorf("after %s: %w", answers.shown, err)
	}
	contains, err := r.expand(s.contains, false)
	if err != nil {
		return err
	}
	contains = strings.ToLower(contains)
	want := strings.Join(s.codes, "|")
	if contains != "" {
		want += fmt.Sprintf(" ~ %q", contains)
	}
	if !codeMatches(code, s.codes) || !strings.Contains(strings.ToLower(text), contains) {
		return fmt.Errorf("after %s: got %q, want %s", answers.shown, text, want)
	}
	switch {
	case answers.verb == "PASV" && code == "227":
		return r.dialPassive(parsePASV(text))
	case answers.verb == "EPSV" && code == "229":
		return r.dialPassive(parseEPSV(text, r.ctrl.RemoteAddr()))
	}
	return nil
}

func codeMatches(code string, patterns []string) bool {
	for _, p := range patterns {
		if len(p) == 3 && (p[1] == 'x' || p[1] == code[1]) && (p[2] == 'x' || p[2] == code[2]) && p[0] == code[0] {
			return true
		}
	}
	return false
}

// readReply reads a reply, single or multi-line (RFC 959 4.2), and returns
// its code and its text (lines joined with "\n").
func (r *replayer) readReply() (code, text string, err error) {
	_ = r.ctrl.SetReadDeadline(r.deadline(replyTimeout))
	var lines []string
	for {
		line, err := r.r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if err != nil {
			if line != "" {
				r.logf("< %s (then %v)", printable(line), err)
			}
			return "", "", fmt.Errorf("reading the reply: %w", err)
		}
		r.logf("< %s", printable(line))
		lines = append(lines, line)
		first := lines[0]
		if len(first) < 4 || !codePattern.MatchString(first[:3]) || strings.Contains(first[:3], "x") || (first[3] != ' ' && first[3] != '-') {
			return "", "", fmt.Errorf("malformed reply %q", first)
		}
		if first[3] == ' ' || (len(lines) > 1 && strings.HasPrefix(line, first[:3]+" ")) {
			return first[:3], strings.Join(lines, "\n"), nil
		}
	}
}

// eof expects the gateway to close the control connection.
func (r *replayer) eof() error {
	if r.ctrl == nil {
		return errors.New("no control connection")
	}
	_ = r.ctrl.SetReadDeadline(r.deadline(replyTimeout))
	line, err := r.r.ReadString('\n')
	if err == nil || line != "" {
		r.logf("< %s", printable(strings.TrimRight(line, "\r\n")))
		return fmt.Errorf("after %s: got %q, want the connection closed", r.lastCmd, strings.TrimRight(line, "\r\n"))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("after %s: the connection is still open after %v", r.lastCmd, replyTimeout)
	}
	r.logf("-- control connection closed by the gateway (%v)", err)
	r.closeAll()
	return nil
}

func (r *replayer) closeAll() {
	r.closeData()
	if r.ctrl != nil {
		_ = r.ctrl.Close()
		r.ctrl, r.r = nil, nil
	}
}

// printable returns s as it is, or Go-quoted when it holds bytes that are
// not printable UTF-8 (a Latin-1 name, a control character).
func printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return s
	}
	return strconv.Quote(s)
}
