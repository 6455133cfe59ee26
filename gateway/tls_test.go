package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/s3ftp/s3ftp/auth"
	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/gatewaytest"
	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/tlstest"
)

// tlsEnv is a running gateway with TLS from a test CA's certificate
// (serial 1) and what a client needs to trust it.
type tlsEnv struct {
	*env
	ca    *tlstest.CA
	files tlstest.Files
	certs *gateway.CertReloader
}

// newTLSEnv starts a gateway with opts and TLS settings set (their
// Certificates are filled in from a new test CA).
func newTLSEnv(t *testing.T, set gateway.TLSSettings, opts envOptions) *tlsEnv {
	t.Helper()
	ca := tlstest.NewCA(t)
	files := ca.WriteFiles(t, t.TempDir(), 1)
	certs, err := gateway.NewCertReloader(files.Cert, files.Key)
	must(t, "load certificate", err)
	set.Certificates = certs
	opts.settings.TLS = set
	return &tlsEnv{env: newEnv(t, s3test.Fake(t), opts), ca: ca, files: files, certs: certs}
}

// clientConfig returns a client configuration trusting the test CA, with a
// session cache so data connections can resume the control session.
func (e *tlsEnv) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: e.ca.Pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(8)}
}

// startTLS sends AUTH TLS and performs the handshake; it returns the
// handshake's error, and on success c speaks TLS from then on.
func (c *raw) startTLS(cfg *tls.Config) (tls.ConnectionState, error) {
	c.t.Helper()
	c.cmd(234, "AUTH TLS")
	tc := tls.Client(c.conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	_ = tc.SetDeadline(time.Time{})
	c.conn, c.r = tc, bufio.NewReader(tc)
	return tc.ConnectionState(), nil
}

// authTLS is startTLS that fails the test if the handshake fails.
func (c *raw) authTLS(cfg *tls.Config) tls.ConnectionState {
	c.t.Helper()
	state, err := c.startTLS(cfg)
	if err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	return state
}

// rawDialImplicit connects to an implicit FTPS port and reads the banner.
func rawDialImplicit(t *testing.T, addr string, cfg *tls.Config) *raw {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	must(t, "dial implicit FTPS", err)
	t.Cleanup(func() { conn.Close() })
	c := &raw{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect(220)
	return c
}

// transfer runs cmd (a STOR, sending up, or a RETR) on a data connection
// opened passively (EPSV) or actively (EPRT), in TLS when cfg is not nil.
// It returns the final reply code (or the refusal's), the bytes received
// and the data connection's TLS state (nil in clear).
func (c *raw) transfer(active bool, cfg *tls.Config, cmd string, up []byte) (int, []byte, *tls.ConnectionState) {
	c.t.Helper()
	var open func() net.Conn
	if active {
		open = c.active(true)
	} else {
		addr := c.pasv(true)
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			c.t.Fatalf("dial data: %v", err)
		}
		c.t.Cleanup(func() { conn.Close() })
		open = func() net.Conn { return conn }
	}
	c.send("%s", cmd)
	if code, text := c.reply(); code != 150 {
		if code < 400 {
			c.t.Fatalf("%s: %s", cmd, text)
		}
		return code, nil, nil
	}
	conn := open()
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var state *tls.ConnectionState
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		if err := tc.Handshake(); err != nil {
			c.t.Fatalf("%s: data connection handshake: %v", cmd, err)
		}
		st := tc.ConnectionState()
		conn, state = tc, &st
	}
	var got []byte
	var err error
	if up != nil {
		_, err = conn.Write(up)
	} else {
		got, err = io.ReadAll(conn)
	}
	if err != nil {
		c.t.Fatalf("%s: data: %v", cmd, err)
	}
	conn.Close()
	code, _ := c.reply()
	return code, got, state
}

