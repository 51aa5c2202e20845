package agentnode

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/exitcode"
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
