package refcluster

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
	"github.com/nsraft/nsraft/sim"
)

// LiveStrategy is one way of timing the reference cluster's nodes in a
// live benchmark: the nodes' own timing, or an agent beside every node.
type LiveStrategy struct {
	Name string
	// Recommender is the agents' strategy; "" runs no agents.
	Recommender string
	// Timing is the nodes' own configuration.
	Timing Timing
}

// AgentTiming is the node timing under agents: hashicorp/raft's defaults
// with the one setting an operator changes at restart so that the agent
// may lower HeartbeatTimeout, LeaderLeaseTimeout (the lease is the floor
// under every timeout and cannot be reloaded). The lease is what the
// agent recommends for the network (hashicorp.RecommendLease) from its
// calm round-trip tail, twice the one-way delay and jitter of the slowest
// link, and the default policy's election_min: 50ms on a LAN, 150ms on an
// 80ms WAN. A 100ms lease for every network made WAN leaders step down
// whenever a heartbeat round (a round trip plus a wait of T/10 to T/5)
// outran it.
func AgentTiming(s *sim.Scenario) Timing {
	lease := hashicorp.RecommendLease(2*slowestLink(s), policy.Default().Bounds.ElectionMin).Lease
	return Timing{HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: lease}
}

// slowestLink is the largest one-way delay plus jitter of s's links.
func slowestLink(s *sim.Scenario) time.Duration {
	var worst time.Duration
	for _, a := range s.NodeIDs() {
		for _, b := range s.NodeIDs() {
			if a != b {
				n := s.LinkNetwork(a, b)
				worst = max(worst, n.Delay+n.Jitter)
			}
		}
	}
	return worst
}

// LiveStrategies are the strategies of `ns-agent bench -live` for a
// scenario: hashicorp/raft's defaults, an operator's hand-tuned static
// timing following etcd's guidance (election timeout about ten round trips
// of the slowest link, at least 150ms), and random, linucb and lstm through
// the same agent and adapter (AgentTiming).
func LiveStrategies(s *sim.Scenario) []LiveStrategy {
	tuned := max(150*time.Millisecond, 20*slowestLink(s)) // 10 × RTT
	agents := AgentTiming(s)
	return []LiveStrategy{
		{Name: "host-default", Timing: Timing{}},
		{Name: "hand-tuned", Timing: Timing{HeartbeatTimeout: tuned, ElectionTimeout: tuned, LeaderLeaseTimeout: tuned / 2}},
		{Name: "random", Recommender: "random", Timing: agents},
		{Name: "linucb", Recommender: "linucb", Timing: agents},
		{Name: "lstm", Recommender: "lstm", Timing: agents},
	}
}

// pickLive keeps the wanted strategies, in the order asked. A name the
// defaults lack but the model registry has (jacobson, phi, dynatune…)
// runs through the agents like random, linucb and lstm; every live
// strategy goes through the agent's policy, so there is no X-raw here.
func pickLive(s *sim.Scenario, defaults []LiveStrategy, want []string) ([]LiveStrategy, error) {
	var out []LiveStrategy
	for _, w := range want {
		i := slices.IndexFunc(defaults, func(st LiveStrategy) bool { return st.Name == w })
		switch {
		case i >= 0:
			out = append(out, defaults[i])
		case strings.HasSuffix(w, "-raw"):
			return nil, fmt.Errorf("strategy %q: live, every strategy runs through the agent and its policy; use %q", w, strings.TrimSuffix(w, "-raw"))
		default:
			if _, err := model.New(w, model.Options{}); err != nil {
				return nil, fmt.Errorf("strategy %q: not host-default, hand-tuned or a recommender (%s)", w, strings.Join(model.Names(), ", "))
			}
			out = append(out, LiveStrategy{Name: w, Recommender: w, Timing: AgentTiming(s)})
		}
	}
	return out, nil
}

