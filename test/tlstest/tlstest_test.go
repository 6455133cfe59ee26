package tlstest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
)

// TestWriteFiles: the files form a key pair whose certificate the CA's pool
// verifies for 127.0.0.1 and localhost, with the serial asked for.
func TestWriteFiles(t *testing.T) {
	t.Parallel()
	ca := NewCA(t)
	f := ca.WriteFiles(t, t.TempDir(), 42)
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	if pair.Leaf.SerialNumber.Int64() != 42 {
		t.Errorf("serial %v, want 42", pair.Leaf.SerialNumber)
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		opts := x509.VerifyOptions{Roots: ca.Pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := pair.Leaf.Verify(opts); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(caPEM) {
		t.Errorf("the CA file holds no certificate")
	}
}
