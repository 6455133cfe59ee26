package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is every setting of `s3ftp serve`. Each field has one key, used
// verbatim as the flag (--ftp-listen), as the YAML key of the --config file
// (ftp-listen:) and, upper-cased with "_" for "-" and prefixed S3FTP_, as the
// environment variable (S3FTP_FTP_LISTEN). Precedence: flags, then
// environment, then the file, then defaults. docs/configuration.md lists
// them; a test keeps it true.
type Config struct {
	FTPListen    string        `key:"ftp-listen" help:"FTP control address (default 0.0.0.0:2121 with a config file, 127.0.0.1:2121 without)"`
	PassivePorts string        `key:"passive-ports" help:"passive data port range START-END"`
	PublicHost   string        `key:"public-host" help:"IPv4 address or host name advertised in PASV replies (default: the control connection's local address)"`
	ActivePort20 bool          `key:"active-port-20" help:"open active-mode data connections from port 20 (needs root or CAP_NET_BIND_SERVICE)"`
	IdleTimeout  time.Duration `key:"idle-timeout" help:"disconnect control connections idle this long"`
	Banner       string        `key:"banner" help:"greeting sent to FTP clients"`

	ActiveNATSubstitution bool   `key:"active-nat-substitution" help:"for clients behind NAT: replace a private address announced in PORT/EPRT by the client's address (other addresses are still refused)"`
	ASCIIConversion       bool   `key:"ascii-conversion" help:"convert line endings of TYPE A transfers (default: store the bytes as sent, as vsftpd does)"`
	LegacyCharset         string `key:"legacy-charset" help:"charset of file names that are not UTF-8, e.g. windows-1252 or shift_jis (old device firmware); empty: UTF-8 only"`

	ProxyTrustedCIDRs []string `key:"proxy-trusted-cidrs" help:"addresses or CIDRs of the load balancers allowed to send a PROXY protocol (v1 or v2) header on the FTP, implicit FTPS and passive ports; from other addresses a header is never trusted (a control connection opening with one is closed); empty: headers are never read (see docs/proxy.md)"`
	MaxSessions       int      `key:"max-sessions" help:"most FTP sessions open at once, all ports together; more are refused with 421 (0: no limit)"`
	MaxSessionsPerIP  int      `key:"max-sessions-per-ip" help:"most FTP sessions open at once from one client address (the PROXY header's behind a load balancer); more are refused with 421 (0: no limit)"`

	MaxUnauthenticatedPerIP int           `key:"max-unauthenticated-per-ip" help:"most FTP connections from one client address that have not logged in yet; more are refused with 421 (a session stops counting when it logs in, so devices behind one NAT that log in are not limited; 0: no limit)"`
	LoginTimeout            time.Duration `key:"login-timeout" help:"close (421) a connection that has not logged in this long after connecting"`
	PassivePortsShare       int           `key:"passive-ports-share" help:"percent (1-100) of the passive-ports range one client address, or one user, may hold at once (at least one port); more PASV/EPSV are refused with 421; 100: no limit"`

	PassivePortSharing bool     `key:"passive-port-sharing" help:"sessions from different client addresses may wait on the same passive port (a data connection goes to the session of its address), so a few ports serve many devices; sessions behind one address still get distinct ports (see docs/operations.md)"`
	Replicas           int      `key:"replicas" help:"number of gateway replicas behind one load balancer sharing the passive-ports range (1: this gateway is alone; see docs/kubernetes.md)"`
	ReplicaIndex       string   `key:"replica-index" help:"this replica's index, 0 to replicas-1; empty: the number after the last - of the host name (a StatefulSet pod's ordinal, e.g. s3ftp-2)"`
	Peers              []string `key:"peers" help:"the replicas' host names or addresses in index order (no port), or one template with {index}, e.g. s3ftp-{index}.s3ftp-peers.ftp.svc; a data connection for another replica is relayed to its host at the same passive port"`
	PeerNetworks       []string `key:"peer-networks" help:"CIDRs or addresses the replicas connect from (e.g. the pod network); relayed data connections carry a PROXY v2 header that is accepted on the passive ports from these networks only"`

	DataTimeout        time.Duration `key:"data-timeout" help:"how long to wait for a data connection to open (reply 425 when it does not); also how long a passive port nobody has used stays reserved"`
	UploadEndGrace     time.Duration `key:"upload-end-grace" help:"an upload whose control connection closes before, or this long after, its data connection's end of file is aborted (a killed client's kernel closes both, often the data connection first); every upload's 226 waits at least this long (the upload is stored meanwhile); 0: no wait (at most 1s)"`
	UserBandwidthLimit byteSize      `key:"user-bandwidth-limit" help:"bytes per second each user may transfer in each direction, all their sessions together (e.g. 1MiB); 0: unlimited"`
	ShutdownTimeout    time.Duration `key:"shutdown-timeout" help:"on SIGTERM, how long transfers in progress may finish before they are aborted (their clients get 421)"`

	EventsURLs        []string      `key:"events-urls" secret:"true" help:"webhook URLs that receive a JSON event for each completed upload (see docs/events.md)"`
	EventsSecret      string        `key:"events-secret" secret:"true" help:"HMAC-SHA256 key of the X-S3ftp-Signature header; empty: events are not signed"`
	EventsTypes       []string      `key:"events-types" help:"event types sent: upload, delete, rename"`
	EventsTimeout     time.Duration `key:"events-timeout" help:"timeout of each webhook request"`
	EventsMaxAttempts int           `key:"events-max-attempts" help:"deliveries tried per event and URL before it is given up"`
	EventsQueueSize   int           `key:"events-queue-size" help:"events held at most (beyond, new ones are dropped, logged and counted)"`

	TLSCert            string   `key:"tls-cert" help:"PEM file of the FTPS certificate (and its chain); enables AUTH TLS on the FTP port; reloaded on SIGHUP and when the file changes"`
	TLSKey             string   `key:"tls-key" help:"PEM file of the FTPS certificate's private key"`
	TLSMinVersion      string   `key:"tls-min-version" help:"lowest TLS version accepted: 1.2 or 1.3; 1.0 and 1.1 only for old devices that need them (see docs/ftps.md)"`
	TLSCipherSuites    []string `key:"tls-cipher-suites" help:"cipher suites of TLS 1.2 and older, Go names (default: Go's secure defaults); insecure ones need tls-min-version below 1.2"`
	TLSRequired        bool     `key:"tls-required" help:"every session must use TLS: AUTH TLS before USER, PROT P before transfers"`
	FTPSImplicitListen string   `key:"ftps-implicit-listen" help:"address of an implicit FTPS port (TLS from the first byte), e.g. 0.0.0.0:990; empty disables it"`

	DataDir          string `key:"data-dir" help:"directory for the user database and the embedded S3 store"`
	Storage          string `key:"storage" help:"embedded (S3 store in this process, objects under data-dir/s3) or s3 (default: s3 when s3-endpoint or s3-region is set)"`
	EmbeddedS3Listen string `key:"embedded-s3-listen" help:"address of the embedded S3 endpoint"`
	EmbeddedFsync    bool   `key:"embedded-fsync" help:"the embedded store fsyncs each object, its record and its directories before the upload is acknowledged (226), so that it survives a power cut; false is faster but a power cut can lose acknowledged uploads (see docs/embedded-store.md)"`

	S3Endpoint      string        `key:"s3-endpoint" help:"S3 endpoint URL (empty: AWS)"`
	S3Bucket        string        `key:"s3-bucket" help:"a bucket /readyz checks with HeadBucket (the one the users' files go to); empty: ListBuckets is checked"`
	S3Region        string        `key:"s3-region" help:"S3 region (default us-east-1 with a custom endpoint)"`
	S3PathStyle     bool          `key:"s3-path-style" help:"address buckets as endpoint/bucket (most S3-compatible servers need this)"`
	S3AccessKey     string        `key:"s3-access-key" secret:"true" help:"S3 access key (empty: the AWS default credential chain)"`
	S3SecretKey     string        `key:"s3-secret-key" secret:"true" help:"S3 secret key"`
	S3Checksum      string        `key:"s3-checksum" help:"upload checksums: auto, when_supported or when_required"`
	S3PartSize      byteSize      `key:"s3-part-size" help:"multipart part size and single-request upload limit (min 5MiB)"`
	S3Concurrency   int           `key:"s3-concurrency" help:"parts of one upload sent at once"`
	S3Timeout       time.Duration `key:"s3-timeout" help:"timeout of each S3 metadata request"`
	MultipartHashes string        `key:"multipart-hashes" help:"keep the digests of multipart uploads for HASH: none (HASH reads the object) or copy (a server-side copy of the object onto itself at upload)"`
	UploadMemory    byteSize      `key:"upload-memory" help:"most memory the buffers of all uploads (and downloads' ranged GETs) together may take (e.g. 256MiB); an upload waits for a buffer rather than exceed it; at least (s3-concurrency+1) × s3-part-size + 1MiB; 0: 256MiB, or that minimum when it is more"`
	UploadDigests   []string      `key:"upload-digests" help:"digests computed as each upload streams and kept in its metadata for HASH/XSHA256/XMD5/XCRC: any of sha256, md5, crc32, or none; a digest not kept is computed by reading the object when asked"`
	RenameLimit     int           `key:"rename-limit" help:"most objects a directory rename or recursive delete may touch"`
	UploadSweep     time.Duration `key:"upload-sweep-interval" help:"how often multipart uploads whose abort failed (S3 down) are aborted again; those a killed gateway left are aborted at start"`

	S3DownloadConcurrency int      `key:"s3-download-concurrency" help:"ranged GETs of one download larger than a chunk in flight at once (1: one streaming GET per download); memory per download is at most this × s3-download-chunk-size, from upload-memory's budget when free (downloads take at most half of it)"`
	S3DownloadChunkSize   byteSize `key:"s3-download-chunk-size" help:"size of each ranged GET of a download larger than one chunk (256KiB-512MiB); 0: s3-part-size, whose buffers uploads and downloads share"`

	DBURL              string        `key:"db-url" secret:"true" help:"PostgreSQL URL of a user store shared by several gateways (postgres://...); empty: SQLite in data-dir/users.db"`
	LoginMaxFailures   int           `key:"login-max-failures" help:"failed logins from one client address, or for one user name, within login-failure-window before they are refused (0: no limit)"`
	LoginFailureWindow time.Duration `key:"login-failure-window" help:"window in which failed logins are counted"`
	LoginCache         time.Duration `key:"login-cache" help:"a user who logs in again within this time of a login whose password was hashed and verified, with the same password against the same stored hash, is not hashed again (kept as an HMAC under a per-process key, never the password), so devices that log in for every file cost one password hash per login-cache; 0: hash every login"`

	APIListen          string   `key:"api-listen" help:"address of the admin HTTP API and health checks; empty disables them"`
	APIToken           string   `key:"api-token" secret:"true" help:"admin API bearer token in clear, for scripts (generated and printed when no token is configured and the API is on loopback)"`
	APITokenHashes     []string `key:"api-token-hashes" help:"admin API tokens, as sha256:HEX hashes (see docs/api.md)"`
	APIReadTokenHashes []string `key:"api-read-token-hashes" help:"read-only admin API tokens, as sha256:HEX hashes"`

	ConsolePasswordHash string `key:"console-password-hash" help:"argon2id (or bcrypt) hash of a password that signs in to the web console at /console/ on api-listen, besides the admin tokens (see docs/console.md)"`

	DemoUser     string `key:"demo-user" help:"name of the demo user created when no config file is given and the user store is empty"`
	DemoPassword string `key:"demo-password" secret:"true" help:"password of the demo user (default: generated and printed)"`

	LogLevel  string `key:"log-level" help:"debug, info, warn or error"`
	LogFormat string `key:"log-format" help:"json, text, or auto (text on a terminal, else json)"`
}