// TestFTPSClients: the jlaffaye/ftp client in explicit (AUTH TLS) and
// implicit FTPS, passive EPSV and PASV, uploads, lists and downloads; what
// it uploaded is in S3.
func TestFTPSClients(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"}, envOptions{})
	for _, c := range []struct {
		name string
		dial func() (*ftp.ServerConn, error)
	}{
		{"explicit/EPSV", func() (*ftp.ServerConn, error) {
			return ftp.Dial(e.addr, ftp.DialWithTimeout(10*time.Second), ftp.DialWithExplicitTLS(e.clientConfig()))
		}},
		{"explicit/PASV", func() (*ftp.ServerConn, error) {
			return ftp.Dial(e.addr, ftp.DialWithTimeout(10*time.Second), ftp.DialWithExplicitTLS(e.clientConfig()), ftp.DialWithDisabledEPSV(true))
		}},
		{"implicit/EPSV", func() (*ftp.ServerConn, error) {
			return ftp.Dial(e.gw.ImplicitAddr(), ftp.DialWithTimeout(10*time.Second), ftp.DialWithTLS(e.clientConfig()))
		}},
		{"implicit/PASV", func() (*ftp.ServerConn, error) {
			return ftp.Dial(e.gw.ImplicitAddr(), ftp.DialWithTimeout(10*time.Second), ftp.DialWithTLS(e.clientConfig()), ftp.DialWithDisabledEPSV(true))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cl, err := c.dial()
			must(t, "dial", err)
			defer cl.Quit()
			must(t, "login", cl.Login("alice", password))
			name := strings.ReplaceAll(c.name, "/", "-") + ".bin"
			data := randBytes(700000)
			must(t, "stor", cl.Stor(name, bytes.NewReader(data)))
			if got, err := e.object("alice/" + name); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("S3 holds %d bytes, %v; want the %d uploaded", len(got), err, len(data))
			}
			r, err := cl.Retr(name)
			must(t, "retr", err)
			got, err := io.ReadAll(r)
			must(t, "read", err)
			must(t, "close retr", r.Close())
			if !bytes.Equal(got, data) {
				t.Errorf("downloaded %d bytes, want %d", len(got), len(data))
			}
			entries, err := cl.List("/")
			must(t, "list", err)
			found := false
			for _, en := range entries {
				found = found || en.Name == name
			}
			if !found {
				t.Errorf("LIST lacks %s: %+v", name, entries)
			}
		})
	}
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", e.logs)
	}
}

// TestFEATAndNoTLS: FEAT offers AUTH TLS only with a certificate; without
// one AUTH TLS is not implemented (502) and the session goes on in clear.
func TestFEATAndNoTLS(t *testing.T) {
	t.Parallel()
	plain := newEnv(t, s3test.Fake(t), envOptions{})
	c := rawDial(t, plain.addr, "")
	if feat := c.cmd(211, "FEAT"); strings.Contains(feat, "AUTH TLS") {
		t.Errorf("FEAT without a certificate offers TLS: %s", feat)
	}
	c.cmd(502, "AUTH TLS") // RFC 2228: AUTH of a server without security mechanisms
	c.login("alice")

	e := newTLSEnv(t, gateway.TLSSettings{}, envOptions{})
	c = rawDial(t, e.addr, "")
	feat := c.cmd(211, "FEAT")
	for _, f := range []string{"AUTH TLS", "PBSZ", "PROT"} {
		if !strings.Contains(feat, f) {
			t.Errorf("FEAT lacks %s: %s", f, feat)
		}
	}
}

