package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/console"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/gateway/metrics"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/embedded"
)

// eventsDrainTimeout bounds how long, after the FTP server has stopped, the
// events still queued may take to be delivered.
const eventsDrainTimeout = 10 * time.Second

// The demo user's files go to this bucket and prefix.
const (
	demoBucket = "s3ftp"
	demoPrefix = "demo/"
)

// loadedConfig is a validated configuration and where it came from.
type loadedConfig struct {
	Config
	file            string // the --config file, "" for none
	passivePorts    gateway.PortRange
	checksums       storage.ChecksumMode
	embedded        bool                    // use the embedded S3 store
	apiTokens       []api.Token             // from api-token-hashes, api-read-token-hashes and api-token
	tls             gateway.TLSSettings     // from the tls-* keys and ftps-implicit-listen; zero without tls-cert
	multipartHashes storage.MultipartHashes // from multipart-hashes
	proxyTrusted    []netip.Prefix          // from proxy-trusted-cidrs
	replicaIndex    int                     // from replica-index or the host name
	peers           []string                // from peers, expanded
	peerNetworks    []netip.Prefix          // from peer-networks
	events          events.Config           // from the events-* keys (Logger and Metrics unset)
}

// parseConfig parses the flags of serve and config check and loads the
// configuration (flags, environment, --config file, defaults).
func parseConfig(name string, args []string, e env) (*loadedConfig, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	file := fs.String("config", e.getenv(envPrefix+"CONFIG"), "YAML configuration file (env "+envPrefix+"CONFIG)")
	raw := map[string]string{}
	registerFlags(fs, &Config{}, raw)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageError(fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0)))
	}
	lc := &loadedConfig{Config: defaultConfig(*file != ""), file: *file}
	if err := load(&lc.Config, *file, e.getenv, raw); err != nil {
		return nil, err
	}
	if err := lc.validate(); err != nil {
		return nil, err
	}
	return lc, nil
}

