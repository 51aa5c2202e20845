package agentnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/internal/wait"
	"github.com/nsraft/nsraft/refcluster"
)

// With a file, only the settings given explicitly override it; without
// one, every setting comes from the options.
func TestNodeConfigMergesFileAndFlags(t *testing.T) {
	f := filepath.Join(t.TempDir(), "node.hcl")
	os.WriteFile(f, []byte("id = \"n1\"\ndata_dir = \"/tmp/n1\"\nraft_addr = \"127.0.0.1:7001\"\nhttp_addr = \"127.0.0.1:8001\"\nheartbeat_timeout = \"700ms\"\n"), 0o644)
	o := Options{ConfigFile: f, Set: map[string]bool{"http": true, "election-timeout": true}, ID: "ignored", HTTPAddr: "127.0.0.1:9001"}
	o.Timing.ElectionTimeout = 2 * time.Second
	cfg, err := o.nodeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID != "n1" || cfg.HTTPAddr != "127.0.0.1:9001" || cfg.Timing.HeartbeatTimeout != 700*time.Millisecond || cfg.Timing.ElectionTimeout != 2*time.Second {
		t.Fatalf("merged %+v", cfg)
	}
	o = Options{ID: "n2", DataDir: "/tmp/n2", Peers: map[string]string{"n2": "127.0.0.1:7002"}, PeerHTTP: map[string]string{"n2": "127.0.0.1:8002"}}
	if cfg, err = o.nodeConfig(); err != nil || cfg.ID != "n2" || len(cfg.Peers) != 1 || cfg.Peers[0].HTTPAddr != "127.0.0.1:8002" {
		t.Fatalf("without a file: %+v, %v", cfg, err)
	}
	for _, o := range []Options{
		{Peers: map[string]string{"n1": "a:1"}, PeerHTTP: map[string]string{"n2": "b:2"}},
		{Peers: map[string]string{"n1": "a:1"}, Dials: map[string]string{"n3": "c:3"}},
	} {
		if _, err := o.nodeConfig(); exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "has no matching -peer") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	os.WriteFile(f, []byte("id = \"n1\"\nheartbeat_timeout = \"fast\"\n"), 0o644)
	var de *exitcode.DiagnosticsError
	if _, err := (Options{ConfigFile: f}).nodeConfig(); !errors.As(err, &de) || !strings.Contains(err.Error(), f+":2,") {
		t.Fatalf("bad file: %v", err)
	}
}

// Bad agent settings are refused before the node starts.
func TestRunRefusesBadAgentSettings(t *testing.T) {
	base := Options{ID: "n1", DataDir: t.TempDir(), RaftAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", LogLevel: "info"}
	pol := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"1ms\"\n}\n"), 0o644)
	for _, tc := range []struct {
		edit func(o *Options)
		code int
		want string
	}{
		{func(o *Options) { o.LogLevel = "loud" }, exitcode.Usage, `unknown -log-level "loud"`},
		{func(o *Options) { o.Recommender, o.AgentAddr = "lstm", "unix:///x" }, exitcode.Usage, "exclude each other"},
		{func(o *Options) { o.Recommender = "psychic" }, exitcode.Usage, "-agent: unknown recommender"},
		{func(o *Options) { o.Recommender, o.PolicyFile = "linucb", pol }, exitcode.Failure, pol + ":2,18: election_min 1ms is below hashicorp/raft's hard limit"},
	} {
		o := base
		tc.edit(&o)
		err := Run(t.Context(), o, nil, nil)
		if exitcode.Code(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q (exit %d)", o, err, tc.want, tc.code)
		}
	}
}

// listenerFD binds a loopback listener and returns its address and a
// descriptor of its own for Run to inherit (Run closes it).
func listenerFD(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return l.Addr().String(), fd
}

// A node given listening sockets serves on them: a single-node cluster
// elects itself and answers on the inherited HTTP listener.
func TestRunServesOnInheritedListeners(t *testing.T) {
	raftAddr, raftFD := listenerFD(t)
	httpAddr, httpFD := listenerFD(t)
	o := Options{ID: "n1", DataDir: t.TempDir(), RaftAddr: raftAddr, HTTPAddr: httpAddr, RaftFD: raftFD, HTTPFD: httpFD,
		Bootstrap: true, Peers: map[string]string{"n1": raftAddr}, LogLevel: "warn"}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o, io.Discard, io.Discard) }()
	st := wait.Until(t, 30*time.Second, "n1 to lead on its inherited listeners", func() (bool, refcluster.Status) {
		var st refcluster.Status
		resp, err := http.Get("http://" + httpAddr + "/status")
		if err != nil {
			return false, st
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&st)
		return st.Role == "leader", st
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v (status %+v)", err, st)
	}
}

// Descriptors that are not inherited listening sockets, or a listener
// that is not on the advertised address, are refused with what is wrong.
func TestRunRefusesBadInheritedListeners(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plainFD, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	otherAddr, otherFD := listenerFD(t)
	base := Options{ID: "n1", DataDir: t.TempDir(), RaftAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:0", LogLevel: "info",
		Peers: map[string]string{"n1": "127.0.0.1:1"}}
	for _, tc := range []struct {
		edit func(o *Options)
		code int
		want string
	}{
		{func(o *Options) { o.RaftFD = 1 }, exitcode.Usage, "-raft-fd 1: want an inherited descriptor, 3 or above"},
		{func(o *Options) { o.HTTPFD = plainFD }, exitcode.Usage, fmt.Sprintf("-http-fd %d: not an inherited listening socket", plainFD)},
		{func(o *Options) { o.RaftFD = otherFD }, exitcode.Failure, "raft listener is on " + otherAddr + ", but the advertised raft address is 127.0.0.1:1"},
	} {
		o := base
		tc.edit(&o)
		err := Run(t.Context(), o, io.Discard, io.Discard)
		if exitcode.Code(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q (exit %d)", o, err, tc.want, tc.code)
		}
	}
}