// TestRequireTLS: PROT C stays allowed unless TLS is required; the global
// setting refuses USER before AUTH TLS and clear data connections; a user
// with RequireTLS is refused in clear with the reply of a wrong password
// and, once logged in over TLS, cannot transfer without PROT P.
func TestRequireTLS(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		required   bool   // global TLS requirement
		user       string // cam is created with RequireTLS
		auth       bool   // AUTH TLS before USER
		prot       string // "C", "P" or "" (none sent)
		wantUser   int    // reply to USER
		wantPass   int    // reply to PASS
		wantStored bool   // the STOR succeeds (else it is refused)
	}{
		{"optional/clear", false, "alice", false, "", 331, 230, true},
		{"optional/PROT C", false, "alice", true, "C", 331, 230, true},
		{"optional/no PROT", false, "alice", true, "", 331, 230, true},
		{"optional/PROT P", false, "alice", true, "P", 331, 230, true},
		{"global/clear", true, "alice", false, "", 421, 0, false},
		{"global/PROT C", true, "alice", true, "C", 331, 230, false},
		{"global/PROT P", true, "alice", true, "P", 331, 230, true},
		{"user/clear", false, "cam", false, "", 331, 530, false},
		{"user/PROT C", false, "cam", true, "C", 331, 230, false},
		{"user/no PROT", false, "cam", true, "", 331, 230, false},
		{"user/PROT P", false, "cam", true, "P", 331, 230, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTLSEnv(t, gateway.TLSSettings{Required: c.required}, envOptions{requireTLS: []string{"cam"}})
			cfg := e.clientConfig()
			cl := rawDial(t, e.addr, "")
			if c.auth {
				cl.authTLS(cfg)
			}
			cl.cmd(c.wantUser, "USER %s", c.user)
			if c.wantUser != 331 {
				if _, err := cl.r.ReadString('\n'); err == nil {
					t.Errorf("the connection stays open after USER was refused")
				}
				return
			}
			cl.send("PASS %s", password)
			code, text := cl.reply()
			if code != c.wantPass {
				t.Fatalf("PASS: %s, want %d", text, c.wantPass)
			}
			if code == 530 {
				wrong := rawDial(t, e.addr, "")
				wrong.cmd(331, "USER %s", c.user)
				wrong.send("PASS not-the-password")
				if _, wrongText := wrong.reply(); wrongText != text {
					t.Errorf("refused for TLS: %q; wrong password: %q; the replies must not differ", text, wrongText)
				}
				if !strings.Contains(e.logs.String(), "user requires TLS") {
					t.Errorf("the log does not say why the login was refused:\n%s", e.logs)
				}
				return
			}
			if c.prot != "" {
				cl.cmd(200, "PBSZ 0")
				cl.cmd(200, "PROT %s", c.prot)
			}
			var dataCfg *tls.Config
			if c.prot == "P" {
				dataCfg = cfg
			}
			data := randBytes(1000)
			code, _, _ = cl.transfer(false, dataCfg, "STOR x.bin", data)
			key := map[string]string{"alice": "alice/x.bin", "cam": "cams/cam/x.bin"}[c.user]
			if !c.wantStored {
				if code != 421 {
					t.Errorf("STOR in clear: %d, want 421", code)
				}
				e.nothingAt(t, key)
				return
			}
			if code != 226 {
				t.Fatalf("STOR: %d, want 226", code)
			}
			if got, err := e.object(key); err != nil || !bytes.Equal(got, data) {
				t.Errorf("S3 holds %q, %v", got, err)
			}
		})
	}
}

// TestRequireTLSImplicit: a user with RequireTLS logs in on the implicit
// port, whose data connections are always in TLS, PROT P or not.
func TestRequireTLSImplicit(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"}, envOptions{requireTLS: []string{"cam"}})
	cfg := e.clientConfig()
	c := rawDialImplicit(t, e.gw.ImplicitAddr(), cfg)
	c.login("cam")
	if code, _, state := c.transfer(false, cfg, "STOR implicit.bin", []byte("implicit")); code != 226 || state == nil {
		t.Fatalf("STOR without PROT on the implicit port: %d", code)
	}
	if got, err := e.object("cams/cam/implicit.bin"); err != nil || string(got) != "implicit" {
		t.Errorf("S3 holds %q, %v", got, err)
	}
}

// TestImplicitBanned: a client banned for too many failed logins is told
// 421 on the implicit port too, over TLS.
func TestImplicitBanned(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"},
		envOptions{throttle: &auth.ThrottleConfig{MaxFailures: 2, Window: time.Hour}})
	for range 2 {
		c := rawDial(t, e.addr, "")
		c.cmd(331, "USER alice")
		c.cmd(530, "PASS guess")
	}
	conn, err := tls.Dial("tcp", e.gw.ImplicitAddr(), e.clientConfig())
	must(t, "dial implicit", err)
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(line, "421 ") {
		t.Errorf("banned client greeted with %q on the implicit port, want 421", line)
	}
}

// TestImplicitHandshakeTimeout: a client that connects to the implicit
// port and never starts TLS is disconnected after the connection timeout.
func TestImplicitHandshakeTimeout(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"},
		envOptions{settings: gateway.Settings{ConnectionTimeout: time.Second}})
	conn, err := net.Dial("tcp", e.gw.ImplicitAddr())
	must(t, "dial", err)
	defer conn.Close()
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := conn.Read(make([]byte, 64)); err == nil {
		t.Fatalf("read %d bytes, want the connection closed", n)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("disconnected after %v, want about 1 s", d)
	}
}

// TestCCC: CCC (back to a control connection in clear) is refused with 502
// and the session goes on in TLS.
func TestCCC(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{}, envOptions{})
	c := rawDial(t, e.addr, "")
	c.authTLS(e.clientConfig())
	c.login("alice")
	c.cmd(502, "CCC")
	c.cmd(200, "NOOP")
	if _, ok := c.conn.(*tls.Conn); !ok {
		t.Fatal("not in TLS")
	}
	c.cmd(257, "PWD")
}