// defaultConfig returns the defaults. withFile tells whether a config file is
// in use, which changes the listen address.
func defaultConfig(withFile bool) Config {
	c := Config{
		FTPListen:          "127.0.0.1:2121",
		PassivePorts:       "30000-30099",
		IdleTimeout:        15 * time.Minute,
		Banner:             "s3ftp ready",
		TLSMinVersion:      "1.2",
		DataDir:            "./data",
		EmbeddedS3Listen:   "127.0.0.1:0",
		EmbeddedFsync:      true,
		S3Checksum:         "auto",
		S3PartSize:         8 << 20,
		S3Concurrency:      3,
		S3Timeout:          30 * time.Second,
		RenameLimit:        1000,
		UploadSweep:        time.Minute,
		MaxSessions:        1000,
		MultipartHashes:    "none",
		UploadDigests:      []string{"sha256", "crc32"},
		LoginMaxFailures:   10,
		LoginFailureWindow: 15 * time.Minute,
		LoginCache:         10 * time.Minute,
		APIListen:          "127.0.0.1:8080",
		DemoUser:           "demo",
		DataTimeout:        30 * time.Second,
		UploadEndGrace:     20 * time.Millisecond,
		ShutdownTimeout:    30 * time.Second,
		EventsTypes:        []string{"upload"},
		EventsTimeout:      10 * time.Second,
		EventsMaxAttempts:  5,
		EventsQueueSize:    1000,
		LogLevel:           "info",
		LogFormat:          "auto",

		MaxUnauthenticatedPerIP: 64,
		LoginTimeout:            30 * time.Second,
		PassivePortsShare:       50,
		PassivePortSharing:      true,
		Replicas:                1,

		S3DownloadConcurrency: 4,
	}
	if withFile {
		c.FTPListen = "0.0.0.0:2121"
	}
	return c
}

