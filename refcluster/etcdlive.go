package refcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nsraft/nsraft/adapter/etcd"
	"github.com/nsraft/nsraft/sim"
)

// EtcdStrategy is one way of timing the etcd members of a live run.
type EtcdStrategy struct {
	Name string
	// Flags are the members' flags at start (etcd's defaults when zero).
	Flags etcd.Flags
	// Advice: a learning phase under the scenario's network with an agent
	// beside each member, then a rolling restart with the agents' advice.
	Advice bool
	// Agents run beside the members during the measured run; Handoff
	// turns their leader hand-off on.
	Agents, Handoff bool
	// Why says where the flags come from, for the report.
	Why string
}

// etcdDefaults are etcd's own flags.
var etcdDefaults = etcd.Flags{Heartbeat: 100 * time.Millisecond, Election: time.Second}

// HandPicked is what an operator would pick from etcd's tuning guide
// knowing the scenario's network: a heartbeat interval of about one
// round trip of the slowest link and an election timeout of ten round
// trips; with a 50ms floor under the heartbeat, since on a loaded machine
// a shorter one costs CPU on every member for a detection no network
// here needs, and the election timeout at least ten heartbeats. Bursts
// and pauses are not in it: an operator tunes for the usual network.
func HandPicked(s *sim.Scenario) etcd.Flags {
	var worst time.Duration
	for _, a := range s.NodeIDs() {
		for _, b := range s.NodeIDs() {
			if a != b {
				n := s.LinkNetwork(a, b)
				worst = max(worst, n.Delay+n.Jitter)
			}
		}
	}
	rtt := 2 * worst
	hb := max(50*time.Millisecond, (rtt+9*time.Millisecond)/(10*time.Millisecond)*(10*time.Millisecond))
	return etcd.Flags{Heartbeat: hb, Election: max(10*rtt, 10*hb)}
}

// EtcdStrategies are the strategies of `ns-agent bench -live -host etcd`
// for a scenario, in report order.
func EtcdStrategies(s *sim.Scenario) []EtcdStrategy {
	hp := HandPicked(s)
	return []EtcdStrategy{
		{Name: "etcd-default", Flags: etcdDefaults, Why: "etcd's defaults"},
		{Name: "hand-picked", Flags: hp, Why: "etcd's tuning guide on the scenario's slowest link: heartbeat ≈ 1 round trip (≥ 50ms), election ≥ 10 round trips and ≥ 10 heartbeats"},
		{Name: "advice", Flags: etcdDefaults, Advice: true, Why: "the agents' advice after a learning phase on the defaults, rolled out one member at a time; no agents in the measured run (advice is restart-time)"},
		{Name: "advice+handoff", Flags: etcdDefaults, Advice: true, Agents: true, Handoff: true, Why: "the same advice, an agent beside each member in the measured run with leader hand-off on"},
		{Name: "advice+agents", Flags: etcdDefaults, Advice: true, Agents: true, Why: "the same advice, an agent beside each member in the measured run with hand-off off (what the agents alone cost)"},
		{Name: "default+handoff", Flags: etcdDefaults, Agents: true, Handoff: true, Why: "etcd's defaults, agents' leader hand-off on"},
	}
}

// DefaultEtcdStrategies are the ones run when none are named.
var DefaultEtcdStrategies = []string{"etcd-default", "hand-picked", "advice", "advice+agents", "advice+handoff"}

// EtcdLiveConfig configures RunEtcdLive.
type EtcdLiveConfig struct {
	// Etcd is the etcd server binary; Agent the ns-agent binary.
	Etcd, Agent string
	// Dir holds each run's data dirs and logs while it runs; Keep leaves
	// them there.
	Dir  string
	Keep bool
	// Members per cluster (default 5); scenarios are resized to it.
	Members int
	// Duration of each measured run (default 20s); scenarios are
	// compressed to it.
	Duration time.Duration
	// Learn is the learning phase before advice (default 90s): the
	// scenario's network, bursts and pauses without crashes (a restarted
	// member's metrics start over), agents beside the default flags. etcd
	// puts each peer's smoothed round trip into its histogram only every
	// 30s (5s while the peer is unhealthy), so a shorter phase gives the
	// advice a handful of round trips to weigh.
	Learn     time.Duration
	Seeds     []uint64
	Scenarios []*sim.Scenario
	// Strategies by name (default DefaultEtcdStrategies).
	Strategies []string
	Log        func(format string, args ...any)
}

