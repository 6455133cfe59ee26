package replicas

import (
	"bufio"
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/pgtest"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// binary is the s3ftp binary TestMain builds.
var binary string

// The size of TestReplicasBehindBalancer: the 30 sessions × 20
// files by default; -short runs 12 × 5.
var (
	sessionsFlag = flag.Int("replicas.sessions", 30, "sessions of TestReplicasBehindBalancer")
	filesFlag    = flag.Int("replicas.files", 20, "files per session of TestReplicasBehindBalancer")
)

func TestMain(m *testing.M) {
	os.Exit(s3ftpbin.Main(m, &binary))
}

// The layout of the tests: replicas on 127.0.0.1-3 with four passive ports
// each, behind a balancer on 127.0.0.4.
const (
	slicePorts   = 4
	balancerHost = "127.0.0.4"
)

// setup is a running cluster behind its balancer, with its stores.
type setup struct {
	cluster *Cluster
	lb      *Balancer
	objects s3test.Objects // the bucket the users' files go to
	admin   *api.Client    // replica 0's admin API
}

// newSetup starts PostgreSQL, versitygw, the replicas and the balancer
// (which keeps the clients' addresses, as a Service with
// externalTrafficPolicy Local does). Without the replica settings in the
// binary the test is skipped: there is nothing to run yet.
func newSetup(t *testing.T, replicas int) *setup {
	t.Helper()
	if !HasReplicaFlags(binary) {
		t.Skip("s3ftp serve has no --replicas/--replica-index/--peers/--peer-networks: the replica relay (issue 13) is not in this build")
	}
	dbURL := pgtest.Start(t).NewDatabase(t)
	srv := s3test.Versity(t)
	bucket := srv.NewBucket(t)
	token := "replicas-token-" + strconv.FormatUint(uint64(time.Now().UnixNano()), 36)
	c := StartCluster(t, ClusterConfig{
		Bin: binary, Replicas: replicas, SlicePorts: slicePorts, S3: srv, DBURL: dbURL,
		TokenHash: api.HashToken(token), PublicHost: balancerHost,
	})
	lb, err := NewBalancer(BalancerConfig{Host: balancerHost, Ports: c.Ports(), Backends: c.Hosts, KeepClientAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Close)
	return &setup{cluster: c, lb: lb, objects: srv.Objects(bucket, ""), admin: &api.Client{BaseURL: c.Procs[0].APIURL, Token: token}}
}

// addUsers creates the user of each session, with the bucket's prefix
// USER/ and the right to upload. Their passwords are bcrypt hashes of the
// lowest cost: the test is about data connections, and thirty argon2id
// logins at once on a busy two-core machine take longer than the clients
// wait for a login.
func (s *setup) addUsers(t *testing.T, sessions []*session) {
	t.Helper()
	perms := auth.PermUpload | auth.PermOverwrite | auth.PermList
	for _, ss := range sessions {
		prefix := ss.user + "/"
		h, err := bcrypt.GenerateFromPassword([]byte(ss.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hash := string(h)
		if _, err := s.admin.Create(t.Context(), ss.user, auth.UserPatch{
			PasswordHash: &hash, Bucket: &s.objects.Bucket, Prefix: &prefix, Permissions: &perms,
		}); err != nil {
			t.Fatalf("create %s: %v", ss.user, err)
		}
	}
}

// owner returns the replica host whose slice holds port, or "".
func (s *setup) owner(port int) string {
	for i, h := range s.cluster.Hosts {
		if first, last := s.cluster.Slice(i); port >= first && port <= last {
			return h
		}
	}
	return ""
}

// controlReplica returns the replica the first control connection from ip
// went to, or "".
func (s *setup) controlReplica(ip string) string {
	for _, r := range s.lb.Routes() {
		if r.Port == s.cluster.ControlPort && r.Client.Addr().String() == ip {
			return r.Backend
		}
	}
	return ""
}

// relayed counts the data connections the balancer sent to a replica that
// does not own their port: each one the replica had to relay.
func (s *setup) relayed() int {
	n := 0
	for _, r := range s.lb.Routes() {
		if o := s.owner(r.Port); o != "" && o != r.Backend {
			n++
		}
	}
	return n
}

// relayMetric sums s3ftp_relay_connections_total over every label set on
// every replica still running.
func (s *setup) relayMetric(t *testing.T) int {
	t.Helper()
	total := 0
	for _, h := range s.cluster.Hosts {
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/metrics", h, s.cluster.APIPort))
		if err != nil {
			continue // a killed replica
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "s3ftp_relay_connections_total") {
				continue
			}
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			total += int(v)
		}
		resp.Body.Close()
	}
	return total
}

// TestReplicasBehindBalancer: three replicas on one PostgreSQL user store
// and one S3 service, behind a balancer that picks a replica at random for
// every connection, control and data alike. curl, lftp and Python ftplib,
// each with PASV and with EPSV, run concurrent sessions of uploads: none
// fails, every acknowledged file is in S3 with its size and SHA-256, data
// connections did reach replicas that do not own their port, and the
// replicas counted them as relayed.
func TestReplicasBehindBalancer(t *testing.T) {
	nSessions, nFiles := *sessionsFlag, *filesFlag
	if testing.Short() {
		nSessions, nFiles = 12, 5
	}
	s := newSetup(t, 3)
	s.upload(t, nSessions, nFiles)
	relayed := s.relayed()
	t.Logf("%d of %d connections relayed", relayed, len(s.lb.Routes()))
	if relayed == 0 {
		t.Error("no data connection reached a replica that does not own its port: the relay was not exercised")
	}
	// A relay is counted once both its sides have ended, which may be just
	// after the client's last 226.
	m := s.relayMetric(t)
	for deadline := time.Now().Add(10 * time.Second); m < relayed && time.Now().Before(deadline); m = s.relayMetric(t) {
		time.Sleep(50 * time.Millisecond)
	}
	if m != relayed {
		t.Errorf("the replicas count %d relayed connections (s3ftp_relay_connections_total), the balancer sent %d to a replica not owning the port", m, relayed)
	}
}

// TestOneReplicaBehindBalancer is the same run with one replica: the
// balancer, the clients and the checks without any relay. It too needs the
// replica build: passive ports must bind the host of ftp-listen only, so
// that the balancer can listen on the same numbers on its own address.
func TestOneReplicaBehindBalancer(t *testing.T) {
	s := newSetup(t, 1)
	s.upload(t, 6, 3)
	if n := s.relayed(); n != 0 {
		t.Errorf("%d connections went to a replica not owning their port, with one replica", n)
	}
}

// upload runs nSessions concurrent sessions of nFiles uploads each through
// the balancer, the clients cycling through clientKinds, and fails the test
// unless every session completes and every file is in S3 whole.
func (s *setup) upload(t *testing.T, nSessions, nFiles int) {
	t.Helper()
	password := "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var sessions []*session
	for i := range nSessions {
		sessions = append(sessions, newSession(t, i, nFiles, 96<<10, password))
	}
	s.addUsers(t, sessions)

	start := time.Now()
	var wg sync.WaitGroup
	for _, ss := range sessions {
		cmd := ss.command(t, balancerHost, s.cluster.ControlPort)
		wg.Go(func() { ss.run(cmd) })
	}
	wg.Wait()
	t.Logf("%d sessions × %d files through the balancer in %v", nSessions, nFiles, time.Since(start).Round(time.Millisecond))

	perReplica := map[string]int{}
	for _, ss := range sessions {
		perReplica[s.controlReplica(ss.ip)]++
		if ss.err != nil || len(ss.acked()) != len(ss.files) {
			t.Errorf("session %d (%s %s, on %s): %v, %d of %d files acknowledged:\n%s", ss.id, ss.client, ss.mode,
				s.controlReplica(ss.ip), ss.err, len(ss.acked()), len(ss.files), tail(ss.out.String(), 20))
		}
		ss.checkStored(t, s.objects)
	}
	t.Logf("control connections per replica %v", perReplica)
}

// TestReplicaKilled kills one of the three replicas (SIGKILL) while ftplib
// sessions upload through the balancer, then checks that the sessions on
// the other replicas finished every upload, that those on the killed one
// got an error, that every acknowledged file is in S3 whole, and that no
// object in the bucket is anything but a whole file a client sent (no
// partial object). A session of another replica whose data connection the
// balancer had sent through the killed replica at that moment loses that
// transfer, as it would behind a real balancer: it is excused, and counted,
// only when it failed on the transfer in progress at the kill.
func TestReplicaKilled(t *testing.T) {
	const nSessions, nFiles = 12, 25
	s := newSetup(t, 3)
	password := "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var sessions []*session
	for i := range nSessions {
		ss := newSession(t, i, nFiles, 512<<10, password)
		ss.client, ss.mode = "ftplib", []string{"pasv", "epsv"}[i%2]
		ss.delay = 100 * time.Millisecond
		sessions = append(sessions, ss)
	}
	s.addUsers(t, sessions)

	done := make(chan *session, nSessions)
	start := time.Now()
	for _, ss := range sessions {
		cmd := ss.command(t, balancerHost, s.cluster.ControlPort)
		go func() {
			ss.run(cmd)
			done <- ss
		}()
	}
	// Kill replica 2 once every replica holds a session and a fifth of the
	// files are acknowledged, before any session ends.
	victim := len(s.cluster.Hosts) - 1
	victimHost := s.cluster.Hosts[victim]
	deadline := time.Now().Add(2 * time.Minute)
	for {
		acked, onVictim, finished := 0, 0, 0
		for _, ss := range sessions {
			acked += len(ss.acked())
			if s.controlReplica(ss.ip) == victimHost {
				onVictim++
			}
		}
		finished = len(done)
		if finished > 0 {
			t.Fatalf("a session ended before the kill (%d files acknowledged): make the sessions longer", acked)
		}
		if onVictim > 0 && acked >= nSessions*nFiles/5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: %d files acknowledged, %d sessions on replica %d", acked, onVictim, victim)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ackedBefore := map[int]int{}
	for _, ss := range sessions {
		ackedBefore[ss.id] = len(ss.acked())
	}
	excused := s.lb.OpenVia(victimHost)
	s.cluster.Procs[victim].Kill(t)
	killedAt := time.Now()
	for _, a := range s.lb.OpenVia(victimHost) {
		if !slices.Contains(excused, a) {
			excused = append(excused, a)
		}
	}
	for range nSessions {
		<-done
	}

	var onVictim, survivors, excusedFailures int
	for _, ss := range sessions {
		replica := s.controlReplica(ss.ip)
		complete := ss.err == nil && len(ss.acked()) == len(ss.files)
		switch {
		case replica == victimHost:
			onVictim++
			if complete {
				t.Errorf("session %d on the killed replica finished without an error:\n%s", ss.id, tail(ss.out.String(), 5))
			}
		case complete:
			survivors++
		case slices.Contains(excused, netip.MustParseAddr(ss.ip)) && len(ss.acked()) <= ackedBefore[ss.id]+1:
			// It failed on the transfer in progress at the kill (or the
			// one that ended just then), whose data connection crossed
			// the killed replica.
			excusedFailures++
			t.Logf("session %d (on %s) had a connection through the killed replica: %v\n%s", ss.id, replica, ss.err, tail(ss.out.String(), 3))
		default:
			t.Errorf("session %d on %s, which was not killed, failed: %v, %d of %d files acknowledged:\n%s",
				ss.id, replica, ss.err, len(ss.acked()), len(ss.files), tail(ss.out.String(), 10))
		}
		ss.checkStored(t, s.objects)
	}
	t.Logf("killed %s %v into the run: %d sessions on it got errors, %d on the others completed, %d lost a transfer relayed through it",
		victimHost, killedAt.Sub(start).Round(time.Millisecond), onVictim, survivors, excusedFailures)
	if survivors == 0 {
		t.Error("no session on the surviving replicas completed")
	}

	// Nothing partial: every object is a whole file some client sent.
	sums := map[string][32]byte{}
	for _, ss := range sessions {
		for _, f := range ss.files {
			sums[ss.user+"/"+f.name] = f.sum
		}
	}
	for _, key := range s.objects.Keys(t) {
		want, ok := sums[key]
		data, err := s.objects.Get(key)
		switch {
		case !ok:
			t.Errorf("object %s: no client sent it", key)
		case err != nil:
			t.Errorf("object %s: %v", key, err)
		case sha256.Sum256(data) != want:
			t.Errorf("object %s: %d bytes, not the file the client sent (a partial object)", key, len(data))
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestRelayKilledMidUpload: a client's data connection reaches replica 1,
// which relays it to replica 0, the owner of the port; replica 1 is killed
// (SIGKILL) in the middle of the upload. The client must not be told 226
// and no object may appear: the end of the relayed stream is not the end of
// the file the client sent.
func TestRelayKilledMidUpload(t *testing.T) {
	s := newSetup(t, 3)
	ss := &session{id: 50, user: "cam50", password: "pw-relay-killed", ip: "127.0.1.51"}
	s.addUsers(t, []*session{ss})
	from := &net.TCPAddr{IP: net.ParseIP(ss.ip)}
	ctrl := dialControl(t, from, net.JoinHostPort(s.cluster.Hosts[0], strconv.Itoa(s.cluster.ControlPort)))
	ctrl.cmd(331, "USER "+ss.user)
	ctrl.cmd(230, "PASS "+ss.password)
	ctrl.cmd(200, "TYPE I")
	port := parseEPSVPort(t, ctrl.cmd(229, "EPSV"))
	if first, last := s.cluster.Slice(0); port < first || port > last {
		t.Fatalf("EPSV on replica 0 gave port %d, outside its slice %d-%d", port, first, last)
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: from}
	data, err := d.Dial("tcp", net.JoinHostPort(s.cluster.Hosts[1], strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	ctrl.cmd(150, "STOR partial.bin")
	chunk := make([]byte, 256<<10)
	if _, err := data.Write(chunk); err != nil {
		t.Fatal(err)
	}
	// Let the relay pass the first part on (were it slower, the owner would
	// have none of it: the same case), then kill it: the owner sees its
	// relayed connection end in the middle of the file.
	time.Sleep(time.Second)
	s.cluster.Procs[1].Kill(t)
	_ = data.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for range 16 { // the rest of the file, until the dead relay refuses it
		if _, err := data.Write(chunk); err != nil {
			break
		}
	}
	data.Close()
	code, msg := ctrl.reply()
	if code == 226 {
		t.Errorf("226 %s: the upload was acknowledged although its relay died after %d of its bytes", msg, len(chunk))
	}
	if got, err := s.objects.Get(ss.user + "/partial.bin"); err == nil {
		t.Errorf("object %s/partial.bin exists with %d bytes: a partial object", ss.user, len(got))
	}
}

// control is a raw FTP control connection, to see each reply.
type control struct {
	t  *testing.T
	tp *textproto.Conn
}

// dialControl connects from the local address from to addr and reads the
// greeting.
func dialControl(t *testing.T, from *net.TCPAddr, addr string) *control {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: from}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	ctrl := &control{t: t, tp: textproto.NewConn(c)}
	if code, msg := ctrl.reply(); code != 220 {
		t.Fatalf("greeting %d %s", code, msg)
	}
	return ctrl
}

// cmd sends line and fails the test unless the reply has code.
func (c *control) cmd(code int, line string) string {
	c.t.Helper()
	if err := c.tp.PrintfLine("%s", line); err != nil {
		c.t.Fatal(err)
	}
	got, msg := c.reply()
	if got != code {
		c.t.Fatalf("%s: reply %d %s, want %d", strings.Fields(line)[0], got, msg, code)
	}
	return msg
}

// reply reads one reply.
func (c *control) reply() (int, string) {
	c.t.Helper()
	code, msg, err := c.tp.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatalf("reading a reply: %v", err)
	}
	return code, msg
}

// parseEPSVPort returns the port of a 229 reply "(|||PORT|)".
func parseEPSVPort(t *testing.T, msg string) int {
	t.Helper()
	_, rest, _ := strings.Cut(msg, "(|||")
	p, _, _ := strings.Cut(rest, "|)")
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("EPSV reply %q has no port", msg)
	}
	return port
}
