package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/internal/wait"
)

func follower(t *testing.T, rs []*raft.Raft) *raft.Raft {
	t.Helper()
	for _, r := range rs {
		if r.State() == raft.Follower {
			return r
		}
	}
	t.Fatal("no follower")
	return nil
}

// startDaemon runs an agent from an HCL configuration on a unix socket in
// dir, with HTTP on a free port.
func startDaemon(t *testing.T, dir, extra string) *Daemon {
	t.Helper()
	src := fmt.Sprintf(`
node        = "f"
recommender = "static"
tick        = "50ms"
lease_ttl   = "600ms"
listen {
  grpc = "unix://%s"
  http = "127.0.0.1:0"
}
log {
  file   = "decisions.jsonl"
  stderr = false
}
%s`, filepath.Join(dir, "agent.sock"), extra)
	path := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
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

// TestLinkOverUnixSocket runs the whole sidecar path over a real unix
// socket: a follower of a real hashicorp/raft cluster streams samples to
// an agent daemon, applies its directives, and a watcher sees every
// decision; metrics and health answer; when the agent goes away the node
// returns to its own timing within the lease, and a new agent on the same
// socket is found again.
func TestLinkOverUnixSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a 3-node hashicorp/raft cluster in-process for seconds; run without -short: go test -run TestLinkOverUnixSocket ./agent")
	}
	const hb = 400 * time.Millisecond
	rs, stop, err := hashicorp.LocalCluster(3, hb)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	f := follower(t, rs)
	ad := hashicorp.New(f, hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: hb / 2})
	ad.Start()
	defer ad.Close()

	dir := t.TempDir()
	d := startDaemon(t, dir, "")
	link := hashicorp.Connect(ad, hashicorp.LinkConfig{Target: d.GRPCAddr(), BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	defer link.Close()

	// A watcher over the same socket.
	conn, err := grpc.NewClient(d.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := nsraftv1.NewAgentClient(conn).Watch(ctx, &nsraftv1.WatchRequest{Replay: true})
	if err != nil {
		t.Fatal(err)
	}
	// static proposes 1s; the default policy moves there by its step
	// limits, and every event is applied, explained and in bounds.
	var last *nsraftv1.DecisionEvent
	for i := 0; i < 12; i++ {
		ev, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Node != "f" || !ev.Live || len(ev.Checks) == 0 || ev.Sample == nil {
			t.Fatalf("event %d: %v", i, ev)
		}
		if ev.DecisionNs < ev.MinNs || ev.DecisionNs > ev.MaxNs {
			t.Fatalf("decision %v outside [%v, %v]", time.Duration(ev.DecisionNs), time.Duration(ev.MinNs), time.Duration(ev.MaxNs))
		}
		last = ev
	}
	if !last.Applied || last.Error != "" {
		t.Fatalf("last event not applied: %v", last)
	}
	wait.For(t, 5*time.Second, "the node to run the decided timeout", func() bool {
		return f.ReloadableConfig().HeartbeatTimeout != hb
	})
	if got := f.ReloadableConfig().HeartbeatTimeout; got <= hb {
		t.Fatalf("static 1s from 400ms should raise the timeout, node runs %v", got)
	}

	// Metrics parse as Prometheus text and count the decisions.
	base := "http://" + d.HTTPAddr()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, name := range []string{"ns_agent_decisions_total", "ns_agent_election_timeout_seconds", "ns_agent_host_connected", "ns_agent_decision_latency_seconds"} {
		if fams[name] == nil {
			t.Fatalf("/metrics lacks %s", name)
		}
	}
	if v := fams["ns_agent_host_connected"].Metric[0].GetGauge().GetValue(); v != 1 {
		t.Fatalf("ns_agent_host_connected = %v", v)
	}
	if n := fams["ns_agent_decision_latency_seconds"].Metric[0].GetHistogram().GetSampleCount(); n == 0 {
		t.Fatal("no decision latency observed")
	}
	for _, p := range []string{"/livez", "/readyz", "/healthz"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	// The log file holds one JSON decision line per decision.
	b, _ := os.ReadFile(filepath.Join(dir, "decisions.jsonl"))
	if n := strings.Count(string(b), `"@message":"decision"`); n < 12 {
		t.Fatalf("log file has %d decision lines", n)
	}

	// The agent stops: the node is back on its own timing within the
	// lease (600ms), and the link keeps trying.
	d.Close()
	stopped := time.Now()
	wait.For(t, 3*time.Second, "the lease to restore the node's timing", func() bool {
		return f.ReloadableConfig().HeartbeatTimeout == hb
	})
	if el := time.Since(stopped); el > 600*time.Millisecond+500*time.Millisecond {
		t.Fatalf("restored after %v, lease is 600ms", el)
	}
	// A new agent on the same socket: the link finds it and decisions resume.
	d2 := startDaemon(t, dir, "")
	defer d2.Close()
	wait.For(t, 10*time.Second, "the link to reconnect", func() bool { return link.Stats().Sessions >= 2 && link.Stats().Connected })
	wait.For(t, 5*time.Second, "decisions to resume", func() bool { return f.ReloadableConfig().HeartbeatTimeout != hb })
}

// TestReloadKeepsOldPolicyOnError: a broken policy file on reload leaves
// the policy in force and says why; a good one replaces it.
func TestReloadKeepsOldPolicyOnError(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.hcl")
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"200ms\"\n  election_max = \"3s\"\n}\n"), 0o644)
	d := startDaemon(t, dir, `policy = "policy.hcl"`)
	defer d.Close()
	if got := d.Agent.Policy().Bounds.ElectionMax; got != 3*time.Second {
		t.Fatalf("max %v", got)
	}
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"-5ms\"\n"), 0o644)
	err := d.Reload()
	if err == nil || !strings.Contains(err.Error(), "policy.hcl:") {
		t.Fatalf("reload of a broken file: %v", err)
	}
	if got := d.Agent.Policy().Bounds.ElectionMax; got != 3*time.Second {
		t.Fatalf("broken reload changed the policy: max %v", got)
	}
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"200ms\"\n  election_max = \"4s\"\n}\n"), 0o644)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := d.Agent.Policy().Bounds.ElectionMax; got != 4*time.Second {
		t.Fatalf("reload did not take: max %v", got)
	}
}

