package refcluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nsraft/nsraft/internal/wait"
)

// timeouts reads every running node's HeartbeatTimeout (ms) and term.
func timeouts(t *testing.T, c *Cluster) (map[string]int64, map[string]uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hb, terms := map[string]int64{}, map[string]uint64{}
	for _, id := range c.IDs() {
		st, err := c.Status(ctx, id)
		if err != nil {
			t.Fatalf("status %s: %v", id, err)
		}
		hb[id], terms[id] = st.HeartbeatTimeoutMS, st.Term
	}
	return hb, terms
}

// pollUntil reads the nodes' timeouts until ok holds, checking
// on every read that each value is within [lo, hi] ms.
func pollUntil(t *testing.T, c *Cluster, d time.Duration, lo, hi int64, what string, ok func(map[string]int64) bool) map[string]int64 {
	t.Helper()
	return wait.Until(t, d, what, func() (bool, map[string]int64) {
		hb, _ := timeouts(t, c)
		for id, v := range hb {
			if v < lo || v > hi {
				t.Fatalf("%s runs %dms, outside the policy's [%d, %d]ms", id, v, lo, hi)
			}
		}
		return ok(hb), hb
	})
}

func all(hb map[string]int64, f func(int64) bool) bool {
	for _, v := range hb {
		if !f(v) {
			return false
		}
	}
	return true
}

