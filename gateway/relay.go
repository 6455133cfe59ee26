package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// relayBufferSize is the buffer of each direction of a relayed connection:
// a relay holds at most two of them, whatever it carries.
const relayBufferSize = 32 << 10

// relay listens on the passive ports of the other replicas' slices and
// relays each data connection that arrives there to the replica that owns
// the port, at the same port on its host (Settings.Peers), first sending a
// PROXY v2 header with the client's address and the address it connected
// to. The owner trusts the header because it comes from a peer network,
// and so checks the client's own address against its session's.
type relay struct {
	srv       *Server
	log       *slog.Logger
	listeners []net.Listener
	accepting sync.WaitGroup // the accept loops
	serving   sync.WaitGroup // the relays
	mu        sync.Mutex
	conns     map[net.Conn]struct{} // both sides of the relays in progress
	closed    bool
	active    atomic.Int32 // relays in progress
}

// listenRelay binds the ports of the other replicas' slices on host, or
// returns nil when there is one replica. On error nothing stays bound.
func (s *Server) listenRelay(host string) (*relay, error) {
	set := s.settings
	if set.Replicas <= 1 {
		return nil, nil
	}
	r := &relay{srv: s, log: s.log.With("component", "relay"), conns: map[net.Conn]struct{}{}}
	own := set.PassivePorts.ReplicaSlice(set.ReplicaIndex, set.Replicas)
	for port := set.PassivePorts.Start; port <= set.PassivePorts.End; port++ {
		if port >= own.Start && port <= own.End {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			r.close()
			return nil, fmt.Errorf("relay: passive port %d of replica %d: %w", port, set.PassivePorts.replicaOf(port, set.Replicas), err)
		}
		r.listeners = append(r.listeners, l)
	}
	for _, l := range r.listeners {
		r.accepting.Go(func() { r.acceptLoop(l) })
	}
	return r, nil
}

// acceptLoop relays every connection l accepts until l is closed.
func (r *relay) acceptLoop(l net.Listener) {
	port := l.Addr().(*net.TCPAddr).Port
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("relay: accept", "port", port, "err", err)
			time.Sleep(50 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		r.serving.Go(func() { r.serve(conn, port) })
	}
}

// serve relays conn, accepted on port, to the port's owner.
func (r *relay) serve(conn net.Conn, port int) {
	set := r.srv.settings
	peer := set.PassivePorts.replicaOf(port, set.Replicas)
	src := addrOf(conn.RemoteAddr())
	client := conn
	switch {
	case r.srv.lbTrusts(src):
		// The load balancer's header names the client.
		pc, err := r.srv.proxyPolicy().readHeader(conn)
		if err != nil {
			return
		}
		client = pc
	case r.srv.dataPolicy.trusts(src):
		// A peer relays only to a port's owner: the replicas disagree on
		// who owns this one (replicas or passive-ports differ).
		r.log.Error("relay refused: a peer sent a data connection to a port of another replica's slice; check that replicas and passive-ports are the same on every replica",
			"port", port, "peer_address", src.String(), "owner", peer)
		r.srv.observe.Relayed(peer, 0, 0, errRelayLoop)
		_ = conn.Close()
		return
	}
	if !r.track(conn) {
		_ = conn.Close()
		return
	}
	defer r.untrack(conn)
	r.active.Add(1)
	defer r.active.Add(-1)
	target := net.JoinHostPort(set.Peers[peer], strconv.Itoa(port))
	log := r.log.With("port", port, "peer", peer, "client", client.RemoteAddr().String())
	up, down, err := r.pipe(client, conn, target)
	r.srv.observe.Relayed(peer, up, down, err)
	if err != nil {
		log.Warn("relayed data connection failed", "to", target, "up_bytes", up, "down_bytes", down, "err", err)
		return
	}
	log.Debug("relayed data connection", "to", target, "up_bytes", up, "down_bytes", down)
}

// errRelayLoop is the error counted for a relay refused because it came
// from a peer.
var errRelayLoop = errors.New("relayed connection on a port this replica does not own")

// lbTrusts reports whether a PROXY header from addr is a load balancer's
// (Settings.ProxyTrustedCIDRs).
func (s *Server) lbTrusts(addr netip.Addr) bool {
	p := s.proxyPolicy()
	return p != nil && p.trusts(addr)
}