// validate checks the configuration; errors name the key.
func (c *loadedConfig) validate() error {
	bad := func(key string, err error) error { return fmt.Errorf("%s: %w", key, err) }
	if _, _, err := net.SplitHostPort(c.FTPListen); err != nil {
		return bad("ftp-listen", err)
	}
	ports, err := gateway.ParsePortRange(c.PassivePorts)
	if err != nil {
		return bad("passive-ports", err)
	}
	c.passivePorts = ports
	if err := c.validateTLS(); err != nil {
		return err
	}
	switch c.Storage {
	case "embedded":
		c.embedded = true
	case "s3":
	case "":
		c.embedded = c.S3Endpoint == "" && c.S3Region == ""
	default:
		return bad("storage", fmt.Errorf("%q: want embedded or s3", c.Storage))
	}
	if c.DataDir == "" {
		return bad("data-dir", errors.New("must not be empty"))
	}
	if c.embedded {
		if _, _, err := net.SplitHostPort(c.EmbeddedS3Listen); err != nil {
			return bad("embedded-s3-listen", err)
		}
	}
	if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
		return bad("s3-access-key", errors.New("s3-access-key and s3-secret-key must be given together"))
	}
	if c.checksums, err = storage.ParseChecksumMode(c.S3Checksum); err != nil {
		return bad("s3-checksum", err)
	}
	if c.S3Timeout < 1e9 {
		return bad("s3-timeout", errors.New("must be at least 1s"))
	}
	if c.multipartHashes, err = storage.ParseMultipartHashes(c.MultipartHashes); err != nil {
		return bad("multipart-hashes", err)
	}
	if c.proxyTrusted, err = gateway.ParseCIDRs(c.ProxyTrustedCIDRs); err != nil {
		return bad("proxy-trusted-cidrs", err)
	}
	if err := c.validateReplicas(); err != nil {
		return err
	}
	if c.ShutdownTimeout < 0 {
		return bad("shutdown-timeout", errors.New("must not be negative"))
	}
	c.events = events.Config{
		URLs: c.EventsURLs, Secret: c.EventsSecret, Types: c.EventsTypes, Timeout: c.EventsTimeout,
		MaxAttempts: c.EventsMaxAttempts, QueueSize: c.EventsQueueSize,
	}
	if err := c.events.Validate(); err != nil {
		return fmt.Errorf("events-*: %w", err)
	}
	if c.DBURL != "" && !strings.HasPrefix(c.DBURL, "postgres://") && !strings.HasPrefix(c.DBURL, "postgresql://") {
		return bad("db-url", errors.New("must be a postgres:// URL"))
	}
	if c.LoginMaxFailures < 0 {
		return bad("login-max-failures", errors.New("must not be negative"))
	}
	if c.LoginMaxFailures > 0 && c.LoginFailureWindow < 1e9 {
		return bad("login-failure-window", errors.New("must be at least 1s"))
	}
	if c.LoginCache < 0 {
		return bad("login-cache", errors.New("must not be negative"))
	}
	for _, list := range []struct {
		key      string
		hashes   []string
		readOnly bool
	}{{"api-token-hashes", c.APITokenHashes, false}, {"api-read-token-hashes", c.APIReadTokenHashes, true}} {
		for _, h := range list.hashes {
			tok, err := api.ParseToken(h, list.readOnly)
			if err != nil {
				return bad(list.key, err)
			}
			c.apiTokens = append(c.apiTokens, tok)
		}
	}
	if c.APIToken != "" {
		c.apiTokens = append(c.apiTokens, api.PlainToken(c.APIToken, false))
	}
	if c.APIListen != "" {
		if _, _, err := net.SplitHostPort(c.APIListen); err != nil {
			return bad("api-listen", err)
		}
		if err := api.CheckListenAddr(c.APIListen, c.apiTokens); err != nil {
			return bad("api-listen", fmt.Errorf("%w: set api-token-hashes (or api-token) to serve the API on a non-loopback address", err))
		}
	}
	if c.ConsolePasswordHash != "" && !auth.IsHash(c.ConsolePasswordHash) {
		return bad("console-password-hash", errors.New("not an argon2id or bcrypt hash"))
	}
	if _, err := auth.NormalizeName(c.DemoUser); err != nil {
		return bad("demo-user", err)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return bad("log-level", err)
	}
	switch c.LogFormat {
	case "json", "text", "auto":
	default:
		return bad("log-format", fmt.Errorf("%q: want json, text or auto", c.LogFormat))
	}
	// The storage and gateway constructors own the rules of their settings.
	if err := c.storageSettings("").Validate(); err != nil {
		return keyError(err)
	}
	return keyError(c.gatewaySettings().Validate())
}

// storageSettings returns the storage settings of c, with checksums (the
// mode storage.NewClient resolved; "" when not yet known).
func (c *loadedConfig) storageSettings(checksums storage.ChecksumMode) storage.Settings {
	return storage.Settings{
		PartSize: int64(c.S3PartSize), Concurrency: c.S3Concurrency, Checksums: checksums,
		RequestTimeout: c.S3Timeout, RenameLimit: c.RenameLimit, MultipartHashes: c.multipartHashes,
		UploadJournal: filepath.Join(c.DataDir, uploadJournalFile), SweepInterval: c.UploadSweep,
		DownloadConcurrency: c.S3DownloadConcurrency, DownloadChunkSize: int64(c.S3DownloadChunkSize),
		UploadMemory: int64(c.UploadMemory), Digests: c.UploadDigests,
	}
}

// uploadJournalFile, in data-dir, records the multipart uploads this gateway
// started, so that those a crash left behind are aborted at the next start
// (storage.Settings.UploadJournal).
const uploadJournalFile = "multipart-uploads.json"