// EtcdRun is one run of the etcd live benchmark.
type EtcdRun struct {
	LiveRun
	// Flags were in force during the measured run.
	Flags string `json:"flags"`
	// Advice is each agent's advice at the end of the learning phase.
	Advice map[string]string `json:"advice,omitempty"`
	// Handoffs the agents made during the measured run, with their
	// evidence; they are counted among the elections too.
	Handoffs []string `json:"handoffs,omitempty"`
}

// EtcdQuick is the CI variant: one bursty WAN scenario with crashes, 3
// members, short runs, the defaults against the advice with hand-off on;
// it checks that every history is linearizable, not the ratios.
func EtcdQuick(cfg EtcdLiveConfig) EtcdLiveConfig {
	for _, s := range cfg.Scenarios {
		if s.Name == "wan-bursty" {
			cfg.Scenarios = []*sim.Scenario{s}
		}
	}
	cfg.Scenarios = cfg.Scenarios[:min(1, len(cfg.Scenarios))]
	cfg.Members, cfg.Duration, cfg.Learn = 3, 10*time.Second, 8*time.Second
	cfg.Seeds = cfg.Seeds[:min(1, len(cfg.Seeds))]
	if cfg.Strategies == nil {
		cfg.Strategies = []string{"etcd-default", "advice+handoff"}
	}
	return cfg
}

