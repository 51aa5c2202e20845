package agent

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/internal/wait"
)

// externalBinary is a real server built by scripts/<script>, named by the
// environment variable env (CI builds it and sets it). Without it the test
// skips, unless NSRAFT_REQUIRE_<suffix of env> is set.
func externalBinary(t *testing.T, what, env, script string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		require := "NSRAFT_REQUIRE_" + strings.TrimPrefix(env, "NSRAFT_")
		if os.Getenv(require) != "" {
			t.Fatalf("%s is set but %s names no binary", require, env)
		}
		t.Skipf("no %s: run scripts/%s and set %s to the path it prints", what, script, env)
	}
	return p
}

// consulBinary is a real Consul server (scripts/consul-build.sh).
func consulBinary(t *testing.T) string {
	t.Helper()
	return externalBinary(t, "Consul", "NSRAFT_CONSUL", "consul-build.sh")
}

func freeTCPPorts(t *testing.T, n int) []int {
	var ls []net.Listener
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

type consulNode struct {
	http, confDir string
	cmd           *exec.Cmd
}

// startConsul runs three real Consul servers on loopback with
// raft_multiplier 1, each reading a config dir (where a live agent writes
// its fragment).
func startConsul(t *testing.T, bin string) []*consulNode {
	return startConsulWith(t, bin, 3, 1)
}

// startConsulWith runs n servers started at raft_multiplier mult.
func startConsulWith(t *testing.T, bin string, n, mult int) []*consulNode {
	dir := t.TempDir()
	ports := freeTCPPorts(t, 4*n)
	var nodes []*consulNode
	var joins []string
	for i := 0; i < n; i++ {
		joins = append(joins, fmt.Sprintf("-retry-join=127.0.0.1:%d", ports[i*4+2]))
	}
	for i := 0; i < n; i++ {
		nd := filepath.Join(dir, fmt.Sprintf("c%d", i+1))
		conf := filepath.Join(nd, "conf")
		os.MkdirAll(conf, 0o755)
		os.WriteFile(filepath.Join(conf, "base.hcl"), []byte(fmt.Sprintf("performance { raft_multiplier = %d }\n", mult)+"telemetry {\n  prometheus_retention_time = \"60s\"\n  disable_hostname = true\n}\n"), 0o644)
		args := append([]string{"agent", "-server", fmt.Sprintf("-bootstrap-expect=%d", n), "-node", fmt.Sprintf("c%d", i+1), "-bind=127.0.0.1", "-client=127.0.0.1",
			"-data-dir", filepath.Join(nd, "data"), "-config-dir", conf,
			fmt.Sprintf("-http-port=%d", ports[i*4]), fmt.Sprintf("-server-port=%d", ports[i*4+1]),
			fmt.Sprintf("-serf-lan-port=%d", ports[i*4+2]), fmt.Sprintf("-serf-wan-port=%d", ports[i*4+3]),
			"-dns-port=-1", "-grpc-port=-1", "-grpc-tls-port=-1"}, joins...)
		cmd := exec.Command(bin, args...)
		logf, _ := os.Create(filepath.Join(nd, "consul.log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n := &consulNode{http: fmt.Sprintf("http://127.0.0.1:%d", ports[i*4]), confDir: conf, cmd: cmd}
		nodes = append(nodes, n)
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
			}
			logf.Close()
		})
	}
	wait.For(t, 60*time.Second, "a Consul leader", func() bool {
		resp, err := http.Get(nodes[0].http + "/v1/status/leader")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return len(b) > 4
	})
	return nodes
}

// leaderOf returns the Consul server that leads.
func leaderOf(t *testing.T, nodes []*consulNode) (*consulNode, []*consulNode) {
	for i, n := range nodes {
		resp, err := http.Get(n.http + "/v1/agent/self")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `"state":"Leader"`) {
			rest := append(append([]*consulNode(nil), nodes[:i]...), nodes[i+1:]...)
			return n, rest
		}
	}
	t.Fatal("no leader")
	return nil, nil
}

