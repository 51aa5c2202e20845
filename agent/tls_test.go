package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/internal/wait"
)

// writeCert writes a certificate (and its key) signed by parent, or
// self-signed when parent is nil.
func writeCert(t *testing.T, dir, name string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: isCA, BasicConstraintsValid: true,
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

// TestLinkOverMutualTLS: an agent on TCP with TLS and client
// certificates; a host with a certificate from the same CA links and its
// node follows the decisions; a host without one is refused and its node
// keeps its own timing.
func TestLinkOverMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a 3-node hashicorp/raft cluster in-process for seconds; run without -short: go test -run TestLinkOverMutualTLS ./agent")
	}
	dir := t.TempDir()
	ca, caKey := writeCert(t, dir, "ca", true, nil, nil)
	writeCert(t, dir, "server", false, ca, caKey)
	writeCert(t, dir, "client", false, ca, caKey)
	port := freeTCPPorts(t, 1)[0]
	src := fmt.Sprintf("node = \"f\"\nrecommender = \"static\"\ntick = \"50ms\"\nlisten {\n  grpc = \"127.0.0.1:%d\"\n  tls {\n    cert_file = \"server.pem\"\n    key_file = \"server-key.pem\"\n    client_ca_file = \"ca.pem\"\n  }\n}\nlog {\n  stderr = false\n  file = \"d.jsonl\"\n}\n", port)
	os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(src), 0o644)
	cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, err := Start(cfg, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	const hb = 400 * time.Millisecond
	rs, stop, err := hashicorp.LocalCluster(3, hb)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	f := follower(t, rs)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	// Without a client certificate: refused, the node keeps its timing.
	ad := hashicorp.New(f, hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: hb / 2})
	ad.Start()
	bad := hashicorp.Connect(ad, hashicorp.LinkConfig{Target: d.GRPCAddr(), TLS: &tls.Config{RootCAs: pool}})
	time.Sleep(time.Second)
	bad.Close()
	ad.Close()
	if st := bad.Stats(); st.Directives != 0 || st.LastError == "" || f.ReloadableConfig().HeartbeatTimeout != hb {
		t.Fatalf("a host without a client certificate linked: %+v", st)
	}
	t.Logf("without a client certificate: %s", bad.Stats().LastError)

	// With one: linked, and the node runs the decided timeout.
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ad = hashicorp.New(f, hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: hb / 2})
	ad.Start()
	defer ad.Close()
	good := hashicorp.Connect(ad, hashicorp.LinkConfig{Target: d.GRPCAddr(), TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}})
	defer good.Close()
	wait.For(t, 10*time.Second, "directives over TLS", func() bool { return good.Stats().Directives >= 3 })
	if got := f.ReloadableConfig().HeartbeatTimeout; got == hb {
		t.Fatalf("node still on its own timing %v", got)
	}
	if !strings.HasPrefix(d.GRPCAddr(), "127.0.0.1:") {
		t.Fatalf("addr %s", d.GRPCAddr())
	}
}

// TestDecisionLogRotates: with max_size_mb = 1 the recommendation log
// rolls over into backups and keeps writing; what falls off the last
// backup is said on stderr and counted, and every kept line is whole.
func TestDecisionLogRotates(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a 3-node hashicorp/raft cluster in-process for seconds; run without -short: go test -run TestDecisionLogRotates ./agent")
	}
	dir := t.TempDir()
	// startDaemon's log block has no size: stop it and restart with 1 MB.
	startDaemon(t, dir, "").Close()
	src, _ := os.ReadFile(filepath.Join(dir, "agent.hcl"))
	os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(strings.Replace(string(src), "stderr = false", "stderr = false\n  max_size_mb = 1\n  max_backups = 2", 1)), 0o644)
	cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var stderr syncBuf
	d, err := Start(cfg, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rs, stop, err := hashicorp.LocalCluster(3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ad := hashicorp.New(follower(t, rs), hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: 500 * time.Millisecond})
	ad.Start()
	defer ad.Close()
	for i := 0; i < 2500; i++ { // ~1.3 KB a line
		d.Agent.Step(ad)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "decisions.jsonl.*"))
	if len(matches) != 2 {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("want 2 backups: %v", entries)
	}
	st, err := os.Stat(filepath.Join(dir, "decisions.jsonl"))
	if err != nil || st.Size() == 0 || st.Size() > 1<<20 {
		t.Fatalf("current log: %v %v", st, err)
	}
	for _, f := range append(matches, filepath.Join(dir, "decisions.jsonl")) {
		b, _ := os.ReadFile(f)
		for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if !json.Valid([]byte(line)) {
				t.Fatalf("%s:%d is not a whole record: %.80q", f, i+1, line)
			}
		}
	}
	// 2500 lines of ~1.3 KB overflow three 1 MB files: the loss is said.
	if !strings.Contains(stderr.String(), "log rotation deleted the oldest backup") {
		t.Fatalf("rotation deleted records silently; stderr:\n%s", stderr.String())
	}
	if got := counterValue(t, d.Agent.Metrics(), "ns_agent_log_rotated_away_bytes_total"); got < 1<<19 {
		t.Fatalf("ns_agent_log_rotated_away_bytes_total %v", got)
	}
}