// gatewaySettings returns the FTP server settings of c.
func (c *loadedConfig) gatewaySettings() gateway.Settings {
	return gateway.Settings{
		ListenAddr: c.FTPListen, PassivePorts: c.passivePorts, PublicHost: c.PublicHost,
		ActivePort20: c.ActivePort20, IdleTimeout: c.IdleTimeout, Banner: c.Banner,
		ActiveNATSubstitution: c.ActiveNATSubstitution, ASCIIConversion: c.ASCIIConversion,
		LegacyCharset: c.LegacyCharset, TLS: c.tls,
		ProxyTrustedCIDRs: c.proxyTrusted, MaxSessions: c.MaxSessions, MaxSessionsPerIP: c.MaxSessionsPerIP,
		MaxUnauthenticatedPerIP: c.MaxUnauthenticatedPerIP, LoginTimeout: c.LoginTimeout, PassiveShare: c.PassivePortsShare,
		ConnectionTimeout: c.DataTimeout, UserBandwidth: int64(c.UserBandwidthLimit),
		ShutdownTimeout: c.ShutdownTimeout, UploadEndGrace: uploadEndGrace(c.UploadEndGrace),
		PassivePortSharing: c.PassivePortSharing, Replicas: c.Replicas, ReplicaIndex: c.replicaIndex,
		Peers: c.peers, PeerNetworks: c.peerNetworks,
	}
}

// uploadEndGrace maps the key's 0 (no wait) to gateway.Settings' negative
// value (its 0 is the default).
func uploadEndGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// settingKeys names the configuration key of each field of storage.Settings
// and gateway.Settings that comes from one.
var settingKeys = map[string]string{
	"PartSize":                "s3-part-size",
	"Concurrency":             "s3-concurrency",
	"DownloadConcurrency":     "s3-download-concurrency",
	"DownloadChunkSize":       "s3-download-chunk-size",
	"RenameLimit":             "rename-limit",
	"MultipartHashes":         "multipart-hashes",
	"SweepInterval":           "upload-sweep-interval",
	"UploadMemory":            "upload-memory",
	"Digests":                 "upload-digests",
	"IdleTimeout":             "idle-timeout",
	"ConnectionTimeout":       "data-timeout",
	"UploadEndGrace":          "upload-end-grace",
	"PublicHost":              "public-host",
	"Banner":                  "banner",
	"LegacyCharset":           "legacy-charset",
	"UserBandwidth":           "user-bandwidth-limit",
	"ShutdownTimeout":         "shutdown-timeout",
	"ProxyTrustedCIDRs":       "proxy-trusted-cidrs",
	"MaxSessions":             "max-sessions",
	"MaxSessionsPerIP":        "max-sessions-per-ip",
	"MaxUnauthenticatedPerIP": "max-unauthenticated-per-ip",
	"LoginTimeout":            "login-timeout",
	"PassiveShare":            "passive-ports-share",
	"PassivePorts":            "passive-ports",
	"Replicas":                "replicas",
	"ReplicaIndex":            "replica-index",
	"Peers":                   "peers",
	"PeerNetworks":            "peer-networks",
}

// keyError returns a constructor's setting error (a *storage.SettingError,
// which gateway.SettingError is too) as the error of the configuration key
// it comes from; other errors (and nil) as they are.
func keyError(err error) error {
	var se *storage.SettingError
	if !errors.As(err, &se) {
		return err
	}
	if key, ok := settingKeys[se.Field]; ok {
		return fmt.Errorf("%s: %w", key, se.Err)
	}
	return err
}

// configCheck validates the configuration without serving and prints the
// effective values, secrets masked.
func configCheck(args []string, e env) error {
	c, err := parseConfig("config check", args, e)
	if err != nil {
		return err
	}
	printConfig(e.stdout, &c.Config)
	return nil
}