// heartbeats counts the leader's heartbeat RPCs so far
// (consul_raft_replication_heartbeat, summed over peers).
func heartbeats(t *testing.T, n *consulNode) float64 {
	resp, err := http.Get(n.http + "/v1/agent/metrics?format=prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var c float64
	if f := fams["consul_raft_replication_heartbeat"]; f != nil {
		for _, m := range f.GetMetric() {
			c += float64(m.GetSummary().GetSampleCount())
		}
	}
	return c
}

func startConsulAgent(t *testing.T, dir, node, host, extra string) *Daemon {
	src := fmt.Sprintf("node = %q\nrecommender = \"static\"\ntick = \"500ms\"\n%s\nlisten {\n  grpc = \"unix://%s\"\n}\nlog {\n  file = \"decisions.jsonl\"\n  stderr = false\n}\n",
		node, host, filepath.Join(dir, "a.sock"))
	src += extra
	path := filepath.Join(dir, "agent.hcl")
	os.WriteFile(path, []byte(src), 0o644)
	cfg, diags := LoadConfig(path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, err := Start(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestConsulAdvisoryAndLive runs agents beside a real 3-server Consul
// cluster. Advisory (the default): every decision carries the
// raft_multiplier to set and why, and Consul is left alone. Live (opt
// in): the agent writes its fragment and reloads Consul, and the leader's
// heartbeat rate — HeartbeatTimeout/10 — falls with the larger timeout;
// stopping the agent removes the fragment and restores it.
func TestConsulAdvisoryAndLive(t *testing.T) {
	bin := consulBinary(t)
	nodes := startConsul(t, bin)
	leader, followers := leaderOf(t, nodes)

	// Advisory beside a follower.
	dir := t.TempDir()
	d := startConsulAgent(t, dir, "c-follower", fmt.Sprintf("host {\n  kind = \"consul\"\n  address = %q\n}", followers[0].http), "")
	w, cancel := d.Agent.hub.subscribe("", true)
	for i := 0; i < 4; i++ {
		select {
		case ev := <-w.ch:
			if ev.Live || ev.Applied || !strings.Contains(ev.Advice, "raft_multiplier") || ev.Sample.GetRole() != "follower" || ev.Sample.Term == nil {
				t.Fatalf("advisory decision: %v", ev)
			}
			t.Logf("advice: %s (decided %v)", ev.Advice, time.Duration(ev.DecisionNs))
		case <-time.After(10 * time.Second):
			t.Fatal("no decision from the Consul host")
		}
	}
	cancel()
	d.Close()
	if entries, _ := os.ReadDir(followers[0].confDir); len(entries) != 1 {
		t.Fatalf("advisory mode touched Consul's config dir: %v", entries)
	}

	// Live beside the leader, with a policy whose minimum is 2.5s: the
	// agent must put raft_multiplier 3 in force.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte("bounds {\n  election_min = \"2500ms\"\n  election_max = \"10s\"\n}\nhost { kind = \"consul\" }\n"), 0o644)
	frag := filepath.Join(leader.confDir, "zz-ns-agent.hcl")
	rate := func() float64 {
		a := heartbeats(t, leader)
		time.Sleep(3 * time.Second)
		return (heartbeats(t, leader) - a) / 3
	}
	before := rate()
	d = startConsulAgent(t, dir, "c-leader", fmt.Sprintf("policy = \"policy.hcl\"\nhost {\n  kind = \"consul\"\n  address = %q\n  live = true\n  fragment = %q\n}", leader.http, frag), "")
	wait.Until(t, 15*time.Second, "a fragment with raft_multiplier 3", func() (bool, string) {
		b, _ := os.ReadFile(frag)
		return strings.Contains(string(b), "raft_multiplier = 3"), strconv.Quote(string(b))
	})
	time.Sleep(time.Second)
	during := rate()
	// The agent reads the multiplier back from the leader's heartbeats.
	host := d.polled.(*hashicorp.Consul)
	note := wait.Until(t, 20*time.Second, "a read-back of raft_multiplier 3", func() (bool, string) {
		ok, judged, note := host.ReadBack()
		if judged && !ok {
			t.Fatalf("raft_multiplier 3 not confirmed: %s", note)
		}
		return judged, note
	})
	t.Logf("read-back: %s", note)
	d.Close()
	if _, err := os.Stat(frag); !os.IsNotExist(err) {
		t.Fatalf("fragment left after the agent stopped: %v", err)
	}
	time.Sleep(time.Second)
	after := rate()
	t.Logf("leader heartbeats/s: %.1f at raft_multiplier 1, %.1f at 3 (live), %.1f after the agent stopped", before, during, after)
	if !(during < before/2 && after > 2*during) {
		t.Fatalf("heartbeat rate did not follow the multiplier: %.1f → %.1f → %.1f per second", before, during, after)
	}
}

// TestConsulLeaseRefusedByAgent: a real Consul server started at
// raft_multiplier 5 holds a 2.5s lease. An agent in live mode whose
// decision needs multiplier 1 refuses it itself, before any reload, with
// the reason, and puts the least the lease allows (3) in force through a
// reload Consul accepts.
func TestConsulLeaseRefusedByAgent(t *testing.T) {
	bin := consulBinary(t)
	nodes := startConsulWith(t, bin, 1, 5)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte("bounds {\n  election_min = \"1s\"\n  election_max = \"1s\"\n}\nhost { kind = \"consul\" }\n"), 0o644)
	frag := filepath.Join(nodes[0].confDir, "zz-ns-agent.hcl")
	d := startConsulAgent(t, dir, "c1", fmt.Sprintf("policy = \"policy.hcl\"\nhost {\n  kind = \"consul\"\n  address = %q\n  live = true\n  fragment = %q\n}", nodes[0].http, frag), "")
	defer d.Close()
	w, cancel := d.Agent.hub.subscribe("", true)
	defer cancel()
	deadline := time.After(30 * time.Second)
	for refused := 0; refused < 3; {
		select {
		case ev := <-w.ch:
			switch {
			case strings.Contains(ev.Error, "raft_multiplier 1 not reloaded, the leader lease would refuse it") &&
				strings.Contains(ev.Error, "leader lease (2.5s)") && strings.Contains(ev.Error, "3 is the least"):
				refused++
			case strings.Contains(ev.Error, "consul reload"):
				t.Fatalf("Consul refused a reload the agent sent: %s", ev.Error)
			}
		case <-deadline:
			t.Fatal("no refusal by the agent in 30s")
		}
	}
	b, _ := os.ReadFile(frag)
	if !strings.Contains(string(b), "raft_multiplier = 3") {
		t.Fatalf("fragment %q: the least multiplier the lease allows was not put in force", b)
	}
	t.Logf("refused by the agent; in force: raft_multiplier 3")
}
