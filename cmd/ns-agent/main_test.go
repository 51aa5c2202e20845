//go:build !sidecar

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/syncbuf"
	"github.com/nsraft/nsraft/internal/wait"
)

// cli runs ns-agent in-process as main does and returns its exit code and
// everything it wrote. The behaviour behind each command is tested in the
// package that owns it; these tests pin the command-line surface.
func cli(args ...string) (string, int) {
	var out syncbuf.Buffer
	code := run(args, &out, &out)
	return out.String(), code
}

func TestHelpListsOnlyWorkingCommands(t *testing.T) {
	out, code := cli("-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	col := -1
	for _, c := range commands() {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "  "+c.name+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("-h does not list %s:\n%s", c.name, out)
			continue
		}
		// Every synopsis starts in the same column.
		if at := strings.Index(line, c.synopsis); col == -1 {
			col = at
		} else if at != col {
			t.Errorf("%s's synopsis starts at column %d, others at %d:\n%s", c.name, at, col, out)
		}
		// Every listed command answers -h with its usage and an example,
		// exit 0, never by running.
		if sub, code := cli(c.name, "-h"); code != 0 || !strings.Contains(sub, "Example") {
			t.Errorf("%s -h exited %d, want 0 and an example: %s", c.name, code, sub)
		}
	}
}

// TestExitCodes: what each command says, and its exit code, for the
// command lines a user gets wrong (or right) before anything runs.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	file := func(name, src string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(src), 0o644)
		return p
	}
	badScen := file("scen.hcl", "scenario \"x\" {\n  network { loss = 3 }\n}\n")
	badBench := file("bench.hcl", "scenario \"x\" {\n  nodes = 3\n  network { delay = \"-1ms\" }\n  link \"n1\" \"n9\" {}\n}\n")
	badPol := file("p.hcl", "bounds {\n  election_min = \"1ms\"\n}\n")
	badRun := file("agent.hcl", "node = \"n1\"\ntick = \"soon\"\nhost { kind = \"zookeeper\" }\n")
	badAdvise := file("advise.hcl", "node = \"m1\"\nhost {\n  kind = \"etcd\"\n  advice_margin = \"lots\"\n}\n")
	nameless := file("nameless.hcl", "listen { grpc = \"127.0.0.1:0\" }\n")
	minMax := file("minmax.hcl", "bounds {\n  election_min = \"2s\"\n  election_max = \"1s\"\n}\n")
	node := []string{"node", "-id", "n1", "-data", dir, "-raft", "127.0.0.1:0", "-http", "127.0.0.1:0", "-agent"}
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("NS_AGENT_ADDR", "")
	t.Setenv("NS_AGENT_NODE", "")
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{nil, 2, []string{"Usage: ns-agent <command>"}},
		{[]string{"-version"}, 0, []string{"ns-agent "}},
		{[]string{"--version"}, 0, []string{"ns-agent "}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`, "Usage: ns-agent"}},
		{[]string{"validate"}, 2, []string{"Usage: ns-agent validate"}},
		{[]string{"validate", "../../configs/policies/default.hcl", "../../configs/agent.hcl"}, 0, []string{"ok"}},
		{[]string{"validate", minMax}, 1, []string{minMax + ":2,18: election_min (2s) is above election_max (1s)"}},
		{[]string{"validate", filepath.Join(dir, "absent.hcl")}, 1, []string{"no such file"}},
		{[]string{"demo", "-nodes", "12"}, 2, []string{"want 3 to 9"}},
		{[]string{"demo", "-scenario", badScen}, 1, []string{badScen + ":2,"}},
		{[]string{"sim"}, 2, []string{"Usage: ns-agent sim", "wan-bursty", "three-regions", "leader-crash-lan"}},
		{[]string{"sim", "-scenario", "stable-lan", "-recommender", "psychic"}, 2, []string{"unknown strategy", "dynatune-raw"}},
		{[]string{"sim", "-scenario", "leader-crash-lan", "-host", "raft"}, 2, []string{`unknown host "raft": have generic, hashicorp, etcd`}},
		{[]string{"bench", "-scenario", badBench}, 1, []string{badBench + ":3,21: delay must not be negative", badBench + ":4,3: unknown node \"n9\""}},
		{[]string{"bench", "-suite", "nope"}, 1, []string{"unknown suite"}},
		{[]string{"bench", "-live", "-host", "generic"}, 2, []string{`-host "generic": with -live, want hashicorp or etcd`}},
		{[]string{"bench", "-live", "-host", "zookeeper"}, 2, []string{`-host "zookeeper": with -live, want hashicorp or etcd`}},
		{[]string{"bench", "-live", "-host", "etcd", "-etcd", ""}, 2, []string{"no etcd binary: give -etcd BIN or set NSRAFT_ETCD"}},
		{append(node, "psychic"), 2, []string{"unknown recommender", "dynatune"}},
		{append(node, "linucb", "-policy", badPol), 1, []string{badPol + ":2,18: election_min 1ms is below hashicorp/raft's hard limit"}},
		{[]string{"run", "-config", badRun}, 1, []string{badRun + ":2,8: tick", badRun + ":3,15: host.kind"}},
		{[]string{"train", "-host", "zookeeper", "-out", "x.nsw"}, 2, []string{`-host: unknown host "zookeeper": have generic, hashicorp, etcd`}},
		{[]string{"run"}, 2, []string{"Usage: ns-agent run"}},
		{[]string{"run", "-config", nameless}, 1, []string{"NS_AGENT_NODE"}},
		{[]string{"tail"}, 1, []string{"no agent found"}},
		{[]string{"advise"}, 2, []string{"Usage: ns-agent advise"}},
		{[]string{"advise", "-endpoint", "http://a:1", "-config", "x.hcl"}, 2, []string{"Usage: ns-agent advise"}},
		{[]string{"advise", "-endpoint", "http://127.0.0.1:1"}, 1, []string{"ns-agent advise:"}},
		{[]string{"advise", "-config", badAdvise}, 1, []string{badAdvise + ":4,"}},
	} {
		out, code := cli(tc.args...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d: %s", tc.args, code, tc.code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output lacks %q: %s", tc.args, w, out)
			}
		}
	}
}

// TestRunTakesNodeFromEnv: the node's name may come from the environment
// (Kubernetes' downward API) instead of the file.
func TestRunTakesNodeFromEnv(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(cfg, []byte("listen { grpc = \"127.0.0.1:0\" }\n"), 0o644)
	t.Setenv("NS_AGENT_NODE", "kv-2")
	var out syncbuf.Buffer
	done := make(chan int)
	go func() { done <- run([]string{"run", "-config", cfg}, &out, &out) }()
	wait.For(t, 30*time.Second, "the agent to be ready", func() bool { return strings.Contains(out.String(), "waiting for node") })
	syscall.Kill(os.Getpid(), syscall.SIGTERM) // run has taken SIGTERM over by now
	if code := <-done; code != 0 || !strings.Contains(out.String(), "agent kv-2 ready") || !strings.Contains(out.String(), "waiting for node kv-2 to connect") {
		t.Fatalf("exit %d; run with NS_AGENT_NODE=kv-2 says:\n%s", code, out.String())
	}
}
