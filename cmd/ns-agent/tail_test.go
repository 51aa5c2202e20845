//go:build !sidecar

package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tlsFiles writes a CA and a certificate it signs for 127.0.0.1, used as
// both server and client certificate.
func tlsFiles(t *testing.T, dir string) {
	t.Helper()
	gen := func(name string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		kb, _ := x509.MarshalECPrivateKey(key)
		os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
		return cert, key
	}
	ca, caKey := gen("ca", true, nil, nil)
	gen("peer", false, ca, caKey)
}

// TestTailFindsAgentByEnvOverTLS: tail follows the agent NS_AGENT_ADDR
// names, over mutual TLS with its -ca-file, -cert-file and -key-file; in
// plain text the agent refuses it.
func TestTailFindsAgentByEnvOverTLS(t *testing.T) {
	dir := t.TempDir()
	tlsFiles(t, dir)
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte(`node = "n1"
listen {
  grpc = "127.0.0.1:0"
  tls {
    cert_file      = "peer.pem"
    key_file       = "peer-key.pem"
    client_ca_file = "ca.pem"
  }
}
log { stderr = false }
`), 0o644)
	agent := exec.Command(nsAgent(t), "run", "-config", cfg)
	out, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { agent.Process.Kill(); agent.Wait() }()
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`grpc (127\.0\.0\.1:\d+)`)
		for sc := bufio.NewScanner(out); sc.Scan(); {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent printed no address")
	}
	// tail has nothing to print (no host, no decisions): what it says on
	// stderr in three seconds is whether it got through.
	tail := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, nsAgent(t), append([]string{"tail", "-n", "1"}, args...)...)
		cmd.Env = append(os.Environ(), "NS_AGENT_ADDR="+a)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.Run()
		return stderr.String()
	}
	if got := tail(); !strings.Contains(got, a) || !strings.Contains(got, "retrying") {
		t.Fatalf("plain text to a TLS agent: %q", got)
	}
	if got := tail("-ca-file", filepath.Join(dir, "ca.pem"), "-cert-file", filepath.Join(dir, "peer.pem"),
		"-key-file", filepath.Join(dir, "peer-key.pem")); got != "" {
		t.Fatalf("mutual TLS with the right files: %q", got)
	}
}
