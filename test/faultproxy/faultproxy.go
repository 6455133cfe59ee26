// Package faultproxy is a fault-injecting TCP proxy for tests: it sits
// between a client (the gateway) and an HTTP server (S3) on 127.0.0.1 and,
// on command, delays each request, resets every connection, stops
// forwarding for a while (the equivalent of SIGSTOP on the server), refuses
// new connections, or answers a fraction of requests with 503 SlowDown.
//
// It speaks just enough HTTP/1.1 to count requests and answer some of them
// itself: each connection is read request by request (net/http's parser),
// every request is written to one upstream connection per client
// connection, and its response copied back. Bodies are streamed, never
// buffered whole, so a stall or reset can strike in the middle of an upload
// or a download.
package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proxy forwards connections from its listener to Target. Its fault
// settings may be changed at any time, from any goroutine.
type Proxy struct {
	target string
	ln     net.Listener

	mu       sync.Mutex
	latency  time.Duration
	slowDown float64 // fraction of requests answered 503 SlowDown
	refuse   bool
	rule     func(*http.Request) Fault
	stalled  chan struct{} // closed when forwarding may go on; nil when not stalled
	conns    map[net.Conn]struct{}
	clients  int // client connections being served
	rng      *rand.Rand
	closed   bool
	wg       sync.WaitGroup

	stats Stats
}

// Stats counts what the proxy did.
type Stats struct {
	Connections int // client connections accepted (refused ones included)
	Refused     int // connections reset on accept because of Refuse
	Requests    int // requests read from clients
	SlowDowns   int // requests answered 503 SlowDown by the proxy
	Resets      int // connections reset by Cut
}

// New listens on 127.0.0.1:0 and forwards to target (host:port, or an
// http:// URL whose host is used). It returns an error if it cannot listen.
// Close stops it.
func New(target string) (*Proxy, error) {
	target = strings.TrimPrefix(target, "http://")
	target = strings.TrimSuffix(target, "/")
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		target: target,
		ln:     ln,
		conns:  map[net.Conn]struct{}{},
		rng:    rand.New(rand.NewPCG(1, 2)),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address, 127.0.0.1:PORT.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns http://Addr(), the endpoint to give the client.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// SetLatency delays every request by d before it is forwarded (0: none).
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Fault is what the proxy does with one request.
type Fault int

// The faults a Rule can choose.
const (
	Forward  Fault = iota // pass the request on (subject to latency, stall, slow-down)
	Reset                 // reset the client's connection instead of forwarding
	SlowDown              // answer 503 SlowDown instead of forwarding
)

// SetRule makes the proxy call rule with each request (its headers read,
// its body not) before anything else, and do what it returns; nil removes
// the rule. rule may change the proxy's settings (Down, Stall, ...).
func (p *Proxy) SetRule(rule func(*http.Request) Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule
}

// SetSlowDown makes the proxy answer the fraction f (0 to 1) of requests
// itself with 503 SlowDown, as S3 does when throttling; 0 turns it off.
func (p *Proxy) SetSlowDown(f float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowDown = f
}

// Refuse makes the proxy reset every new connection as soon as it is
// accepted (on); off accepts them again. Connections already open are
// left alone (see Cut).
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = on
}

// Cut resets (RST) every open connection, client and upstream sides.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		reset(c)
		p.stats.Resets++
	}
}

// Down is Refuse(true) then Cut: the server is unreachable, as if it had
// died. Up undoes it.
func (p *Proxy) Down() {
	p.Refuse(true)
	p.Cut()
}

// Up is Refuse(false) and Resume: the server is reachable again.
func (p *Proxy) Up() {
	p.Refuse(false)
	p.Resume()
}

// Stall stops all forwarding, in both directions and on every connection,
// mid-body included, until Resume; connections stay open and new ones are
// accepted but nothing passes, as if the server process were stopped.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// StallFor is Stall followed by Resume after d.
func (p *Proxy) StallFor(d time.Duration) {
	p.Stall()
	time.AfterFunc(d, p.Resume)
}

// Resume ends a Stall.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Open returns the number of client connections open now (each a
// connection the client keeps, idle or busy, in its pool).
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clients
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

