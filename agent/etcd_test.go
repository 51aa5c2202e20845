package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nsraft/nsraft/adapter/etcd"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/internal/wait"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/refcluster"
)

// etcdBinary is a real etcd server (scripts/etcd-build.sh).
func etcdBinary(t *testing.T) string {
	t.Helper()
	return externalBinary(t, "etcd", "NSRAFT_ETCD", "etcd-build.sh")
}

func startEtcd(t *testing.T, mesh *refcluster.Mesh) *refcluster.EtcdCluster {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := refcluster.StartEtcd(ctx, refcluster.EtcdConfig{Binary: etcdBinary(t), Dir: t.TempDir(), Members: 3, Mesh: mesh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	return c
}

var electionFlag = regexp.MustCompile(`--election-timeout=(\d+)`)

// startEtcdAgents starts an agent (ns-agent run's daemon) beside each
// member, with extra lines in its host block.
func startEtcdAgents(t *testing.T, c *refcluster.EtcdCluster, host string) []*Daemon {
	var daemons []*Daemon
	for _, m := range c.Members {
		dir := t.TempDir()
		src := fmt.Sprintf("node = %q\nrecommender = \"static\"\ntick = \"100ms\"\nhost {\n  kind = \"etcd\"\n  address = %q\n%s\n}\nlisten { grpc = \"unix://%s\" }\nlog {\n  file = \"d.jsonl\"\n  stderr = false\n}\n",
			m.Name, m.ClientURL, host, filepath.Join(dir, "a.sock"))
		os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(src), 0o644)
		cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		d, err := Start(cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		daemons = append(daemons, d)
	}
	return daemons
}

// TestEtcdAdvisoryFollowsLatency runs an agent beside each member of a
// real etcd v3.5 cluster (advisory: etcd cannot change its timing while
// running), with a short evidence horizon and period. Calm, the advised
// --election-timeout is at most etcd's 1000ms; with 300ms injected on every
// member's peer traffic it rises above it; every event is inside the policy's bounds and
// carries the advice. (etcd observes each pair's smoothed round trip, whose
// moving average takes minutes to decay, once every 30s: the advice's fall
// after the latency goes is too slow for a CI test.)
func TestEtcdAdvisoryFollowsLatency(t *testing.T) {
	mesh := refcluster.NewMesh()
	defer mesh.Close()
	c := startEtcd(t, mesh)
	daemons := startEtcdAgents(t, c, `  advice_every = "1s"
  advice_min_evidence = "3s"
  advice_horizon = "10m"
  advice_period = "1s"`)
	// recommended follows every decision of every agent and returns the
	// smallest recommended election timeout, checking each event.
	var mu sync.Mutex
	latest := map[string]int{}
	for _, d := range daemons {
		w, cancel := d.Agent.hub.subscribe("", false)
		defer cancel()
		go func() {
			for ev := range w.ch {
				check := func(ev *nsraftv1.DecisionEvent) {
					if ev.Live || ev.DecisionNs < ev.MinNs || ev.DecisionNs > ev.MaxNs || len(ev.Checks) == 0 || ev.Advice == "" {
						t.Errorf("decision: %v", ev)
					}
				}
				check(ev)
				if m := electionFlag.FindStringSubmatch(ev.Advice); m != nil && !strings.Contains(ev.Advice, "gathering") {
					v, _ := strconv.Atoi(m[1])
					if v < int(ev.MinNs/1e6) || v > int(ev.MaxNs/1e6) {
						t.Errorf("advice outside the policy's bounds: %s", ev.Advice)
					}
					mu.Lock()
					latest[ev.Node] = v
					mu.Unlock()
				}
			}
		}()
	}
	waitAll := func(what string, ok func(int) bool) map[string]int {
		return wait.Until(t, 120*time.Second, what, func() (bool, map[string]int) {
			mu.Lock()
			defer mu.Unlock()
			good := len(latest) == 3
			snap := map[string]int{}
			for k, v := range latest {
				snap[k] = v
				good = good && ok(v)
			}
			return good, snap
		})
	}
	// Calm loopback: five heartbeats of 100ms (500ms) when the machine is
	// idle; scheduling delay on a loaded one counts as round trips and may
	// raise it, up to etcd's own 1000ms.
	calm := waitAll("at most etcd's own 1000ms to be advised", func(v int) bool { return v <= 1000 })
	t.Logf("calm: %v", calm)
	for _, m := range c.Members {
		mesh.SetLink(refcluster.Inbound, m.Name, refcluster.LinkFault{Latency: 300 * time.Millisecond})
	}
	slow := waitAll("300ms on the peer links to raise the advice", func(v int) bool { return v > 1000 })
	t.Logf("300ms on every member's peer traffic: %v", slow)
	for _, d := range daemons {
		t.Logf("%s: %s", d.cfg.Node, d.polled.(*etcd.Server).Recommendation().Text())
	}
	// The fall back is not waited for here: etcd's smoothed round trips
	// take minutes to decay (TestAdviserStable covers the adviser moving
	// down).
}

// TestEtcdCalmStable is the calm, loaded machine in short: a calm
// 3-member cluster with an agent beside each, hand-off enabled, for 30s
// on whatever load the machine has. No agent hands leadership off; the
// advice changes at most once (from the flags as started to evidence of
// them), the agents give the same flags, and the advice metric and log
// line appear only on changes. The 10-minute run is docs/etcd.md's.
func TestEtcdCalmStable(t *testing.T) {
	c := startEtcd(t, nil)
	daemons := startEtcdAgents(t, c, `  handoff = true
  advice_every = "2s"
  advice_min_evidence = "5s"`)
	time.Sleep(30 * time.Second)
	var flags []string
	for _, d := range daemons {
		srv := d.polled.(*etcd.Server)
		r := srv.Recommendation()
		flags = append(flags, r.Flags.String())
		m := metricValue(t, d, "ns_agent_advice_changes_total")
		t.Logf("%s: %d hand-offs, %d advice changes, %v advice log lines: %s", d.cfg.Node, srv.Handoffs(), srv.AdviceChanges(), m, r.Text())
		if srv.Handoffs() != 0 {
			t.Errorf("%s handed leadership off on a calm cluster", d.cfg.Node)
		}
		if !r.Enough {
			t.Errorf("%s: no evidence after 30s: %s", d.cfg.Node, r.Text())
		}
		if srv.AdviceChanges() > 1 {
			t.Errorf("%s: the advised flags changed %d times", d.cfg.Node, srv.AdviceChanges())
		}
		// Log lines: gathering, evidence for the flags in force, and at
		// most the one change.
		if m > 3 {
			t.Errorf("%s: the advice was logged %v times", d.cfg.Node, m)
		}
	}
	if flags[0] != flags[1] || flags[1] != flags[2] {
		t.Errorf("the agents disagree: %v", flags)
	}
	// ns-agent advise, one-shot, gives the same flags.
	cfg := *daemons[0].cfg
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec, rd, err := Advise(ctx, &cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rd.ByMember) != 3 || rec.Flags.String() != flags[0] {
		t.Errorf("advise read %d members and says %s; the agents %s", len(rd.ByMember), rec.Text(), flags[0])
	}
	t.Logf("advise: %s", rec.Text())
}

// metricValue sums a metric's series on an agent's registry.
func metricValue(t *testing.T, d *Daemon, name string) float64 {
	fams, err := d.Agent.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

// TestEtcdLeaderHandoff degrades the leader of a real etcd cluster — the
// round trip into it grows to 300ms each way, then it stalls (SIGSTOP)
// for three election timeouts — while a client writes continuously. With
// hand-off enabled the agent beside the leader moves leadership away as
// the latency rises, so the stall hits a follower; without it, the stall
// hits the leader and the cluster elects after a timeout. Writes keep
// being served, and hand-off leaves fewer timeout elections; the longest
// write stall of each is reported.
func TestEtcdLeaderHandoff(t *testing.T) {
	etcdBinary(t) // skip here, not only in the subtests, when there is none
	run := func(t *testing.T, handoff bool) (timeoutElections, handoffs int, stall time.Duration) {
		mesh := refcluster.NewMesh()
		defer mesh.Close()
		c := startEtcd(t, mesh)
		var urls []string
		for _, m := range c.Members {
			urls = append(urls, m.ClientURL)
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: urls, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		leaderOf := func() (*refcluster.EtcdMember, uint64) {
			for i := 0; i < 100; i++ {
				for _, m := range c.Members {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					st, err := cli.Status(ctx, m.ClientURL)
					cancel()
					if err == nil && st.Leader == st.Header.MemberId {
						return m, st.RaftTerm
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Fatal("no leader")
			return nil, 0
		}
		leader, term0 := leaderOf()

		// The agent beside the leader.
		srv, err := etcd.NewServer(context.Background(), etcd.ServerConfig{Endpoint: leader.ClientURL,
			Handoff: etcd.HandoffConfig{Enabled: handoff, Cooldown: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		rec, _ := model.New("static", model.Options{})
		a := New(Config{Node: leader.Name, HostKind: "etcd", Recommender: rec})
		// Every announcement and move, with its evidence, goes to the
		// test log.
		w, wcancel := a.hub.subscribe("", false)
		defer wcancel()
		var plannedAt, movedAt atomic.Int64 // from the Watch stream's typed hand-off field
		go func() {
			last := ""
			for ev := range w.ch {
				if ho := ev.GetHandoff(); ho != nil {
					if ho.Planned && plannedAt.Load() == 0 {
						plannedAt.Store(ev.AtUnixNano)
					}
					if ho.Moves > 0 && movedAt.Load() == 0 {
						movedAt.Store(ev.AtUnixNano)
					}
				}
				for _, mark := range []string{"hand-off planned", "moved leadership", "hand-off held", "hand-off to"} {
					if i := strings.Index(ev.Advice, mark); i >= 0 {
						if note := ev.Advice[i:]; note != last {
							t.Logf("%s %s", time.Unix(0, ev.AtUnixNano).Format("15:04:05.000"), note)
							last = note
						}
						break
					}
				}
			}
		}()
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go a.Run(ctx, srv)

		// A writer: its longest gap between acknowledged writes is the
		// stall clients felt.
		var longest atomic.Int64
		var failed atomic.Int64
		wctx, wstop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := time.Now()
			for i := 0; wctx.Err() == nil; i++ {
				// A short deadline: a request stuck on a stalled member
				// is retried on the next endpoint (the client's
				// balancer rotates), so the longest gap measures the
				// cluster, not one connection.
				pctx, cancel := context.WithTimeout(wctx, 400*time.Millisecond)
				_, err := cli.Put(pctx, "k", strconv.Itoa(i))
				cancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				now := time.Now()
				if g := now.Sub(last); g > time.Duration(longest.Load()) {
					longest.Store(int64(g))
				}
				last = now
				time.Sleep(10 * time.Millisecond)
			}
		}()
		time.Sleep(3 * time.Second) // probes establish the healthy round trips

		// Degrade: latency into the leader, rising.
		for _, l := range []time.Duration{100, 200, 300} {
			mesh.SetLink(refcluster.Inbound, leader.Name, refcluster.LinkFault{Latency: l * time.Millisecond})
			time.Sleep(3 * time.Second)
		}
		// The slow links stay until the agent has moved leadership, for
		// at most 15s more (a loaded machine slows its judgement), and
		// for 3s without hand-off.
		hold := time.Now().Add(3 * time.Second)
		if handoff {
			hold = time.Now().Add(15 * time.Second)
		}
		for time.Now().Before(hold) && srv.Handoffs() == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		// Then it stalls for three election timeouts.
		c.Pause(leader.Name)
		time.Sleep(3 * time.Second)
		c.Resume(leader.Name)
		mesh.SetLink(refcluster.Inbound, leader.Name, refcluster.LinkFault{})
		time.Sleep(3 * time.Second)
		wstop()
		wg.Wait()
		_, term1 := leaderOf()
		handoffs = srv.Handoffs()
		if handoffs > 0 {
			// The stream announced the move before it was made.
			if p, m := plannedAt.Load(), movedAt.Load(); p == 0 || m == 0 || p >= m {
				t.Errorf("Watch: hand-off planned at %d, made at %d", p, m)
			} else {
				t.Logf("announced on the Watch stream %v before the move", time.Duration(m-p).Round(time.Millisecond))
			}
		}
		timeoutElections = int(term1-term0) - handoffs
		t.Logf("hand-off %v: terms %d → %d, %d hand-offs, %d timeout elections, longest write stall %v, %d failed writes",
			handoff, term0, term1, handoffs, timeoutElections, time.Duration(longest.Load()).Round(time.Millisecond), failed.Load())
		return timeoutElections, handoffs, time.Duration(longest.Load())
	}
	var off, on struct {
		el, ho int
		stall  time.Duration
	}
	t.Run("without", func(t *testing.T) { off.el, off.ho, off.stall = run(t, false) })
	t.Run("with", func(t *testing.T) { on.el, on.ho, on.stall = run(t, true) })
	if on.ho < 1 {
		t.Fatal("the agent never handed leadership off")
	}
	if off.ho != 0 || on.el >= off.el {
		t.Fatalf("timeout elections: %d with hand-off, %d without", on.el, off.el)
	}
	// The stall is reported, not asserted: while the leader's links are
	// slow, writes stall until the agent has judged it degrading, and on a
	// loaded machine that judgement can take longer than the pause it
	// spares (docs/etcd.md has the figures).
	t.Logf("longest write stall %v with hand-off, %v without (%.0f%% shorter)", on.stall.Round(time.Millisecond),
		off.stall.Round(time.Millisecond), 100*(1-float64(on.stall)/float64(off.stall)))
}

// TestEtcdBadInput: an unreachable member, an https endpoint without TLS,
// a CA file that is not PEM, garbage on /metrics, and a member that dies
// and comes back — each a clear error or a sample with what could be
// read, and the agents beside the other members keep deciding.
func TestEtcdBadInput(t *testing.T) {
	mesh := refcluster.NewMesh()
	defer mesh.Close()
	c := startEtcd(t, mesh)
	ctx := context.Background()

	if _, err := etcd.NewServer(ctx, etcd.ServerConfig{Endpoint: "http://127.0.0.1:1", Timeout: time.Second}); err == nil ||
		!strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Fatalf("unreachable member: %v", err)
	}
	if _, err := etcd.NewServer(ctx, etcd.ServerConfig{Endpoint: "https://127.0.0.1:2379"}); err == nil || !strings.Contains(err.Error(), "without TLS") {
		t.Fatalf("https without TLS: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("not a certificate"), 0o644)
	src := fmt.Sprintf("node = \"m1\"\nhost {\n  kind = \"etcd\"\n  address = %q\n  ca_file = \"ca.pem\"\n}\nlisten { grpc = \"unix://%s\" }\n", c.Members[0].ClientURL, filepath.Join(dir, "a.sock"))
	os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(src), 0o644)
	cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, err := Start(cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "ca.pem holds no PEM certificate") {
		t.Fatalf("bad CA file: %v", err)
	}

	// Garbage where /metrics should be: the sample keeps the client API's
	// fields (role, term, and the elections its term changes count).
	junk := httptestServer(t, "<html>this is a login page</html>")
	s, err := etcd.NewServer(ctx, etcd.ServerConfig{Endpoint: c.Members[0].ClientURL, MetricsURL: junk})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if smp := s.Sample(); !smp.Has(collector.FieldRole|collector.FieldTerm|collector.FieldElections) || smp.Has(collector.FieldDiskSync) {
		t.Fatalf("sample with garbage metrics: %+v", smp)
	}

	// A member that dies and comes back: its host samples nothing while it
	// is down, then recovers; the host beside another member never stops.
	down, err := etcd.NewServer(ctx, etcd.ServerConfig{Endpoint: c.Members[1].ClientURL, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	other, err := etcd.NewServer(ctx, etcd.ServerConfig{Endpoint: c.Members[2].ClientURL, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := c.Kill(c.Members[1].Name); err != nil {
		t.Fatal(err)
	}
	if smp := down.Sample(); smp.Has(collector.FieldTerm) || smp.Has(collector.FieldRole) || smp.Has(collector.FieldLeader) {
		t.Fatalf("a dead member's sample claims %v", smp.Present)
	}
	if smp := other.Sample(); !smp.Has(collector.FieldTerm) {
		t.Fatalf("the host beside a live member stopped: %+v", smp)
	}
	if err := c.Restart(ctx, c.Members[1].Name); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 20*time.Second, "the host of the restarted member to recover", func() bool {
		smp := down.Sample()
		return smp.Has(collector.FieldTerm)
	})
}

func httptestServer(t *testing.T, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	t.Cleanup(srv.Close)
	return srv.URL
}