// envPrefix starts the environment variable of every key.
const envPrefix = "S3FTP_"

// envName returns the environment variable of key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// field is one settable key of a struct.
type field struct {
	key, help string
	secret    bool
	v         reflect.Value
}

// fields returns the keys of the struct *ptr in declaration order.
func fields(ptr any) []field {
	v := reflect.ValueOf(ptr).Elem()
	var out []field
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if key := sf.Tag.Get("key"); key != "" {
			out = append(out, field{key: key, help: sf.Tag.Get("help"), secret: sf.Tag.Get("secret") == "true", v: v.Field(i)})
		}
	}
	return out
}

// set parses raw into the field.
func (f field) set(raw string) error {
	switch p := f.v.Addr().Interface().(type) {
	case *string:
		*p = raw
	case *bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true or false)", raw)
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("%q is not an integer", raw)
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 15m)", raw)
		}
		*p = d
	case *byteSize:
		return p.Set(raw)
	case *[]string:
		*p = splitList(raw)
	default:
		panic(fmt.Sprintf("config: key %s has an unsupported type %T", f.key, p))
	}
	return nil
}

// String formats the field's value, masking secrets; lists are joined
// with commas.
func (f field) String() string {
	if f.secret && !f.v.IsZero() {
		return "********"
	}
	if list, ok := f.v.Interface().([]string); ok {
		return strings.Join(list, ",")
	}
	return fmt.Sprint(f.v.Interface())
}

