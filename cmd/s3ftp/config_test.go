package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to a file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "c.yaml", "ftp-listen: 0.0.0.0:21\npassive-ports: 31000-31009\nidle-timeout: 1m\ns3-part-size: 16MiB\nbanner: from file\n")
	e := env{stderr: &bytes.Buffer{}, getenv: mapEnv(map[string]string{
		"S3FTP_PASSIVE_PORTS":  "32000-32009",
		"S3FTP_BANNER":         "from env",
		"S3FTP_EMBEDDED_FSYNC": "false",
		"S3FTP_SERVICE_HOST":   "10.0.0.1", // injected by Kubernetes for a Service named s3ftp: ignored
	})}
	c, err := parseConfig("serve", []string{"--config", file, "--banner", "from flag", "--s3-path-style"}, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, chk := range []struct {
		key       string
		got, want any
	}{
		{"ftp-listen (file)", c.FTPListen, "0.0.0.0:21"},
		{"passive-ports (env over file)", c.PassivePorts, "32000-32009"},
		{"banner (flag over env)", c.Banner, "from flag"},
		{"idle-timeout (file)", c.IdleTimeout, time.Minute},
		{"s3-part-size (file)", c.S3PartSize, byteSize(16 << 20)},
		{"s3-path-style (bool flag)", c.S3PathStyle, true},
		{"data-dir (default)", c.DataDir, "./data"},
		{"embedded-fsync (env over a default of true)", c.EmbeddedFsync, false},
	} {
		if chk.got != chk.want {
			t.Errorf("%s = %v, want %v", chk.key, chk.got, chk.want)
		}
	}
	if !c.embedded {
		t.Errorf("no s3 endpoint or region: want the embedded store")
	}
}

func TestConfigDefaultListen(t *testing.T) {
	t.Parallel()
	e := env{stderr: &bytes.Buffer{}, getenv: mapEnv(nil)}
	c, err := parseConfig("serve", nil, e)
	if err != nil || c.FTPListen != "127.0.0.1:2121" {
		t.Errorf("no config: listen %q, %v; want 127.0.0.1:2121", c.FTPListen, err)
	}
	c, err = parseConfig("serve", []string{"--config", writeFile(t, "empty.yaml", "")}, e)
	if err != nil || c.FTPListen != "0.0.0.0:2121" {
		t.Errorf("with config: listen %q, %v; want 0.0.0.0:2121", c.FTPListen, err)
	}
	c, err = parseConfig("serve", []string{"--s3-endpoint", "http://minio:9000"}, e)
	if err != nil || c.embedded {
		t.Errorf("with an endpoint: embedded %v, %v; want s3", c.embedded, err)
	}
}