// Compress fits a scenario into d of real time while keeping what a
// timeout reacts to at its real length: the faults' own durations (a
// burst's length and delay, a pause, a crash's downtime up to d/6) stay,
// and only the quiet time between faults shrinks. Crashes come about
// three times per run; bursts and pauses at least every 5s and 3s.
func Compress(s *sim.Scenario, d time.Duration) *sim.Scenario {
	out := *s
	k := float64(d) / float64(s.Duration)
	scale := func(t, floor time.Duration) time.Duration { return max(time.Duration(float64(t)*k), floor) }
	out.Duration = d
	if c := s.Crash; c != nil {
		cc := *c
		cc.Downtime = min(c.Downtime, d/6)
		if c.MeanInterval > 0 {
			cc.MeanInterval = d / 3
		} else {
			cc.At = time.Duration(float64(c.At) * k)
		}
		out.Crash = &cc
	}
	if b := s.Network.Burst; b != nil {
		bb := *b
		bb.MeanInterval = scale(b.MeanInterval, 5*time.Second)
		out.Network.Burst = &bb
	}
	out.NodeSpecs = nil
	for _, n := range s.NodeSpecs {
		if n.PauseEvery > 0 {
			n.PauseEvery = scale(n.PauseEvery, 3*time.Second)
		}
		out.NodeSpecs = append(out.NodeSpecs, n)
	}
	out.Partitions = nil
	for _, p := range s.Partitions {
		p.At = time.Duration(float64(p.At) * k)
		p.Duration = min(p.Duration, d/6)
		out.Partitions = append(out.Partitions, p)
	}
	return &out
}

// LiveTwin is the simulator's twin of a live run of s compressed to d:
// the compressed scenario, with its agents' compressed election window
// and their nodes' lease (AgentTiming), less what toxiproxy cannot inject (per-message loss, heavy tails,
// latency drift, a burst's loss, slow nodes, noisy neighbours, disk
// stalls; BuildSchedule lists them for each run). The simulator run on it
// under the hashicorp host model is what the live run should show.
func LiveTwin(s *sim.Scenario, d time.Duration) *sim.Scenario {
	c := Compress(s, d)
	c.ElectionWindow = ElectionWindow(s, c)
	c.LeaderLease = AgentTiming(s).LeaderLeaseTimeout
	strip := func(n *sim.Network) {
		n.Loss, n.TailProb, n.TailDelay, n.Drift = 0, 0, 0, 0
		if n.Burst != nil {
			b := *n.Burst
			b.Loss = 0
			n.Burst = &b
		}
	}
	strip(&c.Network)
	links := make([]sim.Link, 0, len(c.Links))
	for _, l := range c.Links {
		strip(&l.Network)
		set := map[string]bool{}
		for k, v := range l.Set {
			switch k {
			case "loss", "tail_prob", "tail_delay", "drift":
			default:
				set[k] = v
			}
		}
		l.Set = set
		links = append(links, l)
	}
	c.Links = links
	nodes := make([]sim.NodeSpec, 0, len(c.NodeSpecs))
	for _, n := range c.NodeSpecs {
		n.Slowdown = 1
		n.NoisyEvery, n.NoisyLength, n.NoisySlowdown, n.NoisyBusy = 0, 0, 0, 0
		n.DiskStallEvery, n.DiskStall = 0, 0
		nodes = append(nodes, n)
	}
	c.NodeSpecs = nodes
	return c
}

// ElectionWindow is how long an election should count as recent for the
// agents of a run compressed from orig to compressed: the adapter's 30s,
// shrunk as much as the time between crashes was (or, without periodic
// crashes, as the run was), and at least 1s. In the simulator a node sees
// an election in its window about half the time between crashes; an
// uncompressed window would hold every live run's agents in the state that
// follows an election from its first crash to its end.
func ElectionWindow(orig, compressed *sim.Scenario) time.Duration {
	k := float64(compressed.Duration) / float64(orig.Duration)
	if orig.Crash != nil && orig.Crash.MeanInterval > 0 && compressed.Crash != nil {
		k = float64(compressed.Crash.MeanInterval) / float64(orig.Crash.MeanInterval)
	}
	return max(time.Second, min(hashicorp.DefaultElectionWindow, time.Duration(k*float64(hashicorp.DefaultElectionWindow))))
}

