package clustertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it;
// it returns the server's TLS config, a client config trusting the CA,
// and the CA's PEM file.
func testCA(t *testing.T) (server, client *tls.Config, caFile string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return server, client, caFile
}

// An embedded server with TLS: an agent that trusts its CA joins; one
// that does not is refused.
func TestTLSAgents(t *testing.T) {
	server, client, caFile := testCA(t)
	f := newHost(t, farm.Config{Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0", ServerTLS: server, TLS: client, Token: "tls-token"}})
	if !strings.HasPrefix(f.URL(), "tls://") && !strings.HasPrefix(f.URL(), "nats://") {
		t.Fatalf("URL %q", f.URL())
	}
	a := startAgent(t, "tls", f.URL(), nil, "--tls-ca", caFile, "--token", "tls-token")
	waitJoined(t, f, 2, a)
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	plain := startAgent(t, "plain", f.URL(), nil, "--token", "tls-token")
	select {
	case <-plain.done:
	case <-time.After(10 * time.Second):
		t.Fatal("an agent without the CA still runs")
	}
	if plain.err == nil || len(agentWorkers(f, "plain")) != 0 {
		t.Errorf("agent without TLS: exit %v; output:\n%s", plain.err, plain.out.String())
	}
}