// TestConfigErrors: every bad input fails with a message naming the key.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		file string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown file key", "ftp-lisen: x\n", nil, nil, `unknown key "ftp-lisen"`},
		{"bad yaml", "ftp-listen: [\n", nil, nil, "config file"},
		{"nested value", "s3-endpoint:\n  url: x\n", nil, nil, "key s3-endpoint: want a value or a list of values"},
		{"list of maps", "api-token-hashes:\n  - a: b\n", nil, nil, "list items must be single values"},
		{"duplicate key", "banner: a\nbanner: b\n", nil, nil, "banner"},
		{"bad duration in file", "idle-timeout: soon\n", nil, nil, "key idle-timeout"},
		{"bad int in env", "", nil, map[string]string{"S3FTP_S3_CONCURRENCY": "many"}, "S3FTP_S3_CONCURRENCY"},
		{"bad bool flag", "", []string{"--s3-path-style=maybe"}, nil, "s3-path-style"},
		{"unknown flag", "", []string{"--nope"}, nil, "nope"},
		{"passive range reversed", "", []string{"--passive-ports", "30099-30000"}, nil, "passive-ports"},
		{"public host IPv6", "", []string{"--public-host", "2001:db8::1"}, nil, "public-host"},
		{"storage mode", "", []string{"--storage", "disk"}, nil, "storage"},
		{"checksum mode", "", []string{"--s3-checksum", "always"}, nil, "s3-checksum"},
		{"part size", "", []string{"--s3-part-size", "1MiB"}, nil, "s3-part-size"},
		{"part size unit", "", []string{"--s3-part-size", "8XB"}, nil, "s3-part-size"},
		{"half credentials", "", []string{"--s3-access-key", "AK"}, nil, "s3-access-key"},
		{"log level", "", []string{"--log-level", "loud"}, nil, "log-level"},
		{"log format", "", []string{"--log-format", "xml"}, nil, "log-format"},
		{"demo user", "", []string{"--demo-user", "a b"}, nil, "demo-user"},
		{"listen", "", []string{"--ftp-listen", "2121"}, nil, "ftp-listen"},
		{"stray argument", "", []string{"extra"}, nil, "unexpected argument"},
		{"proxy trusted cidrs", "proxy-trusted-cidrs: [10.0.0.0/8, lb.example.com]\n", nil, nil, `proxy-trusted-cidrs: "lb.example.com"`},
		{"max sessions", "", []string{"--max-sessions", "-1"}, nil, "max-sessions: must not be negative"},
		{"max sessions per ip", "", nil, map[string]string{"S3FTP_MAX_SESSIONS_PER_IP": "-1"}, "max-sessions-per-ip"},
		// Rules the storage and gateway constructors own, named by key here.
		{"concurrency", "", []string{"--s3-concurrency", "65"}, nil, "s3-concurrency: "},
		{"download concurrency", "s3-download-concurrency: -1\n", nil, nil, "s3-download-concurrency: "},
		{"download chunk size", "", nil, map[string]string{"S3FTP_S3_DOWNLOAD_CHUNK_SIZE": "64KiB"}, "s3-download-chunk-size: "},
		{"rename limit", "", []string{"--rename-limit", "-1"}, nil, "rename-limit: "},
		{"upload memory", "", []string{"--upload-memory", "16MiB"}, nil, "upload-memory: "},
		{"upload digests", "upload-digests: [sha256, sha1]\n", nil, nil, "upload-digests: "},
		{"upload digests in env", "", nil, map[string]string{"S3FTP_UPLOAD_DIGESTS": "none,md5"}, "upload-digests: "},
		{"idle timeout", "", []string{"--idle-timeout", "500ms"}, nil, "idle-timeout: must be at least 1s"},
		{"data timeout", "", []string{"--data-timeout", "500ms"}, nil, "data-timeout: must be at least 1s"},
		{"legacy charset", "", []string{"--legacy-charset", "klingon"}, nil, "legacy-charset: "},
		{"login timeout", "", []string{"--login-timeout", "500ms"}, nil, "login-timeout: must be at least 1s"},
		{"upload sweep interval", "", []string{"--upload-sweep-interval", "500ms"}, nil, "upload-sweep-interval: 500ms: must be at least 1s"},
		{"passive ports share", "", []string{"--passive-ports-share", "101"}, nil, "passive-ports-share: must be 1-100"},
		{"unauthenticated per ip", "", []string{"--max-unauthenticated-per-ip", "-1"}, nil, "max-unauthenticated-per-ip: must not be negative"},
		{"banner", "banner: \"two\\nlines\"\n", nil, nil, "banner: must be a single line"},
		{"replica index", "", []string{"--replicas", "3", "--replica-index", "x"}, nil, `replica-index: "x" is not an integer`},
		{"replica index range", "", []string{"--replicas", "3", "--replica-index", "3", "--peers", "a,b,c", "--peer-networks", "10.0.0.0/8"}, nil, "replica-index: 3: must be 0-2"},
		{"peers count", "", []string{"--replicas", "3", "--replica-index", "1", "--peers", "a,b", "--peer-networks", "10.0.0.0/8"}, nil, "peers: 2 given"},
		{"peers port", "", []string{"--replicas", "2", "--replica-index", "1", "--peers", "a:21,b", "--peer-networks", "10.0.0.0/8"}, nil, "peers: \"a:21\": give the host only"},
		{"peers template", "", []string{"--peers", "a-{index},b"}, nil, "peers: \"a-{index}\": a {index} template must be the only item"},
		{"peer networks", "", []string{"--replicas", "2", "--replica-index", "1", "--peers", "s-{index}"}, nil, "peer-networks: needed with several replicas"},
		{"peer networks parse", "", []string{"--peer-networks", "pods"}, nil, `peer-networks: "pods"`},
		{"replica ports", "", []string{"--replicas", "3", "--replica-index", "1", "--peers", "s-{index}", "--peer-networks", "10.0.0.0/8", "--passive-ports", "30000-30001"}, nil, "passive-ports: 2 ports cannot be shared by 3 replicas"},
		{"replicas negative", "", []string{"--replicas", "-1"}, nil, "replicas: must not be negative"},
	} {
		args := c.args
		if c.file != "" {
			args = append([]string{"--config", writeFile(t, "c.yaml", c.file)}, args...)
		}
		_, err := parseConfig("serve", args, env{stderr: &bytes.Buffer{}, getenv: mapEnv(c.env)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// TestConfigProxyAndLimits: the PROXY trusted CIDRs (a YAML list of CIDRs
// and addresses) and the session limits reach the loaded configuration;
// max-sessions defaults to 1000 and max-sessions-per-ip to no limit.
func TestConfigProxyAndLimits(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "c.yaml", "proxy-trusted-cidrs:\n  - 10.1.0.0/16\n  - 192.0.2.7\nmax-sessions-per-ip: 5\n")
	c, err := parseConfig("serve", []string{"--config", file}, env{stderr: &bytes.Buffer{}, getenv: mapEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.proxyTrusted); got != "[10.1.0.0/16 192.0.2.7/32]" {
		t.Errorf("proxy-trusted-cidrs = %s", got)
	}
	if c.MaxSessions != 1000 || c.MaxSessionsPerIP != 5 {
		t.Errorf("max-sessions = %d, max-sessions-per-ip = %d; want 1000 and 5", c.MaxSessions, c.MaxSessionsPerIP)
	}
}

// TestConfigReplicas: the replica keys reach the gateway settings, a peer
// template is expanded, and the index comes from a StatefulSet host name
// when it is not given.
func TestConfigReplicas(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "c.yaml", "replicas: 3\npeers: s3ftp-{index}.s3ftp-peers.ftp.svc\npeer-networks: [10.244.0.0/16]\npassive-ports: 30000-30009\n")
	c, err := parseConfig("serve", []string{"--config", file}, env{stderr: &bytes.Buffer{}, getenv: mapEnv(map[string]string{"S3FTP_REPLICA_INDEX": "2"})})
	if err != nil {
		t.Fatal(err)
	}
	set := c.gatewaySettings()
	if set.Replicas != 3 || set.ReplicaIndex != 2 || !set.PassivePortSharing ||
		fmt.Sprint(set.Peers) != "[s3ftp-0.s3ftp-peers.ftp.svc s3ftp-1.s3ftp-peers.ftp.svc s3ftp-2.s3ftp-peers.ftp.svc]" ||
		fmt.Sprint(set.PeerNetworks) != "[10.244.0.0/16]" {
		t.Errorf("gateway settings: replicas %d, index %d, sharing %v, peers %v, peer networks %v",
			set.Replicas, set.ReplicaIndex, set.PassivePortSharing, set.Peers, set.PeerNetworks)
	}
	for _, tc := range []struct {
		host string
		want int
		ok   bool
	}{
		{"s3ftp-0", 0, true}, {"s3ftp-12", 12, true}, {"my-ftp-gw-3.example.com", 3, true},
		{"s3ftp", 0, false}, {"s3ftp-", 0, false}, {"s3ftp-x", 0, false}, {"s3ftp-+1", 0, false}, {"s3ftp-1a", 0, false},
	} {
		got, err := indexFromHostname(tc.host)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("indexFromHostname(%q) = %d, %v; want %d (ok %v)", tc.host, got, err, tc.want, tc.ok)
		}
	}
}

func TestConfigCheckMasksSecrets(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &bytes.Buffer{}, getenv: mapEnv(map[string]string{"S3FTP_S3_SECRET_KEY": "sekrit-value"})}
	if err := run(t.Context(), []string{"config", "check", "--s3-access-key", "AKIDEXAMPLE", "--s3-part-size", "16777216"}, e); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, "sekrit-value") || strings.Contains(text, "AKIDEXAMPLE") {
		t.Errorf("config check printed a secret:\n%s", text)
	}
	for _, want := range []string{`s3-secret-key: "********"`, "s3-part-size: 16MiB", "ftp-listen: 127.0.0.1:2121", `public-host: ""`} {
		if !strings.Contains(text, want) {
			t.Errorf("config check output lacks %q:\n%s", want, text)
		}
	}
	// The printed configuration is itself a valid config file.
	if _, err := parseConfig("serve", []string{"--config", writeFile(t, "printed.yaml", strings.ReplaceAll(text, "********", "x"))}, env{stderr: &bytes.Buffer{}, getenv: mapEnv(nil)}); err != nil {
		t.Errorf("printed config does not load: %v", err)
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want byteSize
		str  string
	}{
		{"8388608", 8 << 20, "8MiB"}, {"8MiB", 8 << 20, "8MiB"}, {"16M", 16 << 20, "16MiB"},
		{"1GiB", 1 << 30, "1GiB"}, {"5 MiB", 5 << 20, "5MiB"}, {"1000", 1000, "1000"}, {"2KiB", 2048, "2KiB"},
	} {
		var b byteSize
		if err := b.Set(c.in); err != nil || b != c.want || b.String() != c.str {
			t.Errorf("Set(%q) = %v (%s), %v; want %v (%s)", c.in, int64(b), b, err, int64(c.want), c.str)
		}
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "MiB", "8TB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
