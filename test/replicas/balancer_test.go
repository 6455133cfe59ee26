package replicas

import (
	"bufio"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// whoami listens on host:port (port 0: any) and answers each connection
// with "HOST CLIENT-IP\n", then echoes one line back. It returns the port.
func whoami(t *testing.T, host string, port int) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ip := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
				c.Write([]byte(host + " " + ip.String() + "\n"))
				line, _ := bufio.NewReader(c).ReadString('\n')
				c.Write([]byte(line))
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// ask connects to addr from the IP from, and returns the backend's
// greeting fields and the echo of a line.
func ask(t *testing.T, addr string, from string) (backend, seen, echo string) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	greeting, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no greeting through the balancer: %v", err)
	}
	c.Write([]byte("ping\n"))
	echo, _ = r.ReadString('\n')
	backend, seen, _ = strings.Cut(strings.TrimSpace(greeting), " ")
	return backend, seen, strings.TrimSpace(echo)
}

func TestBalancer(t *testing.T) {
	t.Parallel()
	port := whoami(t, "127.0.0.2", 0)
	whoami(t, "127.0.0.3", port)
	dead := "127.0.0.5" // nothing listens there
	b, err := NewBalancer(BalancerConfig{
		Host: "127.0.0.4", Ports: []int{port}, Backends: []string{"127.0.0.2", "127.0.0.3", dead}, KeepClientAddress: true,
	})
	if err != nil {
		t.Skipf("port %d taken on 127.0.0.4 by another test: %v", port, err)
	}
	t.Cleanup(b.Close)
	addr := net.JoinHostPort("127.0.0.4", strconv.Itoa(port))
	const n = 40
	hits := map[string]int{}
	for i := range n {
		from := "127.0.1." + strconv.Itoa(1+i%7)
		backend, seen, echo := ask(t, addr, from)
		hits[backend]++
		if seen != from {
			t.Errorf("the backend saw %s, want the client's %s", seen, from)
		}
		if echo != "ping" {
			t.Errorf("echo %q, want ping", echo)
		}
	}
	// Random per connection: with 40 connections over two live backends,
	// each is picked (a miss has probability 2^-39).
	if hits["127.0.0.2"] == 0 || hits["127.0.0.3"] == 0 || hits[dead] != 0 || hits["127.0.0.2"]+hits["127.0.0.3"] != n {
		t.Errorf("connections per backend %v: want both live backends, never the dead one", hits)
	}
	routes := b.Routes()
	if len(routes) != n {
		t.Fatalf("%d routes recorded, want %d", len(routes), n)
	}
	waitClosed := time.Now().Add(5 * time.Second)
	for len(b.OpenVia("127.0.0.2"))+len(b.OpenVia("127.0.0.3")) != 0 && time.Now().Before(waitClosed) {
		time.Sleep(10 * time.Millisecond)
	}
	if open := append(b.OpenVia("127.0.0.2"), b.OpenVia("127.0.0.3")...); len(open) != 0 {
		t.Errorf("connections still open after both sides closed: %v", open)
	}
	if r := routes[0]; r.Port != port || r.Client.Addr() != netip.MustParseAddr("127.0.1.1") {
		t.Errorf("first route %+v", r)
	}
}