// splitList splits a comma separated list, dropping blanks.
func splitList(raw string) []string {
	var out []string
	for _, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// flagValue lets a FlagSet record the raw strings given on the command line,
// so that flags can be applied last, after the file and the environment.
type flagValue struct {
	key string
	raw map[string]string
	b   bool
}

func (v *flagValue) String() string { return "" }
func (v *flagValue) Set(s string) error {
	v.raw[v.key] = s
	return nil
}
func (v *flagValue) IsBoolFlag() bool { return v.b }

// registerFlags adds a flag for every key of *ptr to fs, recording given
// values in raw.
func registerFlags(fs *flag.FlagSet, ptr any, raw map[string]string) {
	for _, f := range fields(ptr) {
		fs.Var(&flagValue{key: f.key, raw: raw, b: f.v.Kind() == reflect.Bool}, f.key, f.help)
	}
}

// load fills *ptr from its defaults (already in *ptr), the YAML file at path
// (if not empty), the environment (getenv) and the raw flag values, in that
// order of increasing precedence. Errors name the key and where it came from.
func load(ptr any, path string, getenv func(string) string, flagRaw map[string]string) error {
	byKey := map[string]field{}
	for _, f := range fields(ptr) {
		byKey[f.key] = f
	}
	if path != "" {
		values, err := readFile(path)
		if err != nil {
			return err
		}
		for _, key := range sortedKeys(values) {
			f, ok := byKey[key]
			if !ok {
				return fmt.Errorf("config file %s: unknown key %q", path, key)
			}
			if err := f.set(values[key]); err != nil {
				return fmt.Errorf("config file %s: key %s: %w", path, key, err)
			}
		}
	}
	for _, f := range byKey {
		if raw := getenv(envName(f.key)); raw != "" {
			if err := f.set(raw); err != nil {
				return fmt.Errorf("environment %s: %w", envName(f.key), err)
			}
		}
	}
	for _, key := range sortedKeys(flagRaw) {
		if f, ok := byKey[key]; ok {
			if err := f.set(flagRaw[key]); err != nil {
				return fmt.Errorf("flag --%s: %w", key, err)
			}
		}
	}
	return nil
}

// readFile reads a YAML mapping of keys to scalar values.
func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	values := map[string]string{}
	if len(doc.Content) == 0 {
		return values, nil // empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: want a mapping of keys to values", path)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if _, dup := values[k.Value]; dup {
			return nil, fmt.Errorf("config file %s: line %d: key %s given twice", path, k.Line, k.Value)
		}
		switch v.Kind {
		case yaml.ScalarNode:
			values[k.Value] = v.Value
		case yaml.SequenceNode: // a list: the same as its items joined with commas
			items := make([]string, len(v.Content))
			for j, item := range v.Content {
				if item.Kind != yaml.ScalarNode || strings.Contains(item.Value, ",") {
					return nil, fmt.Errorf("config file %s: line %d: key %s: list items must be single values without commas", path, item.Line, k.Value)
				}
				items[j] = item.Value
			}
			values[k.Value] = strings.Join(items, ",")
		default:
			return nil, fmt.Errorf("config file %s: line %d: key %s: want a value or a list of values", path, v.Line, k.Value)
		}
	}
	return values, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// printConfig writes every key and its effective value, secrets masked.