// counterValue reads a counter without labels from the agent's registry.
func counterValue(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			if c := mf.GetMetric()[0].GetCounter(); c != nil {
				return c.GetValue()
			}
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestListenWarnings: an agent whose gRPC listener lets anyone who reaches
// it drive the host says so at start: TLS without client_ca_file, or
// plaintext TCP on an address other than loopback. A unix socket, plaintext
// on loopback and mutual TLS say nothing.
func TestListenWarnings(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 9400} }
	for _, c := range []struct {
		name string
		tls  *TLSFiles
		unix bool
		addr net.Addr
		want string // "" for no warning
	}{
		{"tls without client_ca_file", &TLSFiles{Cert: "c", Key: "k"}, false, tcp("10.0.0.5"), "tls without client_ca_file"},
		{"tls without client_ca_file on loopback", &TLSFiles{Cert: "c", Key: "k"}, false, tcp("127.0.0.1"), "tls without client_ca_file"},
		{"plaintext on every interface", nil, false, tcp("0.0.0.0"), "plaintext on 0.0.0.0:9400"},
		{"plaintext on a routable address", nil, false, tcp("192.168.1.7"), "plaintext on 192.168.1.7:9400"},
		{"plaintext on IPv6 any", nil, false, tcp("::"), "plaintext on [::]:9400"},
		{"plaintext on loopback", nil, false, tcp("127.0.0.1"), ""},
		{"plaintext on IPv6 loopback", nil, false, tcp("::1"), ""},
		{"mutual tls", &TLSFiles{Cert: "c", Key: "k", ClientCA: "ca"}, false, tcp("0.0.0.0"), ""},
		{"unix socket", nil, true, &net.UnixAddr{Name: "/run/ns-agent/a.sock", Net: "unix"}, ""},
	} {
		got := listenWarning(c.tls, c.unix, c.addr)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: warning %q, want one containing %q", c.name, got, c.want)
		}
	}

	// A running agent writes it on its operational log (stderr).
	dir := t.TempDir()
	writeCert(t, dir, "server", false, nil, nil)
	for _, c := range []struct {
		name, listen, want string
	}{
		{"tls without client_ca_file", "  grpc = \"127.0.0.1:0\"\n  tls {\n    cert_file = \"server.pem\"\n    key_file = \"server-key.pem\"\n  }\n",
			"tls without client_ca_file"},
		{"plaintext on loopback", "  grpc = \"127.0.0.1:0\"\n", ""},
	} {
		src := "node = \"f\"\nrecommender = \"static\"\nlisten {\n" + c.listen + "}\nlog {\n  stderr = false\n  file = \"d.jsonl\"\n}\n"
		os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(src), 0o644)
		cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		var ops strings.Builder
		d, err := Start(cfg, &ops)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		out := ops.String()
		warned := strings.Contains(out, `"@level":"warn"`) && strings.Contains(out, "listen.grpc")
		if c.want == "" && warned || c.want != "" && !strings.Contains(out, c.want) {
			t.Errorf("%s: the agent's log says:\n%s", c.name, out)
		}
	}
}
