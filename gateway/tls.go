package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TLSSettings configure FTPS. The zero value (no Certificates) disables TLS:
// AUTH TLS is then answered 550 and FEAT does not offer it.
type TLSSettings struct {
	// Certificates serves the server certificate. Setting it enables
	// explicit FTPS (AUTH TLS, PBSZ, PROT) on the control port; every other
	// TLS field needs it.
	Certificates *CertReloader
	// MinVersion is the lowest TLS version accepted, tls.VersionTLS10 to
	// tls.VersionTLS13. Default tls.VersionTLS12. TLS 1.0 and 1.1 are for
	// old devices only.
	MinVersion uint16
	// CipherSuites are the cipher suites of TLS 1.0-1.2 connections (TLS 1.3
	// suites are not configurable), as checked by CheckCipherSuites. Empty
	// means Go's defaults.
	CipherSuites []uint16
	// Required makes TLS mandatory for every session: USER before AUTH TLS
	// is refused, and data connections need PROT P.
	Required bool
	// ImplicitListenAddr, when set, is the address of a second control
	// port speaking TLS from the first byte (implicit FTPS, usually port
	// 990). Data connections of its sessions always use TLS.
	ImplicitListenAddr string
	// ImplicitListener, when set, is used instead of listening on
	// ImplicitListenAddr.
	ImplicitListener net.Listener
	// ReloadInterval is how often the certificate and key files are checked
	// for changes. Default 5 s.
	ReloadInterval time.Duration
}

// enabled reports whether TLS is configured.
func (t TLSSettings) enabled() bool { return t.Certificates != nil }

// implicit reports whether an implicit FTPS port is configured.
func (t TLSSettings) implicit() bool { return t.ImplicitListenAddr != "" || t.ImplicitListener != nil }

// withDefaults fills in the defaults of t and checks it.
func (t TLSSettings) withDefaults() (TLSSettings, error) {
	if !t.enabled() {
		if t.MinVersion != 0 || len(t.CipherSuites) > 0 || t.Required || t.implicit() {
			return t, errors.New("TLS settings need a certificate")
		}
		return t, nil
	}
	if t.MinVersion == 0 {
		t.MinVersion = tls.VersionTLS12
	}
	if t.MinVersion < tls.VersionTLS10 || t.MinVersion > tls.VersionTLS13 {
		return t, fmt.Errorf("TLS minimum version %#04x: want TLS 1.0 to 1.3", t.MinVersion)
	}
	if err := CheckCipherSuites(t.CipherSuites, t.MinVersion); err != nil {
		return t, err
	}
	if t.ReloadInterval == 0 {
		t.ReloadInterval = 5 * time.Second
	}
	if t.ReloadInterval < 0 {
		return t, errors.New("TLS reload interval must be positive")
	}
	return t, nil
}

// config returns the one *tls.Config every TLS connection of the server
// uses, control and data alike, explicit and implicit. Sharing it shares
// the session ticket keys, so a data connection can resume the TLS session
// of its control connection, which many clients expect.
func (t TLSSettings) config() *tls.Config {
	return &tls.Config{
		GetCertificate: t.Certificates.GetCertificate,
		MinVersion:     t.MinVersion,
		CipherSuites:   slices.Clone(t.CipherSuites),
	}
}