// serve runs the gateway until ctx is cancelled.
func serve(ctx context.Context, args []string, e env) error {
	c, err := parseConfig("serve", args, e)
	if err != nil {
		return err
	}
	log, err := newLogger(e.stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}

	stats := metrics.New(versionString())
	clientCfg := storage.ClientConfig{
		Endpoint: c.S3Endpoint, Region: c.S3Region, PathStyle: c.S3PathStyle,
		AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, Checksums: c.checksums, Logger: log, Observer: stats,
	}
	var store *embedded.Server
	if c.embedded {
		ak, sk := "s3ftp-"+randomHex(4), randomHex(20)
		store, err = embedded.Start(ctx, embedded.Config{
			Dir: filepath.Join(c.DataDir, "s3"), Listen: c.EmbeddedS3Listen,
			AccessKey: ak, SecretKey: sk, Logger: log.With("component", "embedded-s3"), NoSync: !c.EmbeddedFsync,
		})
		if err != nil {
			return fmt.Errorf("embedded S3 store: %w", err)
		}
		defer store.Close()
		clientCfg = storage.ClientConfig{
			Endpoint: store.Endpoint(), Region: "us-east-1", PathStyle: true,
			AccessKey: ak, SecretKey: sk, Checksums: c.checksums, Logger: log, Observer: stats,
		}
	}
	client, checksums, err := storage.NewClient(ctx, clientCfg)
	if err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	set := c.storageSettings(checksums)
	set.Logger = log.With("component", "storage")
	svc, err := storage.NewService(client, set)
	if err != nil {
		return keyError(err)
	}
	sweepCtx, stopSweeper := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		svc.RunSweeper(sweepCtx, set.Logger)
	}()
	defer func() {
		stopSweeper()
		<-swept
		_ = svc.Close()
	}()

	users, err := openStore(ctx, &c.Config)
	if err != nil {
		return fmt.Errorf("user store: %w", err)
	}
	defer users.Close()
	var static []*auth.User
	var demoPassword string
	if c.file == "" {
		n, err := users.CountUsers(ctx)
		if err != nil {
			return fmt.Errorf("user store: %w", err)
		}
		if n == 0 {
			var demo *auth.User
			demo, demoPassword, err = demoUser(c.DemoUser, c.DemoPassword)
			if err != nil {
				return err
			}
			static = append(static, demo)
		}
	}
	authCfg := auth.AuthenticatorConfig{Static: static, Logger: log.With("component", "auth"), LoginCache: c.LoginCache}
	if c.LoginMaxFailures > 0 {
		authCfg.Throttle, err = auth.NewThrottle(auth.ThrottleConfig{MaxFailures: c.LoginMaxFailures, Window: c.LoginFailureWindow})
		if err != nil {
			return err
		}
	}
	authn, err := auth.NewAuthenticator(users, authCfg)
	if err != nil {
		return err
	}

	evCfg := c.events
	evCfg.Logger, evCfg.Metrics = log.With("component", "events"), stats
	notifier, err := events.New(evCfg)
	if err != nil {
		return fmt.Errorf("events-*: %w", err)
	}
	stats.WatchEventsPending(notifier.Pending)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventsDrainTimeout)
		defer cancel()
		if err := notifier.Close(ctx); err != nil {
			log.Warn("events", "err", err)
		}
	}()

	recorder, stopActivity, err := startActivity(users, notifier, stats, log)
	if err != nil {
		return err
	}
	defer stopActivity()

	var apiSrv *apiServer
	if c.APIListen != "" {
		apiSrv, err = startAPI(c, auth.NewManager(users), func(ctx context.Context) error {
			if err := users.Ping(ctx); err != nil {
				return fmt.Errorf("user store: %w", err)
			}
			return svc.Ping(ctx, c.S3Bucket)
		}, stats.Handler(), log.With("component", "api"))
		if err != nil {
			return err
		}
		defer apiSrv.shutdown()
	}

	gw, err := gateway.New(gateway.Config{
		Settings:      c.gatewaySettings(),
		Observer:      stats,
		Events:        notifier,
		Activity:      recorder,
		Authenticator: authn,
		Storage:       svc,
		Logger:        log,
	})
	if err != nil {
		return keyError(err)
	}
	if err := gw.Listen(); err != nil {
		return err
	}
	stopHUP := reloadOnSIGHUP(ctx, gw, c.tls.Certificates != nil, log)
	defer stopHUP()
	printStartup(e.stdout, c, gw.Addr(), gw.ImplicitAddr(), store, apiSrv, static, demoPassword)
	if c.Replicas > 1 {
		log = log.With("replica", c.replicaIndex)
	}
	log.Info("serving", "ftp", gw.Addr(), "ftps_implicit", gw.ImplicitAddr(), "passive_ports", c.passivePorts.String(), "version", versionString())
	err = gw.Serve(ctx)
	log.Info("stopped")
	return err
}