// LiveConfig configures RunLive.
type LiveConfig struct {
	Binary string
	// Dir holds each run's node data, logs and agent files while it runs.
	Dir string
	// Keep leaves each finished run's directory in Dir (node logs, agent
	// decision logs); by default it is removed.
	Keep bool
	// Nodes per cluster (default 5); the scenarios are resized to it.
	Nodes int
	// Duration of each run (default 30s); scenarios are compressed to it.
	Duration time.Duration
	// Seeds: one run per seed per scenario per strategy.
	Seeds     []uint64
	Scenarios []*sim.Scenario
	// Strategies, or nil for LiveStrategies of each scenario.
	Strategies []string
	// Log receives progress lines.
	Log func(format string, args ...any)
}

// LiveRun is the outcome of one run, from the client's own records.
type LiveRun struct {
	Scenario             string  `json:"scenario"`
	Strategy             string  `json:"strategy"`
	Seed                 uint64  `json:"seed"`
	UnavailabilityMS     float64 `json:"unavailability_ms"`
	LongestMS            float64 `json:"longest_unavailability_ms"`
	Elections            int     `json:"elections"`
	UnnecessaryElections int     `json:"unnecessary_elections"`
	WriteMSP50           float64 `json:"write_ms_p50"`
	WriteMSP99           float64 `json:"write_ms_p99"`
	WriteMSP999          float64 `json:"write_ms_p999"`
	WritesPerSec         float64 `json:"writes_per_s"`
	Linearizable         string  `json:"linearizability"`
	Operations           int     `json:"operations"`
	// LeaseMS is the nodes' LeaderLeaseTimeout (0: hashicorp/raft's
	// default, 500ms).
	LeaseMS     float64  `json:"leader_lease_ms,omitempty"`
	NotInjected []string `json:"not_injected,omitempty"`
	// Events is the run's record for auditing the counts above: each fault
	// as injected and each election as the monitor saw it, with whether
	// it counted as necessary, in ms since the run started.
	Events []string `json:"events,omitempty"`
	// Error says why the run could not be made (it has no figures).
	Error string `json:"error,omitempty"`

	// Timeline of the run: each node's HeartbeatTimeout, elections, faults.
	Timeline  []sim.TimelinePoint `json:"-"`
	ElectAt   []time.Duration     `json:"-"`
	FaultsAt  []time.Duration     `json:"-"`
	NodeCount int                 `json:"-"`
}

// faultWindow is a span in which node was killed (until its restart) or
// cut off from the majority (until the heal); to is math.MaxInt64 while it
// is still open at the end of the run.
type faultWindow struct {
	from, to time.Duration
	node     string
}

// faultTrail records a live run's fault events as the schedule injects them:
// one line per event, the windows in which a killed (until its restart) or
// isolated (until the heal) leader made an election necessary, and when
// each fault struck. Both live benchmarks record through it.
type faultTrail struct {
	mu       sync.Mutex
	events   []string
	killed   []faultWindow
	isolated []faultWindow
	faultsAt []time.Duration
	openKill map[string]int
	openIsol []int
}

// record notes event ev, injected against target (err when it failed), at
// now since the run's start.
func (f *faultTrail) record(now time.Duration, ev FaultEvent, target string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := fmt.Sprintf("%8.0f %s", float64(now)/1e6, ev)
	if target != "" && ev.Node == "" {
		line += ": " + target
	}
	if err != nil {
		line += ": " + err.Error()
	}
	f.events = append(f.events, line)
	switch ev.Kind {
	case FaultCrash:
		if err == nil && target != "" {
			if f.openKill == nil {
				f.openKill = map[string]int{}
			}
			f.openKill[target] = len(f.killed)
			f.killed = append(f.killed, faultWindow{from: now, to: math.MaxInt64, node: target})
			f.faultsAt = append(f.faultsAt, now)
		}
	case FaultRestart:
		if i, ok := f.openKill[target]; ok {
			f.killed[i].to = now
			delete(f.openKill, target)
		}
	case FaultPartition:
		for _, n := range ev.Nodes {
			f.openIsol = append(f.openIsol, len(f.isolated))
			f.isolated = append(f.isolated, faultWindow{from: now, to: math.MaxInt64, node: n})
		}
		f.faultsAt = append(f.faultsAt, now)
	case FaultHeal:
		for _, i := range f.openIsol {
			f.isolated[i].to = now
		}
		f.openIsol = nil
	case FaultBurstStart, FaultPause:
		f.faultsAt = append(f.faultsAt, now)
	}
}