// fakeAgent serves the protocol with a scripted Connect handler.
type fakeAgent struct {
	nsraftv1.UnimplementedAgentServer
	connect func(nsraftv1.Agent_ConnectServer) error
}

func (f *fakeAgent) Connect(s nsraftv1.Agent_ConnectServer) error { return f.connect(s) }

func serveFake(t *testing.T, h func(nsraftv1.Agent_ConnectServer) error) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fake.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	nsraftv1.RegisterAgentServer(srv, &fakeAgent{connect: h})
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return "unix://" + sock
}

func welcome(s nsraftv1.Agent_ConnectServer) error {
	if _, err := s.Recv(); err != nil {
		return err
	}
	return s.Send(&nsraftv1.AgentMessage{Msg: &nsraftv1.AgentMessage_Welcome{Welcome: &nsraftv1.Welcome{TickNs: int64(20 * time.Millisecond), LeaseTtlNs: int64(time.Second)}}})
}

// TestHostSurvivesBadAgents: a missing socket, an agent that never
// answers, one that sends absurd timeouts and a socket speaking garbage
// leave the node on its own timing, in the same term, and the link keeps
// retrying without ever blocking Raft.
func TestHostSurvivesBadAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a 3-node hashicorp/raft cluster in-process for seconds; run without -short: go test -run TestHostSurvivesBadAgents ./agent")
	}
	// Raft's own default timing: the race detector on a shared 2-core
	// machine can stall a 300ms cluster into an election by itself.
	const hb = time.Second
	rs, stop, err := hashicorp.LocalCluster(3, hb)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	f := follower(t, rs)
	term := f.CurrentTerm()

	garbage := filepath.Join(t.TempDir(), "garbage.sock")
	gl, err := net.Listen("unix", garbage)
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	go func() {
		for {
			c, err := gl.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n\x00\xff garbage \x13\x37"))
			c.Close()
		}
	}()

	cases := map[string]string{
		"missing": "unix://" + filepath.Join(t.TempDir(), "nobody.sock"),
		"garbage": "unix://" + garbage,
		"silent": serveFake(t, func(s nsraftv1.Agent_ConnectServer) error {
			if err := welcome(s); err != nil {
				return err
			}
			<-s.Context().Done() // reads samples, never answers
			return nil
		}),
		"absurd": serveFake(t, func(s nsraftv1.Agent_ConnectServer) error {
			if err := welcome(s); err != nil {
				return err
			}
			bad := []int64{-1, 0, int64(10 * time.Hour), int64(time.Millisecond)}
			for seq := uint64(1); ; seq++ {
				if _, err := s.Recv(); err != nil {
					return err
				}
				d := &nsraftv1.Directive{Seq: seq, ElectionTimeoutNs: bad[int(seq)%len(bad)]}
				if err := s.Send(&nsraftv1.AgentMessage{Msg: &nsraftv1.AgentMessage_Directive{Directive: d}}); err != nil {
					return err
				}
				s.Recv() // the Applied
			}
		}),
	}
	for name, target := range cases {
		t.Run(name, func(t *testing.T) {
			ad := hashicorp.New(f, hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: hb / 2, LeaseTTL: 500 * time.Millisecond})
			ad.Start()
			defer ad.Close()
			link := hashicorp.Connect(ad, hashicorp.LinkConfig{Target: target, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
			deadline := time.Now().Add(1500 * time.Millisecond)
			for time.Now().Before(deadline) {
				if got := f.ReloadableConfig().HeartbeatTimeout; got != hb {
					t.Fatalf("node timing changed to %v by a bad agent", got)
				}
				time.Sleep(10 * time.Millisecond)
			}
			closed := make(chan struct{})
			go func() { link.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(3 * time.Second):
				t.Fatal("link.Close blocked")
			}
			st := link.Stats()
			if st.Directives != 0 {
				t.Fatalf("directives applied: %+v", st)
			}
			if name == "absurd" {
				if st.Refused == 0 {
					t.Fatalf("absurd directives were not refused: %+v", st)
				}
			} else if st.LastError == "" {
				t.Fatalf("no error recorded: %+v", st)
			}
			t.Logf("%s: %s", name, st.LastError)
		})
	}
	// A bad agent's only way into the node is its timing, checked above
	// every 10ms. An election on a loaded machine is not the agent's doing
	// (its node's timeout never moved), so it is reported, not failed; the
	// cluster must still have a leader.
	if f.CurrentTerm() != term {
		t.Logf("the node moved from term %d to %d (%v) with its timing unchanged: an election on a loaded machine", term, f.CurrentTerm(), f.State())
	}
	wait.Until(t, 30*time.Second, "a leader after the bad agents", func() (bool, string) {
		for _, r := range rs {
			if r.State() == raft.Leader {
				return true, ""
			}
		}
		return false, ""
	})
}

