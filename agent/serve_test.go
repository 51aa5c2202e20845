package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/syncbuf"
	"github.com/nsraft/nsraft/internal/wait"
)

func waitOutput(t *testing.T, w *syncbuf.Buffer, want string) {
	t.Helper()
	wait.Until(t, 10*time.Second, strconv.Quote(want)+" in the output", func() (bool, string) {
		out := w.String()
		return strings.Contains(out, want), "\n" + out
	})
}

// TestServeReloadsAndStops: SIGHUP with a broken policy keeps the agent
// running on the old one and says why; SIGTERM stops it cleanly and
// removes its socket.
func TestServeReloadsAndStops(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.hcl")
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"200ms\"\n  election_max = \"3s\"\n}\n"), 0o644)
	sock := filepath.Join(dir, "a.sock")
	file := filepath.Join(dir, "agent.hcl")
	os.WriteFile(file, []byte(fmt.Sprintf("node = \"n1\"\npolicy = \"policy.hcl\"\nlisten { grpc = \"unix://%s\" }\n", sock)), 0o644)
	cfg, diags := LoadConfig(file)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var out syncbuf.Buffer
	sig := make(chan os.Signal)
	done := make(chan error, 1)
	go func() { done <- Serve(cfg, &out, &out, sig) }()
	waitOutput(t, &out, "agent n1 ready")
	os.WriteFile(pol, []byte("bounds {\n  election_min = \n"), 0o644)
	sig <- syscall.SIGHUP
	waitOutput(t, &out, "reload failed: keeping the policy and weights in force")
	if !strings.Contains(out.String(), pol+":2,") {
		t.Fatalf("reload error has no position:\n%s", out.String())
	}
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"300ms\"\n}\n"), 0o644)
	sig <- syscall.SIGHUP
	waitOutput(t, &out, `"@message":"reloaded"`)
	sig <- syscall.SIGTERM
	if err := <-done; err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// TestTailFindsAgentByEnvOverTLS: tail follows the agent $NS_AGENT_ADDR
// names, over mutual TLS with its CA, certificate and key files; in plain
// text the agent refuses it.
func TestTailFindsAgentByEnvOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := writeCert(t, dir, "ca", true, nil, nil)
	writeCert(t, dir, "peer", false, ca, caKey)
	os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(`node = "n1"
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
	cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, err := Start(cfg, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := d.GRPCAddr()
	// tail has nothing to print (no host, no decisions): what it says on
	// stderr in three seconds is whether it got through.
	tail := func(o TailOptions) string {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		o.Env, o.Count, o.Replay, o.Color = a, 1, true, "auto"
		var stdout, stderr syncbuf.Buffer
		if err := Tail(ctx, o, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		return stderr.String()
	}
	if got := tail(TailOptions{}); !strings.Contains(got, a) || !strings.Contains(got, "retrying") {
		t.Fatalf("plain text to a TLS agent: %q", got)
	}
	// With the right files the handshake succeeds: on a loaded machine a
	// first attempt may still time out and be retried, but nothing may be
	// refused for its certificates.
	if got := tail(TailOptions{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "peer.pem"),
		KeyFile: filepath.Join(dir, "peer-key.pem")}); strings.Contains(got, "tls") || strings.Contains(got, "certificate") || strings.Contains(got, "handshake") {
		t.Fatalf("mutual TLS with the right files: %q", got)
	}
	// Nothing to follow (no address, no socket) is an error that says so.
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := Tail(ctx, TailOptions{}, nil, nil); !errors.Is(err, ErrNoAgent) || !strings.Contains(err.Error(), "name one with -addr") {
		t.Fatalf("no agent: %v", err)
	}
}
