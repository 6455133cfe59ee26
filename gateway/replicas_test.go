package gateway_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	proxyproto "github.com/pires/go-proxyproto"

	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/replicas"
)

// replicaHosts are the loopback addresses the replicas of these tests
// listen on, one each, with the same passive range.
var replicaHosts = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

// startReplicas starts one gateway per replicaHosts entry on srv, sharing
// ports (a passive range of two ports per replica from start), with
// observers and the given shutdown timeout (0: the default); replica i
// serves at envs[i].addr.
func startReplicas(t *testing.T, srv *s3test.Server, start int, sharing bool, shutdown time.Duration) ([]*env, []*observer) {
	t.Helper()
	nets, err := gateway.ParseCIDRs(replicaHosts)
	must(t, "peer networks", err)
	envs := make([]*env, len(replicaHosts))
	obs := make([]*observer, len(replicaHosts))
	for i, host := range replicaHosts {
		obs[i] = &observer{}
		envs[i] = newEnv(t, srv, envOptions{listen: host + ":0", observer: obs[i], settings: gateway.Settings{
			PassivePorts:       gateway.PortRange{Start: start, End: start + 2*len(replicaHosts) - 1},
			PassivePortSharing: sharing, PassiveShare: 100, ConnectionTimeout: 5 * time.Second, ShutdownTimeout: shutdown,
			Replicas: len(replicaHosts), ReplicaIndex: i, Peers: replicaHosts, PeerNetworks: nets,
		}})
	}
	return envs, obs
}

// dialData opens a data connection from local address from to host:port.
func dialData(t *testing.T, from, host, port string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", net.JoinHostPort(host, port))
	must(t, "dial data "+host+":"+port, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestReplicaRelay: a session on replica 1 answers EPSV/PASV with a port
// of its own slice; the data connection that lands on replica 0 (or 2) is
// relayed there, and the upload and the download carry the right bytes,
// with port sharing and without. The relaying replica counts the relay
// and its bytes; the owner's log lines name its replica index.
func TestReplicaRelay(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		sharing bool
		start   int
	}{{"sharing", true, 23400}, {"no sharing", false, 23410}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			envs, obs := startReplicas(t, s3test.Fake(t), c.start, c.sharing, 0)
			owner := envs[1]
			const client = "127.0.0.20"
			s := rawDial(t, owner.addr, client)
			s.login("alice")
			body := make([]byte, 3<<20+17)
			_, _ = rand.Read(body)

			_, port, _ := net.SplitHostPort(s.pasv(true))
			if p, _ := strconv.Atoi(port); p < c.start+2 || p > c.start+3 {
				t.Fatalf("replica 1 offered port %d, want one of its slice %d-%d", p, c.start+2, c.start+3)
			}
			data := dialData(t, client, replicaHosts[0], port) // the wrong replica
			s.cmd(150, "STOR big.bin")
			if _, err := io.Copy(data, bytes.NewReader(body)); err != nil {
				t.Fatalf("upload through the relay: %v", err)
			}
			data.Close()
			s.expect(226)
			if got, err := owner.object("alice/big.bin"); err != nil || !bytes.Equal(got, body) {
				t.Fatalf("stored %d bytes (%v), want the %d sent", len(got), err, len(body))
			}

			addr := s.pasv(false)
			_, port, _ = net.SplitHostPort(addr)
			data = dialData(t, client, replicaHosts[2], port)
			s.cmd(150, "RETR big.bin")
			_ = data.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(data)
			data.Close()
			s.expect(226)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("download through the relay: %d bytes (%v), want %d", len(got), err, len(body))
			}

			waitUntil(t, "the relays counted", func() bool {
				return obs[0].get("relayed:1:true") == 1 && obs[2].get("relayed:1:true") == 1
			})
			if n := obs[0].get("relayed-bytes:1"); n < len(body) {
				t.Errorf("replica 0 counted %d relayed bytes, want at least %d", n, len(body))
			}
			if logs := owner.logs.String(); !strings.Contains(logs, "replica=1") || !strings.Contains(logs, `user=alice`) {
				t.Errorf("replica 1's session lines do not name the replica:\n%s", logs)
			}
		})
	}
}