// ParseTLSVersion parses "1.0", "1.1", "1.2" or "1.3" into the crypto/tls
// version constant. Any other string is an error.
func ParseTLSVersion(s string) (uint16, error) {
	switch strings.TrimSpace(s) {
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want 1.0, 1.1, 1.2 or 1.3", s)
}

// ParseCipherSuites returns the ids of the cipher suites named (Go names,
// as listed by tls.CipherSuites and tls.InsecureCipherSuites, e.g.
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) after checking them with
// CheckCipherSuites against minVersion. An unknown name is an error.
func ParseCipherSuites(names []string, minVersion uint16) ([]uint16, error) {
	byName := map[string]uint16{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[cs.Name] = cs.ID
	}
	ids := make([]uint16, 0, len(names))
	for _, name := range names {
		id, ok := byName[strings.TrimSpace(name)]
		if !ok {
			return nil, fmt.Errorf("unknown cipher suite %q (want a Go name such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", name)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, CheckCipherSuites(ids, minVersion)
}

// CheckCipherSuites reports whether ids can be configured with minVersion:
// each must be a TLS 1.0-1.2 suite known to crypto/tls (TLS 1.3 suites are
// not configurable, so neither is a list with minVersion 1.3), and one that
// Go calls insecure (tls.InsecureCipherSuites) only if minVersion is below
// TLS 1.2, that is for old devices that need it.
func CheckCipherSuites(ids []uint16, minVersion uint16) error {
	if len(ids) == 0 {
		return nil
	}
	if minVersion >= tls.VersionTLS13 {
		return errors.New("cipher suites cannot be chosen for TLS 1.3; they apply to TLS 1.2 and older only")
	}
	for _, id := range ids {
		if cs := suiteByID(tls.CipherSuites(), id); cs != nil {
			if !slices.ContainsFunc(cs.SupportedVersions, func(v uint16) bool { return v < tls.VersionTLS13 }) {
				return fmt.Errorf("cipher suite %s is a TLS 1.3 suite, which cannot be chosen", cs.Name)
			}
			continue
		}
		if cs := suiteByID(tls.InsecureCipherSuites(), id); cs != nil {
			if minVersion >= tls.VersionTLS12 {
				return fmt.Errorf("cipher suite %s is insecure: allowed only with a minimum TLS version below 1.2, for old devices", cs.Name)
			}
			continue
		}
		return fmt.Errorf("unknown cipher suite %#04x", id)
	}
	return nil
}

func suiteByID(suites []*tls.CipherSuite, id uint16) *tls.CipherSuite {
	for _, cs := range suites {
		if cs.ID == id {
			return cs
		}
	}
	return nil
}

// CertReloader holds a certificate and its key, loaded from PEM files, and
// serves them to TLS handshakes through GetCertificate. Reload (on request)
// and ReloadIfChanged (when either file's size or modification time
// changed) load the files again; a pair that fails to load leaves the
// current certificate in use. It is safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	mu                sync.Mutex // serializes loads and guards stamp
	stamp             fileStamp  // of the files when last loaded (or tried)
}

// fileStamp identifies a version of the certificate and key files.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// NewCertReloader loads the certificate (with its chain, PEM) from certFile
// and the private key (PEM) from keyFile. The error names the file that
// cannot be read, or says that the pair does not load (not PEM, or a key
// that does not match the certificate).
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate returns the current certificate; it never fails. It is
// meant for tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Certificate returns the current certificate; its Leaf is set.
func (r *CertReloader) Certificate() *tls.Certificate { return r.cert.Load() }

// Reload loads the files again. On error the current certificate stays in
// use and the error says why the new pair was refused.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := r.stat()
	if err != nil {
		return err
	}
	return r.load(stamp)
}

// ReloadIfChanged loads the files again if their size or modification time
// changed since the last load or attempt, and reports whether it did. A
// pair that fails to load is not tried again until the files change again,
// so a broken pair is reported once, not at every check.
func (r *CertReloader) ReloadIfChanged() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := r.stat()
	if err != nil {
		if r.stamp == (fileStamp{}) {
			return false, nil // already reported
		}
		r.stamp = fileStamp{}
		return true, err
	}
	if stamp == r.stamp {
		return false, nil
	}
	return true, r.load(stamp)
}

// stat returns the stamp of the files (read before the files themselves,
// so a change during a load is seen at the next check).
func (r *CertReloader) stat() (fileStamp, error) {
	cfi, err := os.Stat(r.certFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("TLS certificate: %w", err)
	}
	kfi, err := os.Stat(r.keyFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("TLS key: %w", err)
	}
	return fileStamp{certMod: cfi.ModTime(), keyMod: kfi.ModTime(), certSize: cfi.Size(), keySize: kfi.Size()}, nil
}

// load loads the pair and records stamp; r.mu is held.
func (r *CertReloader) load(stamp fileStamp) error {
	r.stamp = stamp
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&cert)
	return nil
}

// Watch calls ReloadIfChanged every interval until ctx is done, logging
// each reload (Info) and each failure (Error, the current certificate is
// kept).
func (r *CertReloader) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if changed, err := r.ReloadIfChanged(); changed {
			r.logReload(log, "files changed", err)
		}
	}
}

// logReload logs the result of a reload.
func (r *CertReloader) logReload(log *slog.Logger, why string, err error) {
	if err != nil {
		log.Error("TLS certificate reload failed; keeping the current certificate", "trigger", why, "err", err)
		return
	}
	leaf := r.Certificate().Leaf
	log.Info("TLS certificate reloaded", "trigger", why, "subject", leaf.Subject.String(),
		"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
}

// implicitTLSListener turns accepted connections into TLS server
// connections, each with a deadline for the handshake (cleared by the FTP
// server once it reads commands with its own idle deadline).
type implicitTLSListener struct {
	net.Listener
	config  *tls.Config
	timeout time.Duration
}

// Accept returns the next connection, wrapped in TLS; the handshake runs at
// the first read or write.
func (l *implicitTLSListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(l.timeout))
	return tls.Server(conn, l.config), nil
}
