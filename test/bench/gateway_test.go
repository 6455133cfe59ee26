package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// gateway is the system under test: one or more FTP server processes
// answering at Addr, whose CPU time and peak memory are measured from
// /proc (summed over the processes).
type gateway struct {
	Addr string
	User string
	Pass string
	// Prefix is the user's root in the bucket (ftpPrefix, or
	// replicasPrefix for the replicas).
	Prefix string
	// ClientIP, when set, is the address the FTP clients connect from.
	ClientIP string
	// Relayed, for replicas, counts the data connections relayed so far
	// from the replica the balancer chose to the port's owner.
	Relayed func() int
	pids    []int
	// S3 counts the requests the gateway sends to S3.
	S3 *counter
	// NeedsRoot: the server's root directory must exist as a marker
	// object (afero-s3's does), made again before each workload.
	NeedsRoot bool
}

// benchPassivePorts is the gateway's passive port range in the benchmark.
const benchPassivePorts = "22000-22999"

// startGateway runs bin (`s3ftp serve`) against srv's bucket through a
// counting proxy, for one user "bench" whose root is "ftp/" in bucket. The
// serve command line gets -bench.serve's arguments and its environment
// -bench.env's variables.
func startGateway(t testing.TB, bin string, srv *s3test.Server, bucket string) *gateway {
	t.Helper()
	g := &gateway{User: "bench", Pass: "bench-" + strconv.Itoa(os.Getpid()), Prefix: ftpPrefix, S3: newCounter(t, srv.Endpoint)}
	dataDir := t.TempDir()
	s3ftpbin.AddUser(t, bin, g.User, g.Pass, "--bucket", bucket, "--prefix", ftpPrefix, "--data-dir", dataDir)
	config := s3ftpbin.WriteConfig(t, dataDir, g.S3.url, srv.AccessKey, srv.SecretKey, "log-level: warn")
	// A passive port range, as deployments have (and as passive port
	// sharing needs), below the kernel's ephemeral ports and apart from the
	// reference server's.
	args := append([]string{"serve", "--config", config, "--passive-ports", benchPassivePorts}, strings.Fields(*serveArgs)...)
	p := s3ftpbin.StartEnv(t, srv.Name, bin, extraEnv(), args...)
	g.Addr = p.Addr
	g.pids = append(g.pids, p.Cmd.Process.Pid)
	return g
}

// extraEnv returns -bench.env's variables.
func extraEnv() []string {
	var env []string
	for _, kv := range strings.Split(*serveEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			env = append(env, kv)
		}
	}
	return env
}

// startReference runs the reference server fclairamb/ftpserver (bin, built
// beside the project; see docs/performance.md) for the same user with
// afero-s3 on srv's bucket, through a counting proxy, stopped when the test
// ends.
func startReference(t testing.TB, bin string, srv *s3test.Server, bucket string) *gateway {
	t.Helper()
	g := &gateway{User: "bench", Pass: "bench-" + strconv.Itoa(os.Getpid()), Prefix: ftpPrefix, S3: newCounter(t, srv.Endpoint), NeedsRoot: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.Addr = ln.Addr().String()
	_ = ln.Close()
	conf, err := json.Marshal(map[string]any{
		"version":        1,
		"listen_address": g.Addr,
		// ftpserverlib needs a range here; below the kernel's ephemeral ports.
		"passive_transfer_port_range": map[string]int{"start": 21000, "end": 21999},
		"accesses": []map[string]any{{
			"user": g.User, "pass": g.Pass, "fs": "s3",
			"params": map[string]string{
				"bucket": bucket, "region": "us-east-1", "endpoint": g.S3.url, "disable_ssl": "true", "path_style": "true",
				"access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey, "basePath": strings.TrimSuffix(ftpPrefix, "/"),
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	confPath := filepath.Join(dir, "ftpserver.json")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "ftpserver.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-conf", confPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = log.Close()
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", g.Addr); err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("%s did not listen on %s: %s", bin, g.Addr, out)
		}
	}
	g.pids = append(g.pids, cmd.Process.Pid)
	return g
}

// CPU returns the CPU time (user + system) the gateway's processes have
// used, in seconds.
func (g *gateway) CPU(t testing.TB) float64 {
	t.Helper()
	var secs float64
	for _, pid := range g.pids {
		secs += readSeconds(t, fmt.Sprintf("/proc/%d/stat", pid), processCPU)
	}
	return secs
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux
// on every architecture Go supports).
const clockTicks = 100

// ResetPeak resets the peak resident set size (VmHWM) of the gateway's
// processes to their current size, so that PeakRSS measures what follows.
func (g *gateway) ResetPeak(t testing.TB) {
	t.Helper()
	for _, pid := range g.pids {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			t.Fatalf("reset the peak RSS: %v", err)
		}
	}
}

// PeakRSS returns the sum of the processes' peak resident set sizes
// (VmHWM) since the last ResetPeak, in MiB.
func (g *gateway) PeakRSS(t testing.TB) float64 {
	t.Helper()
	var kib int64
	for _, pid := range g.pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				kib += n
			}
		}
	}
	return float64(kib) / 1024
}

// session logs in with jlaffaye/ftp (passive mode, PASV; opts added),
// calls do and logs out, returning the first error.
func (g *gateway) session(do func(c *ftp.ServerConn) error, opts ...ftp.DialOption) error {
	c, err := g.login(opts...)
	if err != nil {
		return err
	}
	return cmp.Or(do(c), c.Quit())
}

// login opens a logged-in jlaffaye/ftp session in passive mode (PASV;
// opts added), from ClientIP when set.
func (g *gateway) login(opts ...ftp.DialOption) (*ftp.ServerConn, error) {
	d := net.Dialer{Timeout: time.Minute}
	if g.ClientIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(g.ClientIP)}
	}
	c, err := ftp.Dial(g.Addr, append([]ftp.DialOption{ftp.DialWithDialer(d), ftp.DialWithDisabledEPSV(true)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", g.Addr, err)
	}
	if err := c.Login(g.User, g.Pass); err != nil {
		_ = c.Quit()
		return nil, fmt.Errorf("login: %w", err)
	}
	return c, nil
}