// TestReplicaForgery: a data connection that opens with a PROXY v2 header
// from outside the peer networks is refused and logged, and the forged
// address is not believed; a third party that connects first, directly
// or through the relay, does not get the session's data connection, which
// still completes with the session's own bytes.
func TestReplicaForgery(t *testing.T) {
	t.Parallel()
	envs, obs := startReplicas(t, s3test.Fake(t), 23420, true, 0)
	owner := envs[1]
	const victim, attacker = "127.0.0.20", "127.0.0.21"

	// The attacker's own session, forging the victim's address.
	a := rawDial(t, owner.addr, attacker)
	a.login("alice2")
	_, port, _ := net.SplitHostPort(a.pasv(true))
	forged := dialData(t, attacker, replicaHosts[1], port)
	h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP(victim), Port: 1234}, &net.TCPAddr{IP: net.ParseIP(replicaHosts[1]), Port: 21})
	_, err := h.WriteTo(forged)
	must(t, "send forged header", err)
	a.send("STOR forged.txt")
	if code, _ := a.reply(); code == 150 {
		_, _ = forged.Write([]byte("forged data"))
		forged.Close()
		if code, text := a.reply(); code == 226 {
			t.Errorf("upload with a forged PROXY header: %d %s", code, text)
		}
	}
	owner.nothingAt(t, "alice2/forged.txt")
	waitUntil(t, "the forgery logged and counted", func() bool {
		return strings.Contains(owner.logs.String(), "PROXY header from outside the peer networks") &&
			obs[1].get("pasv-refused:untrusted_proxy_header") == 1
	})

	// The victim waits on a port; a third party connects first, through
	// the relay and directly, and gets nothing.
	const thiefAddr = "127.0.0.22"
	v := rawDial(t, owner.addr, victim)
	v.login("alice")
	_, port, _ = net.SplitHostPort(v.pasv(true))
	for _, host := range replicaHosts {
		thief := dialData(t, thiefAddr, host, port)
		_, _ = thief.Write([]byte("stolen"))
		_ = thief.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := thief.Read(make([]byte, 1)); err == nil {
			t.Errorf("a third party's data connection through %s was served (%d bytes)", host, n)
		}
	}
	data := dialData(t, victim, replicaHosts[0], port)
	v.cmd(150, "STOR mine.txt")
	_, _ = data.Write([]byte("the victim's bytes"))
	data.Close()
	v.expect(226)
	if got, err := owner.object("alice/mine.txt"); err != nil || string(got) != "the victim's bytes" {
		t.Errorf("stored %q (%v), want the victim's bytes", got, err)
	}
	if logs := owner.logs.String(); !strings.Contains(logs, "no transfer waits for its address") {
		t.Errorf("the third party's connections are not logged:\n%s", logs)
	}
}

// TestPassivePortSharing: 200 sessions from 20 client addresses, all
// logged in at once, move their files through a range of 4 passive ports,
// up to 4 transfers at once per address (80 in all); a fifth session from one address that asks for a
// port while its 4 are waiting gets 421 with the reason, and the refusal
// is counted.
func TestPassivePortSharing(t *testing.T) {
	t.Parallel()
	const addrs, perAddr, ports = 20, 10, 4
	obs := &observer{}
	// Ports free now, not a fixed range: a port of the range that another
	// test (or package) listens on is skipped, and the sessions of an
	// address then find fewer ports than transfers and are refused.
	base := replicas.FreeBlock(t, []string{"127.0.0.1"}, ports)
	e := newEnv(t, s3test.Fake(t), envOptions{observer: obs, settings: gateway.Settings{
		PassivePorts:       gateway.PortRange{Start: base, End: base + ports - 1},
		PassivePortSharing: true, PassiveShare: 100,
	}})
	// All 200 sessions log in first (a few logins at a time: password
	// hashing is slow under the race detector), then transfer.
	var wg sync.WaitGroup
	errs := make(chan error, addrs*perAddr)
	conns := make([][]*ftp.ServerConn, addrs)
	logins := make(chan struct{}, 8)
	for a := range addrs {
		conns[a] = make([]*ftp.ServerConn, perAddr)
		d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.1.%d", a+1))}}
		for s := range perAddr {
			wg.Go(func() {
				logins <- struct{}{}
				defer func() { <-logins }()
				c, err := ftp.Dial(e.addr, ftp.DialWithDialer(d))
				if err == nil {
					if err = c.Login("alice", password); err != nil {
						_ = c.Quit()
					}
				}
				if err != nil {
					errs <- err
					return
				}
				conns[a][s] = c
				t.Cleanup(func() { _ = c.Quit() })
			})
		}
	}
	wg.Wait()
	for a := range addrs {
		from := fmt.Sprintf("127.0.1.%d", a+1)
		slots := make(chan struct{}, ports) // transfers at once from this address
		for s, c := range conns[a] {
			if c == nil {
				continue
			}
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				name := fmt.Sprintf("f-%s-%d.txt", from, s)
				if err := c.Stor(name, strings.NewReader(name)); err != nil {
					errs <- fmt.Errorf("STOR %s: %w", name, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for a := range addrs {
		for s := range perAddr {
			name := fmt.Sprintf("f-127.0.1.%d-%d.txt", a+1, s)
			if got, err := e.object("alice/" + name); err != nil || string(got) != name {
				t.Errorf("%s: %q, %v", name, got, err)
			}
		}
	}

	const from = "127.0.2.1"
	for range ports {
		c := rawDial(t, e.addr, from)
		c.login("alice")
		c.pasv(true)
	}
	c := rawDial(t, e.addr, from)
	c.login("alice")
	if text := c.cmd(421, "EPSV"); !strings.Contains(text, "every passive port is waiting for another transfer from your address") {
		t.Errorf("EPSV over the range from one address got %q", text)
	}
	c2 := rawDial(t, e.addr, "127.0.2.2") // another address still gets a port
	c2.login("alice")
	c2.pasv(false)
	if n := obs.get("pasv-refused:ports_busy_for_address"); n != 1 {
		t.Errorf("refusals counted: %d, want 1", n)
	}
}

// TestReplicaSlices: the range is cut into consecutive slices, one per
// replica, that cover it without overlap.
func TestReplicaSlices(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    gateway.PortRange
		n    int
		want string
	}{
		{gateway.PortRange{Start: 30000, End: 30009}, 1, "30000-30009"},
		{gateway.PortRange{Start: 30000, End: 30008}, 3, "30000-30002 30003-30005 30006-30008"},
		{gateway.PortRange{Start: 30000, End: 30009}, 3, "30000-30002 30003-30005 30006-30009"},
		{gateway.PortRange{Start: 30000, End: 30002}, 3, "30000-30000 30001-30001 30002-30002"},
	} {
		var got []string
		for i := range max(c.n, 1) {
			got = append(got, c.r.ReplicaSlice(i, c.n).String())
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%v in %d: %v, want %s", c.r, c.n, got, c.want)
		}
	}
}

// TestPassivePortSharingReturned: with port sharing, a port that a session
// left unused is given back to its address after the data timeout, and the
// refusal meanwhile is the clear one.
func TestPassivePortSharingReturned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{
		ConnectionTimeout: time.Second, PassivePorts: gateway.PortRange{Start: 23340, End: 23340},
		PassivePortSharing: true, PassiveShare: 100,
	}})
	const from = "127.0.0.40"
	idle := rawDial(t, e.addr, from)
	idle.login("alice")
	idle.pasv(true) // never connected to
	other := rawDial(t, e.addr, from)
	other.login("alice2")
	if text := other.cmd(421, "EPSV"); !strings.Contains(text, "every passive port is waiting for another transfer from your address") {
		t.Errorf("EPSV while the address's only port waits: %q", text)
	}
	waitUntil(t, "the unused port given back to the address", func() bool {
		other.send("EPSV")
		code, _ := other.reply()
		return code == 229
	})
}