// windows returns every window in which an election was necessary.
// record fills a run's figures from the client's report and its audit
// trail from the injected faults and the elections the monitor saw, each
// with its verdict; extra events (such as leader changes) join the trail,
// which is kept in time order.
func (r *LiveRun) record(rep Report, faults *faultTrail, extra ...string) {
	r.UnavailabilityMS = float64(rep.Unavailable) / 1e6
	r.LongestMS = float64(rep.LongestUnavailable) / 1e6
	r.Elections = rep.Elections
	r.Linearizable = string(rep.Verdict)
	r.Operations = len(rep.History)
	var lat []float64
	for _, op := range rep.History {
		if op.Kind == OpPut && op.Ok {
			lat = append(lat, float64(op.Return-op.Call)/1e6)
		}
	}
	sort.Float64s(lat)
	q := func(p float64) float64 { return collector.NearestRank(lat, p) }
	r.WriteMSP50, r.WriteMSP99, r.WriteMSP999 = q(0.5), q(0.99), q(0.999)
	r.WritesPerSec = float64(len(lat)) / rep.Duration.Seconds()

	// An election is necessary when the leader it replaced was killed or
	// cut off from the majority (the monitor sees a term up to 50ms late;
	// a kill up to 2s before counts, the detection time of the defaults).
	leaderAt := func(t time.Duration) string {
		l := ""
		for _, ch := range rep.LeaderChanges {
			if ch.At < t {
				l = ch.Leader
			}
		}
		return l
	}
	r.Events = append(r.Events, faults.events...)
	windows := faults.windows()
	for _, e := range rep.ElectionsAt {
		l := leaderAt(e)
		verdict := "necessary"
		if !necessaryElection(e, l, windows) {
			r.UnnecessaryElections++
			verdict = "unnecessary"
		}
		r.Events = append(r.Events, fmt.Sprintf("%8.0f election (leader before: %s): %s", float64(e)/1e6, l, verdict))
	}
	r.Events = append(r.Events, extra...)
	sort.Strings(r.Events) // right-aligned times: in time order
	r.ElectAt, r.FaultsAt = rep.ElectionsAt, faults.faultsAt
}

func (f *faultTrail) windows() []faultWindow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(append([]faultWindow(nil), f.killed...), f.isolated...)
}

// necessaryElection reports whether an election at e, replacing leader, was
// necessary: the leader was killed or cut off at e, or had been until at
// most 2s before (the detection time of hashicorp's defaults).
func necessaryElection(e time.Duration, leader string, windows []faultWindow) bool {
	const grace = 2 * time.Second
	for _, w := range windows {
		if w.node != leader || e < w.from {
			continue
		}
		if w.to >= math.MaxInt64-grace || e <= w.to+grace {
			return true
		}
	}
	return false
}

// RunLive runs every strategy on every scenario for every seed, one run
// at a time, each on a fresh cluster.
func RunLive(ctx context.Context, cfg LiveConfig) ([]LiveRun, error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 5
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	var out []LiveRun
	for _, s0 := range cfg.Scenarios {
		s1 := *s0
		s1.Nodes = cfg.Nodes
		s := Compress(&s1, cfg.Duration)
		window := ElectionWindow(&s1, s)
		strategies := LiveStrategies(s)
		if cfg.Strategies != nil {
			var err error
			if strategies, err = pickLive(s, strategies, cfg.Strategies); err != nil {
				return out, err
			}
		}
		for _, seed := range cfg.Seeds {
			for _, st := range strategies {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				dir := filepath.Join(cfg.Dir, fmt.Sprintf("%s-%s-%d", s.Name, st.Name, seed))
				r, err := runLiveOne(ctx, cfg, s, st, seed, window, dir)
				if err != nil && ctx.Err() == nil {
					// A cluster that did not come up (a port taken
					// between allocation and use, a slow start) is
					// tried once more on fresh ports.
					cfg.Log("%s/%s seed %d: %v; retrying once", s.Name, st.Name, seed, err)
					os.RemoveAll(dir)
					r, err = runLiveOne(ctx, cfg, s, st, seed, window, dir+"-retry")
				}
				if err != nil {
					if ctx.Err() != nil {
						return out, ctx.Err()
					}
					cfg.Log("%s/%s seed %d: %v", s.Name, st.Name, seed, err)
					out = append(out, LiveRun{Scenario: s.Name, Strategy: st.Name, Seed: seed, Error: err.Error()})
					continue
				}
				cfg.Log("%-14s %-13s seed %d: unavailable %6.0fms (longest %5.0fms), %2d elections (%d unnecessary), write p99 %5.1fms, %4.0f writes/s, %s",
					r.Scenario, r.Strategy, seed, r.UnavailabilityMS, r.LongestMS, r.Elections, r.UnnecessaryElections, r.WriteMSP99, r.WritesPerSec, r.Linearizable)
				out = append(out, r)
				if !cfg.Keep {
					os.RemoveAll(dir)
				}
			}
		}
	}
	return out, nil
}

