//go:build !sidecar

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/wait"
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "ns-agent-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ns-agent")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// nsAgent returns the ns-agent binary the process tests run. Under -short
// it is not built and the test is skipped: go test -short ./... runs the
// unit tests only.
func nsAgent(t testing.TB) string {
	t.Helper()
	if binary == "" {
		t.Skip("-short: runs ns-agent processes")
	}
	return binary
}

func runCLI(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, nsAgent(t), args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out), 0
}

func TestHelpListsOnlyWorkingCommands(t *testing.T) {
	out, code := runCLI(t, 10*time.Second, "-h")
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
		at := strings.Index(line, c.synopsis)
		if col == -1 {
			col = at
		}
		if at != col {
			t.Errorf("%s's synopsis starts at column %d, others at %d:\n%s", c.name, at, col, out)
		}
		// Every listed command answers -h with its usage and an example,
		// exit 0, never by running.
		sub, code := runCLI(t, 10*time.Second, c.name, "-h")
		if code != 0 || !strings.Contains(sub, "Example") {
			t.Errorf("%s -h exited %d, want 0 and an example: %s", c.name, code, sub)
		}
	}
	for _, flag := range []string{"-version", "--version"} {
		if v, code := runCLI(t, 10*time.Second, flag); code != 0 || !strings.HasPrefix(v, "ns-agent ") {
			t.Errorf("%s: exit %d: %s", flag, code, v)
		}
	}
	if _, code := runCLI(t, 10*time.Second, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

func TestDemoRunsClusterUnderFaults(t *testing.T) {
	out, code := runCLI(t, 3*time.Minute, "demo", "-duration", "8s", "-nodes", "3", "-seed", "3", "-strategy", "none")
	if code != 0 {
		t.Fatalf("demo exit %d:\n%s", code, out)
	}
	for _, want := range []string{"leader n", "fault: network", "summary", "writes ", "linearizability      linearizable"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoBadFlags(t *testing.T) {
	if out, code := runCLI(t, 10*time.Second, "demo", "-nodes", "12"); code != 2 || !strings.Contains(out, "want 3 to 9") {
		t.Fatalf("exit %d: %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("scenario \"x\" {\n  network { loss = 3 }\n}\n"), 0o644)
	if out, code := runCLI(t, 10*time.Second, "demo", "-scenario", bad); code != 1 || !strings.Contains(out, bad+":2,") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestValidate(t *testing.T) {
	presets, _ := filepath.Glob("../../configs/policies/*.hcl")
	if len(presets) < 5 {
		t.Fatalf("presets: %v", presets)
	}
	if out, code := runCLI(t, 10*time.Second, append([]string{"validate"}, presets...)...); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("presets: exit %d: %s", code, out)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.hcl"), filepath.Join(dir, "b.hcl")
	os.WriteFile(a, []byte("bounds {\n  election_min = \"2s\"\n  election_max = \"1s\"\n}\n"), 0o644)
	os.WriteFile(b, []byte("rule \"r\" {\n  when  = nodes > 2\n  floor = \"1s\"\n}\n"), 0o644)
	out, code := runCLI(t, 10*time.Second, "validate", a, presets[0], b)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{a + ":2,18: election_min (2s) is above election_max (1s)", b + ":2,11: unknown variable \"nodes\""} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if _, code := runCLI(t, 10*time.Second, "validate"); code != 2 {
		t.Errorf("validate without files: exit %d, want 2", code)
	}
	if out, code := runCLI(t, 10*time.Second, "validate", filepath.Join(dir, "absent.hcl")); code != 1 || !strings.Contains(out, "no such file") {
		t.Errorf("missing file: exit %d: %s", code, out)
	}
	// Agent configurations and scenarios are checked as what they are.
	scenarios, _ := filepath.Glob("../../configs/scenarios/*/*.hcl")
	good := append([]string{"validate", "../../configs/agent.hcl"}, scenarios...)
	if out, code := runCLI(t, 10*time.Second, good...); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("agent.hcl and the shipped scenarios: exit %d: %s", code, out)
	}
	ag, sc := filepath.Join(dir, "agent.hcl"), filepath.Join(dir, "scenario.hcl")
	os.WriteFile(ag, []byte("node = \"n1\"\ntick = \"often\"\n"), 0o644)
	os.WriteFile(sc, []byte("scenario \"s\" {\n  nodes = \"five\"\n}\n"), 0o644)
	out, code = runCLI(t, 10*time.Second, "validate", ag, sc)
	if code != 1 {
		t.Fatalf("bad agent config and scenario: exit %d: %s", code, out)
	}
	for _, want := range []string{ag + ":2,8: tick", sc + ":2,11: nodes"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}

	// Hostile files are refused as run refuses them, before any parse:
	// 100,000 nested parentheses (200 KB) overflowed the stack of the
	// parse that tells the kind apart, 30,000 (60 KB) took 421 MB, and a
	// FIFO blocked validate until someone wrote to it.
	deep := func(n int) []byte {
		return []byte("name = \"deep\"\nx = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n")
	}
	huge, nested, fifo := filepath.Join(dir, "huge.hcl"), filepath.Join(dir, "nested.hcl"), filepath.Join(dir, "fifo.hcl")
	os.WriteFile(huge, deep(100000), 0o644)
	os.WriteFile(nested, deep(30000), 0o644)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, 10*time.Second, "validate", huge, nested, fifo)
	if code != 1 {
		t.Fatalf("hostile files: exit %d: %s", code, out)
	}
	for _, want := range []string{huge + ": file too large", nested + ":2,37: nesting deeper than 32 levels", fifo + ": not a regular file"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// TestSimWithoutFlagsListsScenarios: `sim` alone shows how to call it and
// which scenario names exist.
func TestSimWithoutFlagsListsScenarios(t *testing.T) {
	out, code := runCLI(t, 10*time.Second, "sim")
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{"Usage: ns-agent sim", "wan-bursty", "three-regions", "leader-crash-lan"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestSimAndBenchAreDeterministic(t *testing.T) {
	a, code := runCLI(t, time.Minute, "sim", "-scenario", "stable-wan", "-recommender", "linucb", "-seed", "3", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, a)
	}
	b, _ := runCLI(t, time.Minute, "sim", "-scenario", "stable-wan", "-recommender", "linucb", "-seed", "3", "-json")
	c, _ := runCLI(t, time.Minute, "sim", "-scenario", "stable-wan", "-recommender", "linucb", "-seed", "4", "-json")
	if a != b {
		t.Fatalf("same seed, different output:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatal("different seeds, same output")
	}
	args := []string{"bench", "-scenario", "leader-crash-lan", "-scenario", "asymmetric-link", "-seeds", "2", "-recommenders", "random,static,oracle", "-json"}
	x, code := runCLI(t, time.Minute, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, x)
	}
	y, _ := runCLI(t, time.Minute, args...)
	if x != y {
		t.Fatal("bench -json differs between identical runs")
	}
	var out struct {
		Rows   []map[string]any `json:"rows"`
		Totals []map[string]any `json:"totals"`
	}
	if err := json.Unmarshal([]byte(x), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Rows) != 6 {
		t.Fatalf("%d rows, want 2 scenarios × 3 strategies", len(out.Rows))
	}
	for _, k := range []string{"scenario", "recommender", "unavailability_ms", "elections", "unnecessary_elections", "detection_ms_p50", "detection_ms_p99", "commit_ms_mean", "commit_ms_p99", "commit_ms_p999", "commit_ms_max", "gap_closed"} {
		if _, ok := out.Rows[0][k]; !ok {
			t.Errorf("row lacks %q: %v", k, out.Rows[0])
		}
	}
	if len(out.Totals) != 3 || out.Totals[0]["recommender"] != "random" || out.Totals[0]["gap_closed"] != 0.0 || out.Totals[2]["gap_closed"] != 1.0 {
		t.Errorf("totals: %v", out.Totals)
	}
}

func TestBenchTableAndPlots(t *testing.T) {
	dir := t.TempDir()
	out, code := runCLI(t, 2*time.Minute, "bench", "-scenario", "leader-crash-lan", "-seeds", "1", "-recommenders", "random,linucb,linucb-raw,oracle", "-plot", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"×random", "TOTAL", "linucb-raw", "oracle", "X = through the default policy, X-raw = the recommender's own proposal", "p99.9", "gap"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"unavailability.png", "timeline-leader-crash-lan-linucb.png", "timeline-leader-crash-lan-oracle.png"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
			t.Errorf("%s: %d bytes, %v", f, len(b), err)
		}
	}
}

func TestBenchBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("scenario \"x\" {\n  nodes = 3\n  network { delay = \"-1ms\" }\n  link \"n1\" \"n9\" {}\n}\n"), 0o644)
	out, code := runCLI(t, 10*time.Second, "bench", "-scenario", bad)
	if code != 1 || !strings.Contains(out, bad+":3,21: delay must not be negative") || !strings.Contains(out, bad+":4,3: unknown node \"n9\"") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if out, code := runCLI(t, 10*time.Second, "bench", "-suite", "nope"); code != 1 || !strings.Contains(out, "unknown suite") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if out, code := runCLI(t, 10*time.Second, "sim", "-scenario", "stable-lan", "-recommender", "psychic"); code != 2 || !strings.Contains(out, "unknown strategy") || !strings.Contains(out, "dynatune-raw") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// TestDemoWithAgentsAppliesBoundedDecisions runs the demo with an agent
// process beside each node and reads the agents' recommendation logs:
// every tick's decision is logged as a JSON line, applied to the real
// node, and inside the default policy's bounds.
func TestDemoWithAgentsAppliesBoundedDecisions(t *testing.T) {
	out, code := runCLI(t, 3*time.Minute, "demo", "-duration", "8s", "-nodes", "3", "-strategy", "linucb", "-keep")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "agent timeouts now") || !strings.Contains(out, "linearizability      linearizable") {
		t.Fatalf("summary:\n%s", out)
	}
	i := strings.Index(out, "data and logs")
	if i < 0 {
		t.Fatalf("no data dir in:\n%s", out)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(out[i:], "\n", 2)[0], "data and logs"))
	defer os.RemoveAll(dir)
	for _, id := range []string{"n1", "n2", "n3"} {
		b, err := os.ReadFile(filepath.Join(dir, "agents", id+".decisions.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		decisions := 0
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, `"@message":"decision"`) {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %v: %s", id, err, line)
			}
			d := rec["decision_ms"].(float64)
			// The demo kills nodes (its faults) and stops each node
			// before its agent: a decision in flight then finds its host
			// gone, and says so; every other one is applied.
			gone := rec["error"] == "the host disconnected before acknowledging"
			if d < 150 || d > 5000 || (rec["applied"] != true && !gone) || rec["recommender"] != "linucb" {
				t.Fatalf("%s: decision outside the default policy or not applied: %s", id, line)
			}
			if !gone {
				decisions++
			}
		}
		// 8s at a 100ms tick, after start-up: dozens of applied decisions.
		if decisions < 30 {
			t.Fatalf("%s logged %d decisions", id, decisions)
		}
	}
}

func TestNodeAgentBadInput(t *testing.T) {
	if out, code := runCLI(t, 10*time.Second, "node", "-id", "n1", "-data", t.TempDir(), "-raft", "127.0.0.1:0", "-http", "127.0.0.1:0", "-agent", "psychic"); code != 2 || !strings.Contains(out, "unknown recommender") || !strings.Contains(out, "dynatune") {
		t.Fatalf("exit %d: %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(bad, []byte("bounds {\n  election_min = \"1ms\"\n}\n"), 0o644)
	out, code := runCLI(t, 10*time.Second, "node", "-id", "n1", "-data", t.TempDir(), "-raft", "127.0.0.1:0", "-http", "127.0.0.1:0", "-agent", "linucb", "-policy", bad)
	if code != 1 || !strings.Contains(out, bad+":2,18: election_min 1ms is below hashicorp/raft's hard limit") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestRunBadConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(bad, []byte("node = \"n1\"\ntick = \"soon\"\nhost { kind = \"zookeeper\" }\n"), 0o644)
	out, code := runCLI(t, 10*time.Second, "run", "-config", bad)
	if code != 1 || !strings.Contains(out, bad+":2,8: tick") || !strings.Contains(out, bad+":3,15: host.kind") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if out, code := runCLI(t, 10*time.Second, "run"); code != 2 {
		t.Fatalf("run without -config: exit %d: %s", code, out)
	}
	// tail with no -addr looks for agents' sockets; none is an error.
	tail := exec.Command(nsAgent(t), "tail")
	tail.Env = append(os.Environ(), "TMPDIR="+t.TempDir(), "NS_AGENT_ADDR=")
	b, err := tail.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "no agent found") {
		t.Fatalf("tail without agents: %v: %s", err, b)
	}

	// The node's name may come from the environment (Kubernetes' downward
	// API) instead of the file; with neither, run says where to set it.
	nameless := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(nameless, []byte("listen { grpc = \"127.0.0.1:0\" }\n"), 0o644)
	run := exec.Command(nsAgent(t), "run", "-config", nameless)
	run.Env = append(os.Environ(), "NS_AGENT_NODE=")
	b, err = run.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "NS_AGENT_NODE") {
		t.Fatalf("run without a node name: %v: %s", err, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	run = exec.CommandContext(ctx, nsAgent(t), "run", "-config", nameless)
	run.Env = append(os.Environ(), "NS_AGENT_NODE=kv-2")
	b, _ = run.CombinedOutput()
	if !strings.Contains(string(b), "agent kv-2 ready") || !strings.Contains(string(b), "waiting for node kv-2 to connect") {
		t.Fatalf("run with NS_AGENT_NODE=kv-2 says:\n%s", b)
	}
}

// TestRunReloadsAndStops: SIGHUP with a broken policy keeps the agent
// running on the old one and says why; SIGTERM stops it cleanly and
// removes its socket.
func TestRunReloadsAndStops(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.hcl")
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"200ms\"\n  election_max = \"3s\"\n}\n"), 0o644)
	sock := filepath.Join(dir, "a.sock")
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf("node = \"n1\"\npolicy = \"policy.hcl\"\nlisten { grpc = \"unix://%s\" }\n", sock)), 0o644)
	var out syncWriter
	cmd := exec.Command(nsAgent(t), "run", "-config", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitOutput(t, &out, "agent n1 ready")
	os.WriteFile(pol, []byte("bounds {\n  election_min = \n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitOutput(t, &out, "reload failed: keeping the policy and weights in force")
	if !strings.Contains(out.String(), pol+":2,") {
		t.Fatalf("reload error has no position:\n%s", out.String())
	}
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"300ms\"\n}\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitOutput(t, &out, `"@message":"reloaded"`)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func waitOutput(t *testing.T, w *syncWriter, want string) {
	t.Helper()
	wait.Until(t, 10*time.Second, strconv.Quote(want)+" in the output", func() (bool, string) {
		out := w.String()
		return strings.Contains(out, want), "\n" + out
	})
}

// TestBenchLiveQuick runs the live benchmark's quick mode as CI does: real
// node and agent processes under toxiproxy faults, each history checked
// with porcupine; any violation fails the run.
func TestBenchLiveQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two real clusters")
	}
	out, code := runCLI(t, 5*time.Minute, "bench", "-live", "-quick")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.Count(out, " linearizable") < 2 || strings.Count(out, "| yes |") != 2 || !strings.Contains(out, "| wan-bursty | lstm |") {
		t.Fatalf("output:\n%s", out)
	}
}

// advise: usage errors exit 2; a cluster that cannot be read exits 1 and
// says which endpoint; a bad agent file is reported with its position.
func TestAdviseErrors(t *testing.T) {
	if out, code := runCLI(t, 10*time.Second, "advise"); code != 2 || !strings.Contains(out, "Usage: ns-agent advise") {
		t.Fatalf("no arguments: exit %d: %s", code, out)
	}
	if out, code := runCLI(t, 10*time.Second, "advise", "-endpoint", "http://a:1", "-config", "x.hcl"); code != 2 {
		t.Fatalf("both: exit %d: %s", code, out)
	}
	if out, code := runCLI(t, 60*time.Second, "advise", "-endpoint", "http://127.0.0.1:1"); code != 1 || !strings.Contains(out, "ns-agent advise:") {
		t.Fatalf("unreachable: exit %d: %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(bad, []byte("node = \"m1\"\nhost {\n  kind = \"etcd\"\n  advice_margin = \"lots\"\n}\n"), 0o644)
	if out, code := runCLI(t, 10*time.Second, "advise", "-config", bad); code != 1 || !strings.Contains(out, bad+":4,") {
		t.Fatalf("bad file: exit %d: %s", code, out)
	}
}