// relayedUpload logs in to replica 1 as alice from 127.0.0.20, starts
// STOR name with its data connection sent to replica 0 (relayed), and
// writes first; it returns the session and the data connection.
func relayedUpload(t *testing.T, envs []*env, name, first string) (*raw, net.Conn) {
	t.Helper()
	const client = "127.0.0.20"
	s := rawDial(t, envs[1].addr, client)
	s.login("alice")
	_, port, _ := net.SplitHostPort(s.pasv(true))
	data := dialData(t, client, replicaHosts[0], port)
	s.cmd(150, "STOR %s", name)
	_, err := data.Write([]byte(first))
	must(t, "write", err)
	return s, data
}

// TestReplicaDrainKeepsRelays: a replica that shuts down while it relays
// another replica's upload keeps relaying until the upload is done, which
// then completes with the right bytes.
func TestReplicaDrainKeepsRelays(t *testing.T) {
	t.Parallel()
	envs, _ := startReplicas(t, s3test.Fake(t), 23430, true, 0)
	s, data := relayedUpload(t, envs, "drained.txt", "first half, ")

	stopped := make(chan error, 1)
	go func() { stopped <- envs[0].shutdown() }()
	waitUntil(t, "replica 0 stopped listening for sessions", func() bool {
		c, err := net.DialTimeout("tcp", envs[0].addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	_, err := data.Write([]byte("second half"))
	must(t, "write after the relaying replica began to drain", err)
	data.Close()
	s.expect(226)
	if got, err := envs[1].object("alice/drained.txt"); err != nil || string(got) != "first half, second half" {
		t.Errorf("stored %q (%v)", got, err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("replica 0's shutdown: %v", err)
	}
}

// TestReplicaRelayCut: when a relay is cut in the middle of an upload (the
// relaying replica's shutdown gives up on it), the owner sees the data
// connection fail, not end: the client is not told 226 and nothing is
// stored.
func TestReplicaRelayCut(t *testing.T) {
	t.Parallel()
	envs, obs := startReplicas(t, s3test.Fake(t), 23440, true, time.Second)
	s, _ := relayedUpload(t, envs, "cut.txt", "half of a file")
	must(t, "shutdown of the relaying replica", envs[0].shutdown())
	if code, text := s.reply(); code == 226 {
		t.Errorf("upload through a relay cut in the middle: %d %s", code, text)
	}
	envs[1].nothingAt(t, "alice/cut.txt")
	if n := obs[0].get("relayed:1:false"); n != 1 {
		t.Errorf("cut relays counted as errors: %d, want 1", n)
	}
}