func runLiveOne(ctx context.Context, cfg LiveConfig, s *sim.Scenario, st LiveStrategy, seed uint64, elWindow time.Duration, dir string) (LiveRun, error) {
	r := LiveRun{Scenario: s.Name, Strategy: st.Name, Seed: seed, NodeCount: s.Nodes, LeaseMS: float64(st.Timing.LeaderLeaseTimeout) / 1e6}
	mesh := NewMesh()
	defer mesh.Close()
	ids := s.NodeIDs()
	ccfg := ClusterConfig{Nodes: s.Nodes, Binary: cfg.Binary, Dir: filepath.Join(dir, "nodes"), Timing: st.Timing, Dial: mesh.Dial}
	if st.Recommender != "" {
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		agents, err := StartAgents(sctx, AgentsConfig{Binary: cfg.Binary, Dir: filepath.Join(dir, "agents"), IDs: ids, Recommender: st.Recommender})
		cancel()
		if err != nil {
			return r, err
		}
		defer agents.Stop()
		ccfg.ExtraArgs = func(id string) []string {
			return []string{"-agent-addr", agents.Socket(id), "-election-window", elWindow.String()}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	c, err := Start(sctx, ccfg)
	cancel()
	if err != nil {
		return r, err
	}
	defer c.Stop()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, _, err = c.WaitLeader(wctx)
	cancel()
	if err != nil {
		return r, err
	}
	// Under agents, the run starts once the agents have taken over.
	if st.Recommender != "" {
		time.Sleep(3 * time.Second)
	}
	sch := BuildSchedule(s, seed)
	r.NotInjected = sch.NotInjected
	runCtx, stop := context.WithTimeout(ctx, s.Duration)
	defer stop()
	start := time.Now()
	since := func() time.Duration { return time.Since(start) }

	var (
		faults   faultTrail
		mu       sync.Mutex // timeline
		timeline []sim.TimelinePoint
		wg       sync.WaitGroup
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		RunSchedule(runCtx, c, mesh, sch, func(ev FaultEvent, target string, err error) {
			faults.record(since(), ev, target, err)
		})
	}()
	// Each node's timeout, four times a second, for the timeline. The
	// nodes do not report heartbeat gaps, so the points carry none.
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			for i, id := range ids {
				pctx, cancel := context.WithTimeout(runCtx, 200*time.Millisecond)
				stt, err := c.Status(pctx, id)
				cancel()
				if err == nil {
					mu.Lock()
					timeline = append(timeline, sim.TimelinePoint{At: since(), Node: i, Timeout: time.Duration(stt.HeartbeatTimeoutMS) * time.Millisecond, Gap: -1})
					mu.Unlock()
				}
			}
		}
	}()
	// Porcupine checks each key's history on its own, and a write whose
	// outcome is unknown (a leader lost mid-request) stays open-ended, so
	// its cost grows steeply with a key's operations under long outages.
	// Eight keys per second of run keep each history short.
	keys := 8*int(s.Duration/time.Second) + 16
	rep := RunWorkload(runCtx, c, WorkloadConfig{Seed: seed, Keys: keys})
	wg.Wait()

	r.record(rep, &faults)
	mu.Lock()
	defer mu.Unlock()
	r.Timeline = timeline
	return r, nil
}