func pickEtcd(all []EtcdStrategy, want []string) ([]EtcdStrategy, error) {
	var out []EtcdStrategy
	for _, w := range want {
		i := slices.IndexFunc(all, func(s EtcdStrategy) bool { return s.Name == w })
		if i < 0 {
			var names []string
			for _, s := range all {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("etcd strategy %q: not one of %s", w, strings.Join(names, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// RunEtcdLive runs every strategy on every scenario for every seed, one
// run at a time, each on a fresh etcd cluster.
func RunEtcdLive(ctx context.Context, cfg EtcdLiveConfig) ([]EtcdRun, error) {
	if cfg.Members <= 0 {
		cfg.Members = 5
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.Learn <= 0 {
		cfg.Learn = 90 * time.Second
	}
	if cfg.Strategies == nil {
		cfg.Strategies = DefaultEtcdStrategies
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	var out []EtcdRun
	for _, s0 := range cfg.Scenarios {
		s1 := *s0
		s1.Nodes = cfg.Members
		s := Compress(&s1, cfg.Duration)
		strategies, err := pickEtcd(EtcdStrategies(s), cfg.Strategies)
		if err != nil {
			return out, err
		}
		for _, seed := range cfg.Seeds {
			var learned *learnedAdvice // one learning phase per scenario and seed
			for _, st := range strategies {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				dir := filepath.Join(cfg.Dir, fmt.Sprintf("etcd-%s-%s-%d", s.Name, st.Name, seed))
				r, err := runEtcdOne(ctx, cfg, s, st, seed, dir, &learned)
				if err != nil && ctx.Err() == nil {
					cfg.Log("%s/%s seed %d: %v; retrying once", s.Name, st.Name, seed, err)
					os.RemoveAll(dir)
					dir += "-retry"
					r, err = runEtcdOne(ctx, cfg, s, st, seed, dir, &learned)
				}
				if err != nil {
					if ctx.Err() != nil {
						return out, ctx.Err()
					}
					cfg.Log("%s/%s seed %d: %v", s.Name, st.Name, seed, err)
					out = append(out, EtcdRun{LiveRun: LiveRun{Scenario: s.Name, Strategy: st.Name, Seed: seed, Error: err.Error()}})
					continue
				}
				cfg.Log("%-14s %-15s seed %d: %s: unavailable %6.0fms (longest %5.0fms), %2d elections (%d unnecessary, %d hand-offs), write p99 %5.1fms, %4.0f writes/s, %s",
					r.Scenario, r.Strategy, seed, r.Flags, r.UnavailabilityMS, r.LongestMS, r.Elections, r.UnnecessaryElections, len(r.Handoffs), r.WriteMSP99, r.WritesPerSec, r.Linearizable)
				out = append(out, r)
				if !cfg.Keep {
					os.RemoveAll(dir)
				}
			}
		}
	}
	return out, nil
}

// memberOf is the etcd member that plays scenario node id (n3 → m3).
func memberOf(id string) string { return "m" + strings.TrimPrefix(id, "n") }

// learnScenario is the scenario without its crashes: what the agents see
// during the learning phase.
func learnScenario(s *sim.Scenario, d time.Duration) *sim.Scenario {
	l := *s
	l.Crash = nil
	l.Duration = d
	return &l
}

// learnedAdvice is what a learning phase concluded: the flags most
// agents advised, and each agent's advice.
type learnedAdvice struct {
	flags  etcd.Flags
	advice map[string]string
}

// learn runs the learning phase on a cluster on its starting flags:
// agents beside the members, the scenario's network (its own seed) for
// cfg.Learn, and their advice.
func learn(ctx context.Context, cfg EtcdLiveConfig, c *EtcdCluster, ec *etcdClients, mesh *Mesh, s *sim.Scenario, seed uint64, dir string) (*learnedAdvice, error) {
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	agents, err := StartEtcdAgents(actx, c, EtcdAgentsConfig{Binary: cfg.Agent, Dir: filepath.Join(dir, "learn"), Flags: c.Flags(),
		AdviceMinEvidence: cfg.Learn * 2 / 3, AdviceEvery: min(2*time.Second, cfg.Learn/8)})
	cancel()
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.Learn)
	sch := BuildSchedule(learnScenario(s, cfg.Learn), seed^0x1ea7)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runEtcdSchedule(lctx, c, ec, mesh, sch, nil)
	}()
	// A light client load, as a real cluster has, while the agents
	// gather evidence.
	runEtcdWorkload(lctx, ec, "learn/", WorkloadConfig{Writers: 1, Seed: seed, Keys: 64})
	<-done
	cancel()
	agents.Stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	out := &learnedAdvice{advice: map[string]string{}}
	votes := map[etcd.Flags]int{}
	for n, l := range agents.Logs() {
		switch {
		case l.Advice == "":
			out.advice[n] = "nothing logged"
		case strings.Contains(l.Advice, "gathering evidence"):
			// No opinion yet: on a loaded machine an agent may not
			// have read every member in one go for long enough.
			out.advice[n] = l.Advice
		default:
			out.advice[n] = l.Advice
			votes[l.Flags]++
		}
	}
	// Every agent weighs the same cluster-wide evidence, but each reads
	// it at its own moments, so they can differ: the advice most agents
	// with enough evidence gave wins (the longer timeout on a tie), and
	// without any the flags stay.
	best, bestN := c.Flags(), 0
	for f, n := range votes {
		if n > bestN || n == bestN && f.Election > best.Election {
			best, bestN = f, n
		}
	}
	out.flags = best
	return out, nil
}

func runEtcdOne(ctx context.Context, cfg EtcdLiveConfig, s *sim.Scenario, st EtcdStrategy, seed uint64, dir string, learned **learnedAdvice) (EtcdRun, error) {
	r := EtcdRun{LiveRun: LiveRun{Scenario: s.Name, Strategy: st.Name, Seed: seed, NodeCount: s.Nodes}}
	mesh := NewMesh()
	defer mesh.Close()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	c, err := StartEtcd(sctx, EtcdConfig{Binary: cfg.Etcd, Dir: filepath.Join(dir, "members"), Members: s.Nodes, Mesh: mesh,
		HeartbeatInterval: st.Flags.Heartbeat, ElectionTimeout: st.Flags.Election})
	cancel()
	if err != nil {
		return r, err
	}
	defer c.Stop()
	ec, err := newEtcdClients(c)
	if err != nil {
		return r, err
	}
	defer ec.Close()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = ec.waitLeader(wctx)
	cancel()
	if err != nil {
		return r, err
	}

	if st.Advice {
		// The advice is learned once per scenario and seed, on this
		// run's cluster, and rolled out on every run that follows it.
		if *learned == nil {
			l, err := learn(ctx, cfg, c, ec, mesh, s, seed, dir)
			if err != nil {
				return r, err
			}
			*learned = l
		}
		r.Advice = (*learned).advice
		if f := (*learned).flags; f != c.Flags() {
			rctx, cancel := context.WithTimeout(ctx, 120*time.Second)
			leader, _ := ec.leader(rctx)
			err := c.RollingRestart(rctx, leader, f)
			if err == nil {
				_, err = ec.waitLeader(rctx)
			}
			cancel()
			if err != nil {
				return r, fmt.Errorf("rolling restart with %s: %w", f, err)
			}
		}
	}
	r.Flags = c.Flags().String()

	var agents *EtcdAgents
	if st.Agents {
		actx, cancel := context.WithTimeout(ctx, 60*time.Second)
		agents, err = StartEtcdAgents(actx, c, EtcdAgentsConfig{Binary: cfg.Agent, Dir: filepath.Join(dir, "agents"), Flags: c.Flags(), Handoff: st.Handoff})
		cancel()
		if err != nil {
			return r, err
		}
		defer agents.Stop()
		// The agents' windows fill before the faults start.
		time.Sleep(3 * time.Second)
	}

	sch := BuildSchedule(s, seed)
	r.NotInjected = sch.NotInjected
	if len(s.Links) > 0 {
		r.NotInjected = append(r.NotInjected, "per-link delays: etcd members all dial one advertised peer URL, so each member's messages get the mean delay of its outgoing links")
	}
	runCtx, stop := context.WithTimeout(ctx, s.Duration)
	defer stop()
	start := time.Now()
	since := func() time.Duration { return time.Since(start) }
	var (
		faults faultTrail
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		runEtcdSchedule(runCtx, c, ec, mesh, sch, func(ev FaultEvent, target string, err error) {
			faults.record(since(), ev, target, err)
		})
	}()
	keys := 8*int(s.Duration/time.Second) + 16
	rep := runEtcdWorkload(runCtx, ec, "run/", WorkloadConfig{Seed: seed, Keys: keys})
	wg.Wait()

	if agents != nil {
		for _, l := range agents.Logs() {
			r.Handoffs = append(r.Handoffs, l.Handoffs...)
		}
	}
	var changes []string
	for _, ch := range rep.LeaderChanges {
		changes = append(changes, fmt.Sprintf("%8.0f leader %s (term %d)", float64(ch.At)/1e6, ch.Leader, ch.Term))
	}
	r.record(rep, &faults, changes...)
	return r, nil
}

// runEtcdSchedule applies a schedule to an etcd cluster, as RunSchedule
// does to the reference cluster, and returns when ctx ends (the network
// of its last event holding until then). Network faults go on each member's one
// front proxy: a member's messages to its peers travel on connections
// its peers dialed to it (etcd's stream transport), so a delay on that
// proxy delays what the member sends, and a scenario's link from→to
// becomes, approximately, the mean delay of from's outgoing links.
func runEtcdSchedule(ctx context.Context, c *EtcdCluster, ec *etcdClients, m *Mesh, sch Schedule, onEvent func(FaultEvent, string, error)) {
	// The network the last event set holds until the run ends.
	applySchedule(ctx, etcdTarget{c: c, ec: ec, m: m, sc: sch.Scenario}, sch, true, onEvent)
}

// etcdTarget is a real etcd cluster whose members each sit behind one
// front proxy.
type etcdTarget struct {
	c  *EtcdCluster
	ec *etcdClients
	m  *Mesh
	sc *sim.Scenario
}

func (e etcdTarget) process(node string) string {
	if node == "" {
		return ""
	}
	return memberOf(node)
}
func (e etcdTarget) running(name string) bool { return e.c.Running(name) }
func (e etcdTarget) pause(name string) error  { return e.c.Pause(name) }
func (e etcdTarget) resume(name string) error { return e.c.Resume(name) }
func (e etcdTarget) kill(name string) error   { return e.c.Kill(name) }
func (e etcdTarget) heal() error              { return e.m.Heal() }

func (e etcdTarget) leader(ctx context.Context) (string, error) { return e.ec.leader(ctx) }

func (e etcdTarget) restart(ctx context.Context, name string) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e.ec.setStarting(name, true)
	defer e.ec.setStarting(name, false)
	return e.c.Restart(rctx, name)
}

// network puts on each member's front proxy the mean delay of its
// outgoing links, plus extra.
func (e etcdTarget) network(extra time.Duration) error {
	ids := e.sc.NodeIDs()
	for _, a := range ids {
		var delay, jitter time.Duration
		n := 0
		for _, b := range ids {
			if a != b {
				ln := e.sc.LinkNetwork(a, b)
				delay += ln.Delay
				jitter += ln.Jitter
				n++
			}
		}
		f := e.m.Fault(Inbound, memberOf(a))
		f.Latency, f.Jitter = delay/time.Duration(max(n, 1))+extra, jitter/time.Duration(max(n, 1))
		if err := e.m.SetLink(Inbound, memberOf(a), f); err != nil {
			return err
		}
	}
	return nil
}

// partition cuts each node's own front proxy: an isolated member can no
// longer send, but still hears the others.
func (e etcdTarget) partition(nodes []string) error {
	for _, n := range nodes {
		f := e.m.Fault(Inbound, memberOf(n))
		f.Down = true
		if err := e.m.SetLink(Inbound, memberOf(n), f); err != nil {
			return err
		}
	}
	return nil
}

func (e etcdTarget) clear() {
	for _, id := range e.sc.NodeIDs() {
		_ = e.m.SetLink(Inbound, memberOf(id), LinkFault{})
	}
}