func printConfig(w io.Writer, ptr any) {
	for _, f := range fields(ptr) {
		fmt.Fprintf(w, "%s: %s\n", f.key, yamlScalar(f.String()))
	}
}

// yamlScalar quotes s when YAML would not read it back as the same string.
func yamlScalar(s string) string {
	var back string
	if s == "" || yaml.Unmarshal([]byte(s), &back) != nil || back != s {
		return strconv.Quote(s)
	}
	return s
}

// byteSize is a size in bytes written as 8388608, 8MiB, 16M or 1GiB.
type byteSize int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// Set parses s.
func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size (e.g. 8MiB)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// String formats b in the largest whole binary unit.
func (b byteSize) String() string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b != 0 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return strconv.FormatInt(int64(b), 10)
}

// referenceTable renders the keys of *ptr as the Markdown table of
// docs/configuration.md.
func referenceTable(ptr any, defaults any) string {
	var b strings.Builder
	b.WriteString("| key (flag, YAML) | environment | default | description |\n|---|---|---|---|\n")
	def := map[string]string{}
	for _, f := range fields(defaults) {
		def[f.key] = f.String()
	}
	for _, f := range fields(ptr) {
		d := def[f.key]
		if d == "" || d == "0s" || d == "false" {
			d = "—"
		} else {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", f.key, envName(f.key), d, strings.ReplaceAll(f.help, "|", `\|`))
	}
	return b.String()
}