// demoUser returns the in-memory demo user and its password (generated
// unless given).
func demoUser(name, password string) (*auth.User, string, error) {
	if password == "" {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return nil, "", err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, "", fmt.Errorf("demo-password: %w", err)
	}
	u := &auth.User{Name: name, PasswordHash: hash, Bucket: demoBucket, Prefix: demoPrefix, Permissions: auth.AllPermissions}
	if err := u.Validate(); err != nil {
		return nil, "", fmt.Errorf("demo user: %w", err)
	}
	return u, password, nil
}

// printStartup tells the operator where everything is, in one write (so a
// reader of the output sees all the lines at once).
func printStartup(out io.Writer, c *loadedConfig, ftpAddr, implicitAddr string, store *embedded.Server, apiSrv *apiServer, static []*auth.User, demoPassword string) {
	w := &strings.Builder{}
	defer func() { _, _ = io.WriteString(out, w.String()) }()
	fmt.Fprintf(w, "s3ftp %s\n", versionString())
	ports := c.passivePorts.String()
	if ports == "" {
		ports = "any"
	}
	fmt.Fprintf(w, "  FTP:        ftp://%s (passive ports %s)\n", ftpAddr, ports)
	if c.Replicas > 1 {
		own := c.passivePorts.ReplicaSlice(c.replicaIndex, c.Replicas)
		fmt.Fprintf(w, "  replica:    %d of %d, answers PASV/EPSV with ports %s, relays the others to peers %s\n",
			c.replicaIndex, c.Replicas, own, strings.Join(c.peers, ","))
	}
	if certs := c.tls.Certificates; certs != nil {
		mode := "optional"
		if c.TLSRequired {
			mode = "required for every session"
		}
		leaf := certs.Certificate().Leaf
		fmt.Fprintf(w, "  FTPS:       explicit (AUTH TLS) on the FTP port, %s; TLS %s or later; certificate %s, expires %s\n",
			mode, c.TLSMinVersion, leaf.Subject, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if implicitAddr != "" {
		fmt.Fprintf(w, "  FTPS:       implicit ftps://%s\n", implicitAddr)
	}
	if store != nil {
		dir, _ := filepath.Abs(filepath.Join(c.DataDir, "s3"))
		fmt.Fprintf(w, "  S3:         %s (embedded store, objects under %s)\n", store.Endpoint(), dir)
	} else {
		endpoint := c.S3Endpoint
		if endpoint == "" {
			endpoint = "AWS"
		}
		fmt.Fprintf(w, "  S3:         %s\n", endpoint)
	}
	if c.DBURL != "" {
		fmt.Fprintf(w, "  users:      PostgreSQL %s\n", redactURL(c.DBURL))
	} else {
		db, _ := filepath.Abs(filepath.Join(c.DataDir, "users.db"))
		fmt.Fprintf(w, "  users:      %s\n", db)
	}
	if apiSrv != nil {
		token := "the token from the configuration"
		if apiSrv.generatedToken != "" {
			token = "token " + apiSrv.generatedToken + " (generated: set api-token or api-token-hashes to keep one)"
		}
		fmt.Fprintf(w, "  admin API:  http://%s/api/v1/ with %s\n", apiSrv.addr, token)
		fmt.Fprintf(w, "  console:    http://%s%s (sign in with the admin token)\n", apiSrv.addr, console.Prefix)
	}
	for _, u := range static {
		fmt.Fprintf(w, "  demo user:  %s / %s -> bucket %s, prefix %s\n", u.Name, demoPassword, u.Bucket, u.Prefix)
		host, port, _ := net.SplitHostPort(ftpAddr)
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		ssl := ""
		if c.TLSRequired {
			ssl = "--ssl-reqd "
		}
		fmt.Fprintf(w, "  try:        curl %s-T README.md ftp://%s:%s@%s/\n", ssl, u.Name, demoPassword, net.JoinHostPort(host, port))
	}
}

// newLogger returns the process logger writing to w.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return l, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