// TestTLSVersionsAndSuites: TLS 1.0 and 1.1 clients are refused unless the
// minimum version allows them; configured cipher suites are enforced.
func TestTLSVersionsAndSuites(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		set         gateway.TLSSettings
		client      *tls.Config
		wantVersion uint16 // 0: the handshake must fail
	}{
		{"default/TLS 1.1 client", gateway.TLSSettings{}, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, 0},
		{"default/TLS 1.0 client", gateway.TLSSettings{}, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, 0},
		{"default/TLS 1.2 client", gateway.TLSSettings{}, &tls.Config{MaxVersion: tls.VersionTLS12}, tls.VersionTLS12},
		{"default/TLS 1.3 client", gateway.TLSSettings{}, &tls.Config{}, tls.VersionTLS13},
		{"min 1.1/TLS 1.1 client", gateway.TLSSettings{MinVersion: tls.VersionTLS11}, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, tls.VersionTLS11},
		{"min 1.1/TLS 1.0 client", gateway.TLSSettings{MinVersion: tls.VersionTLS11}, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, 0},
		{"min 1.0/TLS 1.0 client", gateway.TLSSettings{MinVersion: tls.VersionTLS10}, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, tls.VersionTLS10},
		{"min 1.3/TLS 1.2 client", gateway.TLSSettings{MinVersion: tls.VersionTLS13}, &tls.Config{MaxVersion: tls.VersionTLS12}, 0},
		{"suites/offered", gateway.TLSSettings{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}},
			&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}, tls.VersionTLS12},
		{"suites/not offered", gateway.TLSSettings{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}},
			&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTLSEnv(t, c.set, envOptions{})
			cfg := c.client.Clone()
			cfg.RootCAs, cfg.ServerName = e.ca.Pool, "127.0.0.1"
			cl := rawDial(t, e.addr, "")
			state, err := cl.startTLS(cfg)
			if c.wantVersion == 0 {
				if err == nil {
					t.Fatalf("handshake succeeded with %s", tls.VersionName(state.Version))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if state.Version != c.wantVersion {
				t.Errorf("negotiated %s, want %s", tls.VersionName(state.Version), tls.VersionName(c.wantVersion))
			}
			cl.login("alice")
			cl.cmd(200, "PROT P")
			if code, got, _ := cl.transfer(false, cfg, "LIST", nil); code != 226 || got == nil {
				t.Errorf("LIST in TLS: %d", code)
			}
		})
	}
}

// TestTLSSessionResumption: with the client's session cache, data
// connections (passive and active, TLS 1.2 and 1.3) resume the control
// connection's TLS session, as lftp, curl and FileZilla expect.
func TestTLSSessionResumption(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"}, envOptions{})
	for _, c := range []struct {
		name     string
		version  uint16
		active   bool
		implicit bool
	}{
		{"TLS1.2/passive", tls.VersionTLS12, false, false},
		{"TLS1.2/active", tls.VersionTLS12, true, false},
		{"TLS1.3/passive", tls.VersionTLS13, false, false},
		{"TLS1.3/active", tls.VersionTLS13, true, false},
		{"TLS1.3/implicit", tls.VersionTLS13, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := e.clientConfig()
			cfg.MaxVersion = c.version
			var cl *raw
			if c.implicit {
				cl = rawDialImplicit(t, e.gw.ImplicitAddr(), cfg)
			} else {
				cl = rawDial(t, e.addr, "")
				cl.authTLS(cfg)
			}
			cl.login("alice")
			cl.cmd(200, "PBSZ 0")
			cl.cmd(200, "PROT P")
			name := strings.ReplaceAll(c.name, "/", "-")
			data := randBytes(100000)
			for _, step := range []struct {
				cmd string
				up  []byte
			}{{"STOR " + name, data}, {"RETR " + name, nil}} {
				code, got, state := cl.transfer(c.active, cfg, step.cmd, step.up)
				if code != 226 || state == nil {
					t.Fatalf("%s: %d", step.cmd, code)
				}
				if step.up == nil && !bytes.Equal(got, data) {
					t.Errorf("%s: %d bytes, want %d", step.cmd, len(got), len(data))
				}
				if !state.DidResume {
					t.Errorf("%s: the data connection did not resume the TLS session", step.cmd)
				}
				if state.Version != c.version {
					t.Errorf("%s: data connection in %s", step.cmd, tls.VersionName(state.Version))
				}
			}
		})
	}
}