// TestDashboardOfADeploymentIsReadOnly: `ns-agent run` serves the live
// view on its HTTP listener without fault controls, streams its own
// decisions, and shows only policy files it was configured with.
func TestDashboardOfADeploymentIsReadOnly(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.hcl")
	os.WriteFile(pol, []byte("bounds {\n  election_min = \"200ms\"\n  election_max = \"3s\"\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("secret"), 0o644)
	d := startDaemon(t, dir, `policy = "policy.hcl"`)
	defer d.Close()
	base := "http://" + d.HTTPAddr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "<canvas id=\"timeline\"") {
		t.Fatalf("/: %d %.200s", code, body)
	}
	if code, body := get("/api/config"); code != 200 || !strings.Contains(body, `"controls":false`) {
		t.Fatalf("/api/config: %d %s", code, body)
	}
	resp, err := http.Post(base+"/api/control", "application/json", strings.NewReader(`{"kind":"kill","node":"f"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("control on a read-only dashboard: %d", resp.StatusCode)
	}
	if code, body := get("/policy?pos=" + pol + ":2,3"); code != 200 || !strings.Contains(body, "election_min") {
		t.Fatalf("policy source: %d %.300s", code, body)
	}
	if code, _ := get("/policy?pos=" + filepath.Join(dir, "secret.txt") + ":1,1"); code != 404 {
		t.Fatalf("a file the agent was not configured with was served: %d", code)
	}
	if code, body := get("/policy?pos=configs/policies/default.hcl:6,1"); code != 200 || !strings.Contains(body, "bounds") {
		t.Fatalf("embedded preset: %d", code)
	}

	// A host links; its decisions reach the page's event stream.
	rs, stop, err := hashicorp.LocalCluster(3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ad := hashicorp.New(follower(t, rs), hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: 500 * time.Millisecond})
	ad.Start()
	defer ad.Close()
	link := hashicorp.Connect(ad, hashicorp.LinkConfig{Target: d.GRPCAddr()})
	defer link.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1<<16)
	var got strings.Builder
	for !strings.Contains(got.String(), `"decision_ns"`) {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("event stream ended before a decision: %v\n%s", err, got.String())
		}
		got.Write(buf[:n])
	}
	if !strings.Contains(got.String(), "event: decision") || !strings.Contains(got.String(), `"node":"f"`) {
		t.Fatalf("stream: %.500s", got.String())
	}
}
