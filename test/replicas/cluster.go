package replicas

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// ClusterConfig describes the replicas StartCluster runs.
type ClusterConfig struct {
	Bin        string         // the s3ftp binary
	Replicas   int            // replica i listens on 127.0.0.(i+1)
	SlicePorts int            // passive ports per replica
	S3         *s3test.Server // the S3 service of every replica
	DBURL      string         // the PostgreSQL user store of every replica
	TokenHash  string         // admin token hash (api-token-hashes)
	PublicHost string         // the balancer's address, advertised by PASV
	LogLevel   string         // log-level of every replica; empty: debug
	Extra      []string       // more configuration lines
	Env        []string       // more environment (KEY=VALUE) of every replica
	Args       []string       // more `s3ftp serve` arguments of every replica
}

// Cluster is a set of running replicas sharing ports on their own loopback
// addresses: the same control port, API port and passive range on each.
type Cluster struct {
	Hosts       []string // replica i's address
	ControlPort int
	APIPort     int
	Passive     [2]int // first and last passive port
	Procs       []*s3ftpbin.Process
}

// HasReplicaFlags reports whether bin's serve command knows the replica
// settings (--replicas, --replica-index, --peers, --peer-networks).
func HasReplicaFlags(bin string) bool {
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	for _, f := range []string{"-replicas", "-replica-index", "-peers", "-peer-networks"} {
		if !strings.Contains(string(out), f) {
			return false
		}
	}
	return true
}

// StartCluster starts cfg.Replicas replicas, each stopped with SIGTERM and
// checked when the test ends (s3ftpbin.Start). Replica i listens on
// 127.0.0.(i+1); with more than one, replica i answers PASV with slice i of
// the passive range and relays to the others, whose addresses are its peers,
// the peer networks being exactly the replicas' addresses.
func StartCluster(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	c := &Cluster{}
	for i := range cfg.Replicas {
		c.Hosts = append(c.Hosts, fmt.Sprintf("127.0.0.%d", i+1))
	}
	nPassive := cfg.Replicas * cfg.SlicePorts
	base := FreeBlock(t, append(append([]string(nil), c.Hosts...), cfg.PublicHost), 2+nPassive)
	c.ControlPort, c.APIPort = base, base+1
	c.Passive = [2]int{base + 2, base + 1 + nPassive}
	var networks []string
	for _, h := range c.Hosts {
		networks = append(networks, h+"/32")
	}
	extra := append([]string{
		fmt.Sprintf("db-url: %q", cfg.DBURL),
		"api-token-hashes: [" + cfg.TokenHash + "]",
		"public-host: " + cfg.PublicHost,
		"log-level: " + cmp.Or(cfg.LogLevel, "debug"),
	}, cfg.Extra...)
	for i, host := range c.Hosts {
		config := s3ftpbin.WriteConfig(t, t.TempDir(), cfg.S3.Endpoint, cfg.S3.AccessKey, cfg.S3.SecretKey, extra...)
		env := []string{
			"S3FTP_FTP_LISTEN=" + net.JoinHostPort(host, strconv.Itoa(c.ControlPort)),
			"S3FTP_API_LISTEN=" + net.JoinHostPort(host, strconv.Itoa(c.APIPort)),
			fmt.Sprintf("S3FTP_PASSIVE_PORTS=%d-%d", c.Passive[0], c.Passive[1]),
		}
		if cfg.Replicas > 1 {
			env = append(env,
				"S3FTP_REPLICAS="+strconv.Itoa(cfg.Replicas),
				"S3FTP_REPLICA_INDEX="+strconv.Itoa(i),
				"S3FTP_PEERS="+strings.Join(c.Hosts, ","),
				"S3FTP_PEER_NETWORKS="+strings.Join(networks, ","))
		}
		env = append(env, cfg.Env...)
		args := append([]string{"serve", "--config", config}, cfg.Args...)
		c.Procs = append(c.Procs, s3ftpbin.StartEnv(t, "replica "+strconv.Itoa(i), cfg.Bin, env, args...))
	}
	return c
}

// Slice returns the first and last passive port replica i gives out.
func (c *Cluster) Slice(i int) (first, last int) {
	return SliceOf(c.Passive[0], c.Passive[1], len(c.Hosts), i)
}

// SliceOf returns the first and last port of replica i's slice of the
// passive range start-end shared by n replicas, as the gateway cuts it:
// consecutive slices, the later ones a port longer when n does not divide
// the range.
func SliceOf(start, end, n, i int) (first, last int) {
	p := end - start + 1
	return start + i*p/n, start + (i+1)*p/n - 1
}

// Ports returns the control port and every passive port.
func (c *Cluster) Ports() []int {
	ports := []int{c.ControlPort}
	for p := c.Passive[0]; p <= c.Passive[1]; p++ {
		ports = append(ports, p)
	}
	return ports
}

// FreeBlock returns the first of n consecutive ports that every host can
// listen on now, below the NodePort and ephemeral ranges (20000-29999).
// Another process may take one before the caller does; the replicas then
// fail to start and the test says so.
func FreeBlock(t testing.TB, hosts []string, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(10000-n)
		if blockFree(hosts, base, n) {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports on %v in 50 tries", n, hosts)
	return 0
}

// blockFree reports whether every host can listen on ports base..base+n-1.
func blockFree(hosts []string, base, n int) bool {
	var open []net.Listener
	defer func() {
		for _, l := range open {
			l.Close()
		}
	}()
	for _, h := range hosts {
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(p)))
			if err != nil {
				return false
			}
			open = append(open, l)
		}
	}
	return true
}
