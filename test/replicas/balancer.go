// Package replicas runs several `s3ftp serve` replicas on loopback addresses
// (127.0.0.1, 127.0.0.2...) behind Balancer, a TCP load balancer that picks a
// replica for every connection it accepts, control and data alike, the way a
// Kubernetes Service without session affinity does. Its tests drive real FTP
// clients through the balancer (docs/kubernetes.md, "Several replicas"):
//
//	go test ./test/replicas/                  # 30 sessions × 20 files, kill tests
//	go test -short ./test/replicas/           # 12 × 5
//	go test ./test/replicas/ -run TestReplicasBehindBalancer -replicas.sessions 60 -replicas.files 40
//
// They need PostgreSQL, versitygw, curl, lftp and python3, and skip without
// them (fail with S3FTP_TEST_STRICT=1), or when the binary lacks the replica
// settings.
package replicas

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// dialTimeout bounds the balancer's connection to one backend; a refused
// connection (a dead replica on loopback) fails at once.
const dialTimeout = 2 * time.Second

// BalancerConfig configures a Balancer.
type BalancerConfig struct {
	// Host is the address the balancer listens on, the one the replicas
	// advertise (public-host).
	Host string
	// Ports are the ports it listens on: the control port and every
	// passive port. A connection to port P goes to port P of a backend.
	Ports []int
	// Backends are the replicas' hosts.
	Backends []string
	// KeepClientAddress makes the connection to the backend come from the
	// client's own IP address, as kube-proxy with externalTrafficPolicy
	// Local keeps it (every loopback address is local, so the balancer can
	// bind it). Without it the backend sees the balancer's Host.
	KeepClientAddress bool
}

// Route is one connection the balancer forwarded.
type Route struct {
	Client  netip.AddrPort // the client's address and port
	Port    int            // the balancer's port it connected to
	Backend string         // the backend it went to
	Opened  time.Time
	Closed  time.Time // zero while open
}

// Balancer forwards each TCP connection it accepts to the same port of a
// backend picked at random; when that backend refuses, it tries the others
// in random order (as a load balancer whose health check has noticed a dead
// backend would), and closes the client's connection when all refuse. It
// copies with bounded buffers and closes both sides when either ends.
type Balancer struct {
	cfg       BalancerConfig
	listeners []net.Listener
	wg        sync.WaitGroup

	mu     sync.Mutex
	routes []*Route
	conns  map[net.Conn]struct{}
	closed bool
}

// NewBalancer listens on every port of cfg on cfg.Host and starts
// forwarding. It returns an error, having closed what it opened, if a port
// cannot be listened on or cfg has no backend.
func NewBalancer(cfg BalancerConfig) (*Balancer, error) {
	if len(cfg.Backends) == 0 || len(cfg.Ports) == 0 {
		return nil, errors.New("balancer: no backends or no ports")
	}
	b := &Balancer{cfg: cfg, conns: map[net.Conn]struct{}{}}
	for _, port := range cfg.Ports {
		l, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(port)))
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("balancer: %w", err)
		}
		b.listeners = append(b.listeners, l)
	}
	for i, l := range b.listeners {
		b.wg.Go(func() { b.serve(l, cfg.Ports[i]) })
	}
	return b, nil
}

// serve accepts the connections of l until it is closed.
func (b *Balancer) serve(l net.Listener, port int) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		if !b.track(c) {
			c.Close()
			return
		}
		b.wg.Go(func() { b.forward(c, port) })
	}
}

// track registers c for Close; false once the balancer is closed.
func (b *Balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

// untrack forgets c.
func (b *Balancer) untrack(c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
}

// forward connects client to a backend and copies both ways until either
// side ends.
func (b *Balancer) forward(client net.Conn, port int) {
	defer b.untrack(client)
	defer client.Close()
	clientAddr := client.RemoteAddr().(*net.TCPAddr).AddrPort()
	backend, up := b.dial(clientAddr, port)
	if up == nil {
		return
	}
	if !b.track(up) {
		up.Close()
		return
	}
	defer b.untrack(up)
	defer up.Close()
	r := &Route{Client: clientAddr, Port: port, Backend: backend, Opened: time.Now()}
	b.mu.Lock()
	b.routes = append(b.routes, r)
	b.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // pass the end of the stream on
		}
		done <- struct{}{}
	}
	go pipe(up, client)
	go pipe(client, up)
	<-done
	// One direction ended: a reset or an error ends the other at once, an
	// orderly close lets the other side finish what it sends.
	<-done
	b.mu.Lock()
	r.Closed = time.Now()
	b.mu.Unlock()
}

// dial connects to port of the backends in random order and returns the
// first that answers, or "", nil when none does.
func (b *Balancer) dial(client netip.AddrPort, port int) (string, net.Conn) {
	d := net.Dialer{Timeout: dialTimeout}
	if b.cfg.KeepClientAddress {
		d.LocalAddr = &net.TCPAddr{IP: client.Addr().AsSlice()}
	}
	for _, i := range rand.Perm(len(b.cfg.Backends)) {
		host := b.cfg.Backends[i]
		c, err := d.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return host, c
		}
	}
	return "", nil
}

// Routes returns a copy of the connections forwarded so far, in order.
func (b *Balancer) Routes() []Route {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Route, len(b.routes))
	for i, r := range b.routes {
		out[i] = *r
	}
	return out
}

// OpenVia returns the client addresses (IPs) with a connection open through
// backend now.
func (b *Balancer) OpenVia(backend string) []netip.Addr {
	var out []netip.Addr
	for _, r := range b.Routes() {
		if r.Backend == backend && r.Closed.IsZero() && !slices.Contains(out, r.Client.Addr()) {
			out = append(out, r.Client.Addr())
		}
	}
	return out
}

// Close stops listening, closes every connection in progress and waits
// for the forwarding goroutines.
func (b *Balancer) Close() {
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	for _, l := range b.listeners {
		l.Close()
	}
	b.wg.Wait()
}
