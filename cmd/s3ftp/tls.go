package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/s3ftp/s3ftp/gateway"
)

// validateTLS checks the tls-* keys and ftps-implicit-listen, loads the
// certificate and fills in c.tls; errors name the key.
func (c *loadedConfig) validateTLS() error {
	bad := func(key string, err error) error { return fmt.Errorf("%s: %w", key, err) }
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return bad("tls-cert", errors.New("tls-cert and tls-key must be given together"))
	}
	minVersion, err := gateway.ParseTLSVersion(c.TLSMinVersion)
	if err != nil {
		return bad("tls-min-version", err)
	}
	suites, err := gateway.ParseCipherSuites(c.TLSCipherSuites, minVersion)
	if err != nil {
		return bad("tls-cipher-suites", err)
	}
	if c.TLSCert == "" {
		needCert := errors.New("needs a certificate: set tls-cert and tls-key")
		switch {
		case c.TLSRequired:
			return bad("tls-required", needCert)
		case c.FTPSImplicitListen != "":
			return bad("ftps-implicit-listen", needCert)
		case len(c.TLSCipherSuites) > 0:
			return bad("tls-cipher-suites", needCert)
		case c.TLSMinVersion != defaultConfig(false).TLSMinVersion:
			return bad("tls-min-version", needCert)
		}
		return nil
	}
	if c.FTPSImplicitListen != "" {
		if _, _, err := net.SplitHostPort(c.FTPSImplicitListen); err != nil {
			return bad("ftps-implicit-listen", err)
		}
	}
	for _, f := range []struct{ key, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}} {
		if _, err := os.Stat(f.path); err != nil {
			return bad(f.key, err)
		}
	}
	certs, err := gateway.NewCertReloader(c.TLSCert, c.TLSKey)
	if err != nil {
		return bad("tls-cert, tls-key", err)
	}
	c.tls = gateway.TLSSettings{
		Certificates: certs, MinVersion: minVersion, CipherSuites: suites,
		Required: c.TLSRequired, ImplicitListenAddr: c.FTPSImplicitListen,
	}
	return nil
}

// reloadOnSIGHUP reloads the gateway's TLS certificate on every SIGHUP
// (the gateway logs the outcome) until ctx is done or the returned function
// is called, which waits for the handler to end. Without TLS a SIGHUP is
// logged and ignored, rather than ending the process.
func reloadOnSIGHUP(ctx context.Context, gw *gateway.Server, withTLS bool, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if !withTLS {
					log.Info("SIGHUP: no TLS certificate to reload")
					continue
				}
				_ = gw.ReloadCertificate()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