// wait blocks while the proxy is stalled.
func (p *Proxy) wait() {
	for {
		p.mu.Lock()
		ch := p.stalled
		p.mu.Unlock()
		if ch == nil {
			return
		}
		<-ch
	}
}

// track adds c to the open connections, or reports false if the proxy is
// closed (then c is closed).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// untrack closes c and forgets it.
func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.stats.Connections++
		refuse := p.refuse
		if refuse {
			p.stats.Refused++
		}
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		p.mu.Lock()
		p.clients++
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			defer func() {
				p.mu.Lock()
				p.clients--
				p.mu.Unlock()
			}()
			defer p.untrack(c)
			p.serve(c)
		}()
	}
}

// serve forwards the requests of one client connection until either side
// closes it.
func (p *Proxy) serve(client net.Conn) {
	var up net.Conn
	var upr *bufio.Reader
	defer func() {
		if up != nil {
			p.untrack(up)
		}
	}()
	cr := bufio.NewReader(gated{client, p})
	cw := gatedWriter{client, p}
	for {
		req, err := http.ReadRequest(cr)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.stats.Requests++
		rule := p.rule
		p.mu.Unlock()
		fault := Forward
		if rule != nil {
			fault = rule(req)
		}
		if fault == Reset {
			p.mu.Lock()
			p.stats.Resets++
			p.mu.Unlock()
			reset(client)
			return
		}
		p.mu.Lock()
		latency := p.latency
		throttle := fault == SlowDown || p.slowDown > 0 && p.rng.Float64() < p.slowDown
		if throttle {
			p.stats.SlowDowns++
		}
		p.mu.Unlock()
		if latency > 0 {
			time.Sleep(latency)
		}
		// A client that sent "Expect: 100-continue" holds its body back
		// until told to go on: the proxy answers that itself, so that it
		// reads and forwards one response per request.
		expect := strings.EqualFold(req.Header.Get("Expect"), "100-continue")
		if throttle {
			if expect {
				// The body never comes: answer and close, as S3 does.
				_ = slowDown(cw, req, false)
				return
			}
			if err := slowDown(cw, req, true); err != nil {
				return
			}
			continue
		}
		if expect {
			req.Header.Del("Expect")
			if _, err := io.WriteString(cw, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return
			}
		}
		if up == nil {
			c, err := net.DialTimeout("tcp", p.target, 10*time.Second)
			if err != nil || !p.track(c) {
				reset(client)
				return
			}
			up, upr = c, bufio.NewReader(gated{c, p})
		}
		if err := req.Write(gatedWriter{up, p}); err != nil {
			return
		}
		resp, err := http.ReadResponse(upr, req)
		if err != nil {
			return
		}
		err = resp.Write(cw)
		resp.Body.Close()
		if err != nil || resp.Close || req.Close {
			return
		}
	}
}

// slowDown writes S3's 503 SlowDown answer to req to w, after draining
// req's body if drain (the connection is then kept), else with
// "Connection: close".
func slowDown(w io.Writer, req *http.Request, drain bool) error {
	if drain {
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return err
		}
		req.Body.Close()
	}
	const body = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>faultproxy</RequestId></Error>`
	resp := &http.Response{
		StatusCode:    http.StatusServiceUnavailable,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Request:       req,
		Header:        http.Header{"Content-Type": {"application/xml"}, "Content-Length": {strconv.Itoa(len(body))}},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(strings.NewReader(body)),
		Close:         !drain,
	}
	return resp.Write(w)
}

// gated is a connection's read side that blocks while the proxy stalls.
type gated struct {
	c net.Conn
	p *Proxy
}

func (g gated) Read(b []byte) (int, error) {
	g.p.wait()
	n, err := g.c.Read(b)
	if n > 0 {
		g.p.wait() // a stall that began during the read holds these bytes
	}
	return n, err
}

// gatedWriter is a connection's write side that blocks while the proxy
// stalls.
type gatedWriter struct {
	c net.Conn
	p *Proxy
}

func (g gatedWriter) Write(b []byte) (int, error) {
	g.p.wait()
	return g.c.Write(b)
}

// reset closes c with an RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
