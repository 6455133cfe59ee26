package bench

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/pgtest"
	"github.com/s3ftp/s3ftp/test/replicas"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// The replicas' layout, as in test/replicas: replicas on 127.0.0.1-N
// behind a balancer on balancerHost, the clients connecting from clientIP
// (not a replica's address, which the replicas take for a peer's).
const (
	balancerHost = "127.0.0.4"
	clientIP     = "127.0.0.10"
)

// startReplicas runs n `s3ftp serve` replicas (test/replicas.StartCluster)
// sharing one PostgreSQL user store (test/pgtest) and srv's bucket through
// one counting proxy, behind a balancer (test/replicas.Balancer) that picks
// a replica at random for every connection and keeps the client's address.
// The user "bench" has the root replicasPrefix. The replicas get
// -bench.serve's arguments and -bench.env's variables like the one gateway,
// and its log level; their CPU time and RSS are summed.
func startReplicas(t *testing.T, bin string, srv *s3test.Server, bucket string, n int, sz scale) *gateway {
	t.Helper()
	if !replicas.HasReplicaFlags(bin) {
		t.Fatal("-bench.replicas: s3ftp serve has no replica settings (--replicas, --peers...)")
	}
	g := &gateway{User: "bench", Pass: "bench-" + strconv.Itoa(os.Getpid()), Prefix: replicasPrefix, ClientIP: clientIP, S3: newCounter(t, srv.Endpoint)}
	dbURL := pgtest.Start(t).NewDatabase(t)
	s3ftpbin.AddUser(t, bin, g.User, g.Pass, "--bucket", bucket, "--prefix", replicasPrefix, "--db-url", dbURL)
	proxied := *srv
	proxied.Endpoint = g.S3.url
	c := replicas.StartCluster(t, replicas.ClusterConfig{
		Bin: bin, Replicas: n, S3: &proxied, DBURL: dbURL, PublicHost: balancerHost,
		// a passive port per session and as many again, on each replica
		SlicePorts: max(8, 2*sz.Sessions),
		TokenHash:  api.HashToken("bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)),
		LogLevel:   "warn", Env: extraEnv(), Args: strings.Fields(*serveArgs),
	})
	lb, err := replicas.NewBalancer(replicas.BalancerConfig{Host: balancerHost, Ports: c.Ports(), Backends: c.Hosts, KeepClientAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Close)
	g.Addr = net.JoinHostPort(balancerHost, strconv.Itoa(c.ControlPort))
	for _, p := range c.Procs {
		g.pids = append(g.pids, p.Cmd.Process.Pid)
	}
	g.Relayed = func() int { return relayed(c, lb.Routes()) }
	return g
}

// relayed counts the routes to a passive port that the balancer sent to a
// replica other than the one whose slice holds the port: the data
// connections a replica relayed to its owner.
func relayed(c *replicas.Cluster, routes []replicas.Route) int {
	n := 0
	for _, r := range routes {
		for i, h := range c.Hosts {
			if first, last := c.Slice(i); r.Port >= first && r.Port <= last && r.Backend != h {
				n++
			}
		}
	}
	return n
}