// TestAgentsSteerRealNodes runs three node processes, each linked over a
// unix socket to its own `ns-agent run` process (lstm through the default
// policy), with every Raft link through toxiproxy. The timeouts follow
// injected latency up and back down, always inside the policy's bounds;
// a SIGKILLed or SIGSTOPped agent hands its node back to the node's own
// timing within the lease and causes no election; a restarted agent is
// found again. tail and /metrics serve the live agents.
func TestAgentsSteerRealNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes")
	}
	dir := t.TempDir()
	if d := os.Getenv("NSRAFT_KEEP"); d != "" {
		dir = d
	}
	mesh := NewMesh()
	defer mesh.Close()
	ids := []string{"n1", "n2", "n3"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agents, err := StartAgents(ctx, AgentsConfig{Binary: nsAgent(t), Dir: dir + "/agents", IDs: ids, Recommender: "lstm",
		Tick: 100 * time.Millisecond, LeaseTTL: time.Second, HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer agents.Stop()
	c, err := Start(ctx, ClusterConfig{Nodes: 3, Binary: nsAgent(t), Dir: dir + "/nodes", Dial: mesh.Dial,
		ExtraArgs: func(id string) []string { return []string{"-agent-addr", agents.Socket(id)} }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	waitLeader(t, c)

	// The embedded policy: [100ms, 5s], and hashicorp's 500ms leader lease
	// is a floor. The nodes' own timing is hashicorp's 1s.
	const lo, hi, own = 500, 5000, 1000
	calm := pollUntil(t, c, 30*time.Second, lo, hi, "calm loopback to bring every timeout to 550ms or less",
		func(hb map[string]int64) bool { return all(hb, func(v int64) bool { return v <= 550 }) })
	t.Logf("calm: %v", calm)

	// 200±150ms each way on every link. hashicorp/raft sends a follower's
	// next heartbeat only once the last one is answered, so heartbeats now
	// arrive 300-450ms apart, near the 500ms timeout; the RTT floor (the
	// p99 round trip of the last 2s, up to 700ms) must lift each node above
	// it. Each node's floor follows its own few probes, so each is checked
	// on its own: every node must reach 560ms or more.
	for _, l := range mesh.Links() {
		if err := mesh.SetLink(l[0], l[1], LinkFault{Latency: 200 * time.Millisecond, Jitter: 150 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	slow := map[string]int64{}
	pollUntil(t, c, 20*time.Second, lo, hi, "injected latency to raise every node's timeout to 560ms or more",
		func(hb map[string]int64) bool {
			for id, v := range hb {
				if v >= 560 && slow[id] == 0 {
					slow[id] = v
				}
			}
			return len(slow) == len(hb)
		})
	t.Logf("latency 200±150ms: %v", slow)
	for _, l := range mesh.Links() {
		if err := mesh.SetLink(l[0], l[1], LinkFault{}); err != nil {
			t.Fatal(err)
		}
	}
	back := pollUntil(t, c, 45*time.Second, lo, hi, "timeouts to fall back to 550ms or less once latency is gone",
		func(hb map[string]int64) bool { return all(hb, func(v int64) bool { return v <= 550 }) })
	t.Logf("latency removed: %v", back)

	// tail follows a live agent.
	out, err := exec.Command(nsAgent(t), "tail", "-addr", agents.Socket("n1"), "-n", "3", "-color", "never").CombinedOutput()
	if err != nil || strings.Count(string(out), "n1 ") < 3 || !strings.Contains(string(out), "→") {
		t.Fatalf("tail: %v\n%s", err, out)
	}
	// /metrics scrapes as Prometheus text, passes promlint and shows the
	// host's Raft: role, term, elections and heartbeat gap.
	resp, err := http.Get("http://" + agents.HTTPAddr("n1") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(scrape))
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	for _, name := range []string{"ns_agent_decisions_total", "ns_agent_raft_role", "ns_agent_raft_term",
		"ns_agent_raft_elections_total", "ns_agent_heartbeat_gap_seconds", "ns_agent_build_info", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	problems, err := promlint.New(bytes.NewReader(scrape)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	// Agent failures: each leaves its node on its own timing within the
	// lease (1s, plus the link's 250ms answer deadline) and no election.
	for _, fail := range []struct {
		name      string
		do, undo  func(id string) error
		afterUndo string
	}{
		{"SIGKILL", agents.Kill, func(id string) error { return agents.Restart(ctx, id) }, "restarted"},
		{"SIGSTOP", agents.Pause, agents.Resume, "resumed"},
	} {
		leader, _ := waitLeader(t, c)
		id := leader // the hardest case: the leader's agent
		_, terms := timeouts(t, c)
		if err := fail.do(id); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		pollUntil(t, c, 5*time.Second, lo, hi, fmt.Sprintf("%s of %s's agent to restore its own timing", fail.name, id),
			func(hb map[string]int64) bool { return hb[id] == own })
		took := time.Since(start)
		if took > 2500*time.Millisecond {
			t.Fatalf("%s: restored after %v; lease 1s", fail.name, took)
		}
		t.Logf("%s of %s's agent: own timing back after %v", fail.name, id, took.Round(10*time.Millisecond))
		time.Sleep(2 * time.Second)
		_, now := timeouts(t, c)
		for n, term := range now {
			if term != terms[n] {
				t.Fatalf("%s of %s's agent: %s moved from term %d to %d", fail.name, id, n, terms[n], term)
			}
		}
		if err := fail.undo(id); err != nil {
			t.Fatal(err)
		}
		pollUntil(t, c, 15*time.Second, lo, hi, fmt.Sprintf("the %s agent of %s to steer again", fail.afterUndo, id),
			func(hb map[string]int64) bool { return hb[id] != own })
	}
}

// TestAgentRestartMovesOffATakenMetricsPort kills an agent, lets another
// process take its /metrics port while it is down (what a parallel test
// binding port 0 can do), and restarts it: the agent must come back on
// another port, with the same recommender, and serve /metrics there.
func TestAgentRestartMovesOffATakenMetricsPort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts an agent process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agents, err := StartAgents(ctx, AgentsConfig{Binary: nsAgent(t), Dir: t.TempDir(), IDs: []string{"n1"}, Recommender: "jacobson", HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer agents.Stop()
	old := agents.HTTPAddr("n1")
	if err := agents.Kill("n1"); err != nil {
		t.Fatal(err)
	}
	thief, err := net.Listen("tcp", old)
	if err != nil {
		t.Fatalf("taking the dead agent's port %s: %v", old, err)
	}
	defer thief.Close()
	if err := agents.Restart(ctx, "n1"); err != nil {
		t.Fatalf("restart with its port taken: %v", err)
	}
	now := agents.HTTPAddr("n1")
	if now == old || now == "" {
		t.Fatalf("metrics address %q after the restart, %q before", now, old)
	}
	cfg, err := os.ReadFile(agents.ConfigFile("n1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `recommender = "jacobson"`) || !strings.Contains(string(cfg), now) {
		t.Fatalf("rewritten configuration lost the recommender or the new port:\n%s", cfg)
	}
	resp, err := http.Get("http://" + now + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ns_agent_build_info") {
		t.Fatalf("GET /metrics on %s: %s\n%.300s", now, resp.Status, body)
	}
}