// pipe dials target, sends the PROXY v2 header of client (read from, and
// with the addresses of) and raw (client's socket, written to), then
// copies both ways until both sides have closed or one fails, and closes
// both. It returns the bytes sent to target (up) and back (down).
func (r *relay) pipe(client, raw net.Conn, target string) (up, down int64, err error) {
	defer raw.Close()
	set := r.srv.settings
	d := net.Dialer{Timeout: set.ConnectionTimeout}
	peer, err := d.DialContext(r.srv.ctx, "tcp", target)
	if err != nil {
		return 0, 0, err
	}
	if !r.track(peer) {
		_ = peer.Close()
		return 0, 0, net.ErrClosed
	}
	defer r.untrack(peer)
	defer peer.Close()
	// Until both directions end in order, a close of these sockets, the
	// kernel's at this process's death included, must reset them (RST):
	// a FIN would tell the owner the file is complete.
	setLinger(peer, 0)
	setLinger(raw, 0)
	header := proxyproto.HeaderProxyFromAddrs(2, client.RemoteAddr(), client.LocalAddr())
	_ = peer.SetWriteDeadline(time.Now().Add(set.ConnectionTimeout))
	if _, err := header.WriteTo(peer); err != nil {
		return 0, 0, fmt.Errorf("PROXY header: %w", err)
	}
	var wg sync.WaitGroup
	var upErr error
	wg.Go(func() {
		if up, upErr = copyIdle(peer, client, set.IdleTimeout); upErr != nil {
			abort(raw, peer) // and unblock the other direction
		}
	})
	if down, err = copyIdle(raw, peer, set.IdleTimeout); err != nil {
		abort(raw, peer)
	}
	wg.Wait()
	if err == nil {
		err = upErr
	}
	if err == nil {
		setLinger(peer, -1)
		setLinger(raw, -1)
	}
	return up, down, err
}

// setLinger sets SO_LINGER on conn, a TCP socket (the relay's own
// sockets: the accepted one and the one it dialled, never a wrapped one).
func setLinger(conn net.Conn, sec int) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(sec)
	}
}

// copyIdle copies src to dst through a buffer of relayBufferSize, failing
// when a read or a write waits longer than idle, and closes dst for
// writing at src's end, so the other side sees it end too.
func copyIdle(dst, src net.Conn, idle time.Duration) (int64, error) {
	buf := make([]byte, relayBufferSize)
	var n int64
	for {
		_ = src.SetReadDeadline(time.Now().Add(idle))
		nr, rerr := src.Read(buf)
		if nr > 0 {
			_ = dst.SetWriteDeadline(time.Now().Add(idle))
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, closeWrite(dst)
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// abort resets conns (TCP RST) rather than closing them: a relayed data
// connection that fails must not end like a complete transfer, since in
// FTP's stream mode the end of the connection is the end of the file. The
// owner then aborts the upload, the client sees its download fail.
func abort(conns ...net.Conn) {
	for _, c := range conns {
		setLinger(c, 0)
		_ = c.Close()
	}
}

// closeWrite shuts down the writing side of conn (a TCP socket), or
// closes it.
func closeWrite(conn net.Conn) error {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return conn.Close()
}

// track records conn as open, or returns false once the relay is closed.
func (r *relay) track(conn net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[conn] = struct{}{}
	return true
}

func (r *relay) untrack(conn net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, conn)
}

// inProgress returns the number of relays in progress; a nil relay has
// none. A shutdown waits for them as for its own transfers (Server.drain):
// they are other replicas' transfers, and the replica keeps relaying
// until it has drained.
func (r *relay) inProgress() int {
	if r == nil {
		return 0
	}
	return int(r.active.Load())
}

// close stops listening, resets the connections being relayed (see
// abort) and waits for the relays to end. A nil relay does nothing.
func (r *relay) close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		abort(c)
	}
	r.mu.Unlock()
	for _, l := range r.listeners {
		_ = l.Close()
	}
	r.accepting.Wait()
	r.serving.Wait() // a relay not yet tracked sees closed and ends too
}
