package devices

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// listen opens the listener for an active-mode (PORT/EPRT) data connection
// on the control connection's local address.
func (r *replayer) listen() (*net.TCPAddr, error) {
	r.closeData()
	if r.ctrl == nil {
		return nil, errors.New("no control connection")
	}
	host := r.ctrl.LocalAddr().(*net.TCPAddr).IP
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: host})
	if err != nil {
		return nil, fmt.Errorf("listen for the active data connection: %w", err)
	}
	r.listener = l
	return l.Addr().(*net.TCPAddr), nil
}

var pasvReply = regexp.MustCompile(`(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)`)

// parsePASV returns the address of a 227 reply.
func parsePASV(text string) (string, error) {
	m := pasvReply.FindStringSubmatch(text)
	if m == nil {
		return "", fmt.Errorf("no address in the PASV reply %q", text)
	}
	p1, _ := strconv.Atoi(m[5])
	p2, _ := strconv.Atoi(m[6])
	return net.JoinHostPort(strings.Join(m[1:5], "."), strconv.Itoa(p1*256+p2)), nil
}

var epsvReply = regexp.MustCompile(`\(\|\|\|(\d+)\|\)`)

// parseEPSV returns the address of a 229 reply: the port it names on the
// control connection's host.
func parseEPSV(text string, ctrl net.Addr) (string, error) {
	m := epsvReply.FindStringSubmatch(text)
	if m == nil {
		return "", fmt.Errorf("no port in the EPSV reply %q", text)
	}
	host, _, _ := net.SplitHostPort(ctrl.String())
	return net.JoinHostPort(host, m[1]), nil
}

func (r *replayer) dialPassive(addr string, err error) error {
	if err != nil {
		return err
	}
	r.closeData()
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return fmt.Errorf("passive data connection to %s: %w", addr, err)
	}
	r.data = conn
	r.logf("-- data connection to %s", addr)
	return nil
}

// dataConn returns the data connection, accepting the gateway's active
// connection if it is still pending.
func (r *replayer) dataConn() (net.Conn, error) {
	if r.data != nil {
		return r.data, nil
	}
	if r.listener == nil {
		return nil, errors.New("no data connection: PASV, EPSV, PORT {port} or EPRT {eprt} first")
	}
	l := r.listener.(*net.TCPListener)
	_ = l.SetDeadline(r.deadline(replyTimeout))
	conn, err := l.Accept()
	_ = l.Close()
	r.listener = nil
	if err != nil {
		return nil, fmt.Errorf("the gateway did not open the active data connection: %w", err)
	}
	r.logf("-- data connection from %s", conn.RemoteAddr())
	r.data = conn
	return conn, nil
}

func (r *replayer) payload(ref PayloadRef) []byte {
	if ref.Name == "empty" {
		return nil
	}
	b, ok := r.payloads[ref.Name]
	if !ok {
		b = r.script.Payloads[ref.Name].Bytes()
		r.payloads[ref.Name] = b
	}
	to := int64(len(b))
	if ref.To >= 0 {
		to = ref.To
	}
	return b[ref.From:to]
}

// dataSend writes a payload on the data connection, at once or spread
// evenly over s.over (a slow link).
func (r *replayer) dataSend(s dataSendStep) error {
	conn, err := r.dataConn()
	if err != nil {
		return err
	}
	b := r.payload(s.ref)
	chunks := 1
	if s.over > 0 {
		chunks = 20
	}
	sent := 0
	for i := range chunks {
		part := b[len(b)*i/chunks : len(b)*(i+1)/chunks]
		_ = conn.SetWriteDeadline(r.deadline(dataTimeout))
		n, err := conn.Write(part)
		sent += n
		if err != nil {
			r.logf("-- data: sent %d of %d bytes of %s", sent, len(b), s.ref)
			return fmt.Errorf("sending %s: %w", s.ref, err)
		}
		if s.over > 0 {
			time.Sleep(s.over / time.Duration(chunks))
		}
	}
	r.logf("-- data: sent %d bytes of %s", sent, s.ref)
	return nil
}

// dataRecv reads the data connection to its end and closes it.
func (r *replayer) dataRecv() error {
	conn, err := r.dataConn()
	if err != nil {
		return err
	}
	_ = conn.SetReadDeadline(r.deadline(dataTimeout))
	b, err := io.ReadAll(conn)
	r.closeData()
	r.received = b
	r.logf("-- data: received %d bytes", len(b))
	if len(b) <= 4096 {
		for _, line := range splitLines(b) {
			r.logf("   | %s", printable(line))
		}
	}
	if err != nil {
		return fmt.Errorf("receiving: %w", err)
	}
	return nil
}

// dataClose closes the data connection (accepting it first if the gateway
// connected in active mode), with RST when reset is set.
func (r *replayer) dataClose(reset bool) error {
	if r.data == nil && r.listener != nil {
		_ = r.listener.(*net.TCPListener).SetDeadline(time.Now().Add(250 * time.Millisecond))
		if conn, err := r.listener.Accept(); err == nil {
			r.data = conn
		}
	}
	if r.data == nil {
		r.closeData()
		r.logf("-- no data connection to close")
		return nil
	}
	how := "closed"
	if tc, ok := r.data.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
		how = "reset (RST)"
	}
	r.closeData()
	r.logf("-- data connection %s", how)
	return nil
}

func (r *replayer) closeData() {
	if r.data != nil {
		_ = r.data.Close()
		r.data = nil
	}
	if r.listener != nil {
		_ = r.listener.Close()
		r.listener = nil
	}
}