// servedSerial returns the serial number of the certificate the control
// port serves to a new client (without a session cache, so no resumption).
func (e *tlsEnv) servedSerial(t *testing.T) int64 {
	t.Helper()
	c := rawDial(t, e.addr, "")
	state := c.authTLS(&tls.Config{RootCAs: e.ca.Pool, ServerName: "127.0.0.1"})
	c.cmd(221, "QUIT")
	return state.PeerCertificates[0].SerialNumber.Int64()
}

// TestCertificateReload: a new pair is served once the files change (found
// by the periodic check) or on an explicit reload (SIGHUP); a broken pair
// is logged and the current certificate kept.
func TestCertificateReload(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		interval time.Duration
		explicit bool // reload with Server.ReloadCertificate, not by the check
	}{
		{"file change", 20 * time.Millisecond, false},
		{"explicit", time.Hour, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTLSEnv(t, gateway.TLSSettings{ReloadInterval: c.interval, ImplicitListenAddr: "127.0.0.1:0"}, envOptions{})
			if got := e.servedSerial(t); got != 1 {
				t.Fatalf("serving serial %d, want 1", got)
			}
			failures := func() int { return strings.Count(e.logs.String(), "TLS certificate reload failed") }
			reload := func(wantErr bool) {
				t.Helper()
				if !c.explicit {
					return
				}
				if err := e.gw.ReloadCertificate(); (err != nil) != wantErr {
					t.Fatalf("ReloadCertificate: %v", err)
				}
			}

			certPEM, keyPEM := e.ca.Issue(t, 2)
			must(t, "write key", os.WriteFile(e.files.Key, keyPEM, 0o600))
			must(t, "write cert", os.WriteFile(e.files.Cert, certPEM, 0o600))
			reload(false)
			waitUntil(t, "serial 2 served", func() bool { return e.servedSerial(t) == 2 })
			implicit := rawDialImplicit(t, e.gw.ImplicitAddr(), &tls.Config{RootCAs: e.ca.Pool, ServerName: "127.0.0.1"})
			if got := implicit.conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Int64(); got != 2 {
				t.Errorf("the implicit port serves serial %d, want 2", got)
			}

			before := failures()
			must(t, "write broken cert", os.WriteFile(e.files.Cert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o600))
			reload(true)
			waitUntil(t, "the failed reload logged", func() bool { return failures() > before })
			if got := e.servedSerial(t); got != 2 {
				t.Errorf("after a broken pair: serving serial %d, want 2 (kept)", got)
			}
			if got := e.certs.Certificate().Leaf.SerialNumber.Int64(); got != 2 {
				t.Errorf("Certificate() has serial %d, want 2", got)
			}
		})
	}
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCertReloaderErrors: a missing file or a key that is not the
// certificate's is refused, and the error names the file.
func TestCertReloaderErrors(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	files := ca.WriteFiles(t, dir, 1)
	_, otherKey := ca.Issue(t, 2)
	mismatched := dir + "/other-key.pem"
	must(t, "write", os.WriteFile(mismatched, otherKey, 0o600))
	for _, c := range []struct {
		name, cert, key, want string
	}{
		{"no cert", dir + "/missing.pem", files.Key, "missing.pem"},
		{"no key", files.Cert, dir + "/missing-key.pem", "missing-key.pem"},
		{"not a pair", files.Cert, mismatched, "private key does not match"},
		{"key as cert", files.Key, files.Key, "key.pem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := gateway.NewCertReloader(c.cert, c.key)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
	r, err := gateway.NewCertReloader(files.Cert, files.Key)
	must(t, "load", err)
	if changed, err := r.ReloadIfChanged(); changed || err != nil {
		t.Errorf("ReloadIfChanged of unchanged files = %v, %v", changed, err)
	}
	must(t, "remove", os.Remove(files.Key))
	if changed, err := r.ReloadIfChanged(); !changed || err == nil {
		t.Errorf("ReloadIfChanged with the key gone = %v, %v; want an error", changed, err)
	}
	if changed, err := r.ReloadIfChanged(); changed || err != nil {
		t.Errorf("the missing key is reported again: %v, %v", changed, err)
	}
	if r.Certificate() == nil {
		t.Errorf("the certificate was dropped")
	}
}

// TestTLSSettingsValidation: TLS settings without a certificate, unknown
// versions and insecure suites with a modern minimum are refused by New.
func TestTLSSettingsValidation(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	files := ca.WriteFiles(t, t.TempDir(), 1)
	certs, err := gateway.NewCertReloader(files.Cert, files.Key)
	must(t, "load", err)
	rc4 := tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA
	for _, c := range []struct {
		name string
		set  gateway.TLSSettings
		ok   bool
	}{
		{"none", gateway.TLSSettings{}, true},
		{"certificate only", gateway.TLSSettings{Certificates: certs}, true},
		{"required without certificate", gateway.TLSSettings{Required: true}, false},
		{"implicit without certificate", gateway.TLSSettings{ImplicitListenAddr: "127.0.0.1:0"}, false},
		{"min version without certificate", gateway.TLSSettings{MinVersion: tls.VersionTLS13}, false},
		{"suites without certificate", gateway.TLSSettings{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, false},
		{"SSL 3.0", gateway.TLSSettings{Certificates: certs, MinVersion: tls.VersionSSL30}, false},
		{"insecure suite with 1.2", gateway.TLSSettings{Certificates: certs, CipherSuites: []uint16{rc4}}, false},
		{"insecure suite with 1.0", gateway.TLSSettings{Certificates: certs, MinVersion: tls.VersionTLS10, CipherSuites: []uint16{rc4}}, true},
		{"TLS 1.3 suite", gateway.TLSSettings{Certificates: certs, CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256}}, false},
		{"suites with min 1.3", gateway.TLSSettings{Certificates: certs, MinVersion: tls.VersionTLS13, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, false},
		{"negative interval", gateway.TLSSettings{Certificates: certs, ReloadInterval: -time.Second}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := gateway.New(gateway.Config{
				Settings:      gateway.Settings{TLS: c.set},
				Authenticator: denyAll{},
				Storage:       gatewaytest.UnusedStorage(t),
			})
			if (err == nil) != c.ok {
				t.Errorf("New = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// denyAll is an Authenticator that refuses everyone.
type denyAll struct{}

func (denyAll) Authenticate(context.Context, string, string, netip.Addr) (*auth.User, error) {
	return nil, auth.ErrDenied
}

func TestParseTLSVersion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"1.0", tls.VersionTLS10, true}, {"1.1", tls.VersionTLS11, true},
		{"1.2", tls.VersionTLS12, true}, {" 1.3 ", tls.VersionTLS13, true},
		{"", 0, false}, {"1.4", 0, false}, {"TLS1.2", 0, false}, {"ssl3", 0, false},
	} {
		got, err := gateway.ParseTLSVersion(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseTLSVersion(%q) = %#x, %v", c.in, got, err)
		}
	}
}

func TestParseCipherSuites(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		names []string
		min   uint16
		want  []uint16
		err   string
	}{
		{nil, tls.VersionTLS12, nil, ""},
		{[]string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", " TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}, tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, ""},
		{[]string{"TLS_RSA_WITH_AES_128_CBC_SHA"}, tls.VersionTLS10, []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}, ""},
		{[]string{"TLS_RSA_WITH_3DES_EDE_CBC_SHA"}, tls.VersionTLS10, []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, ""},
		{[]string{"TLS_RSA_WITH_3DES_EDE_CBC_SHA"}, tls.VersionTLS12, nil, "insecure"},
		{[]string{"TLS_ECDHE_RSA_WITH_RC4_128_SHA"}, tls.VersionTLS12, nil, "insecure"},
		{[]string{"TLS_AES_128_GCM_SHA256"}, tls.VersionTLS12, nil, "TLS 1.3"},
		{[]string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, tls.VersionTLS13, nil, "TLS 1.3"},
		{[]string{"ECDHE-RSA-AES128-GCM-SHA256"}, tls.VersionTLS12, nil, "unknown cipher suite"},
	} {
		got, err := gateway.ParseCipherSuites(c.names, c.min)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ParseCipherSuites(%q): %v", c.names, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseCipherSuites(%q) = %v, want an error mentioning %q", c.names, err, c.err)
		case c.err == "" && !slices.Equal(got, c.want):
			t.Errorf("ParseCipherSuites(%q) = %#x, want %#x", c.names, got, c.want)
		}
	}
}
