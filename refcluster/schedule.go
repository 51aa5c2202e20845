package refcluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/nsraft/nsraft/sim"
)

// FaultKind is the kind of one scheduled fault event.
type FaultKind string

// Fault event kinds.
const (
	FaultNetwork    FaultKind = "network"     // set the base latency/jitter of every link
	FaultBurstStart FaultKind = "burst-start" // add Extra latency to every link
	FaultBurstEnd   FaultKind = "burst-end"
	FaultPause      FaultKind = "pause"        // SIGSTOP Node
	FaultResume     FaultKind = "resume"       // SIGCONT Node
	FaultCrash      FaultKind = "crash-leader" // SIGKILL whichever node leads at that moment
	FaultRestart    FaultKind = "restart"      // restart the node the matching crash killed
	FaultPartition  FaultKind = "partition"    // isolate Nodes
	FaultHeal       FaultKind = "heal"
)

// FaultEvent is one step of a fault schedule.
type FaultEvent struct {
	At    time.Duration `json:"at_ns"`
	Kind  FaultKind     `json:"kind"`
	Node  string        `json:"node,omitempty"`
	Nodes []string      `json:"nodes,omitempty"`
	Extra time.Duration `json:"extra_ns,omitempty"` // burst extra latency
	// Crash pairs a restart with its crash (the crash's index).
	Crash int `json:"crash,omitempty"`
}

func (e FaultEvent) String() string {
	switch e.Kind {
	case FaultPause, FaultResume:
		return fmt.Sprintf("%s %s", e.Kind, e.Node)
	case FaultPartition:
		return fmt.Sprintf("partition isolating %s", strings.Join(e.Nodes, ","))
	case FaultBurstStart:
		return fmt.Sprintf("burst: +%s on every link", e.Extra)
	case FaultRestart:
		return fmt.Sprintf("restart the node crash #%d killed", e.Crash)
	case FaultCrash:
		return fmt.Sprintf("crash #%d: SIGKILL the leader", e.Crash)
	default:
		return string(e.Kind)
	}
}

// Schedule is a scenario turned into timed fault events for a real cluster.
type Schedule struct {
	Scenario *sim.Scenario
	Events   []FaultEvent
	// NotInjected says which parts of the scenario a TCP proxy cannot
	// reproduce faithfully and were left out.
	NotInjected []string
}

// BuildSchedule turns a scenario into fault events, deterministically from
// seed: the same scenario and seed always give the same events.
//
// Mapping onto toxiproxy and process signals:
//   - delay/jitter per link → latency toxic (both streams of the link's proxy);
//   - burst → extra latency on every link for the burst's length
//     (exponential inter-arrival and length, as in the simulator);
//   - node pause_every/pause → SIGSTOP/SIGCONT every pause_every, first at a
//     seeded random phase;
//   - crash → SIGKILL of the current leader at exponential intervals,
//     restart after downtime;
//   - partition → black-hole the links between the isolated nodes and the
//     rest, heal after duration.
//
// Not reproducible on TCP streams: per-message loss (TCP retransmits, so
// loss shows up as delay; toxiproxy can only drop whole connections), the
// heavy tail of per-message delay, burst loss, and a node's processing
// slowdown. They are listed in NotInjected.
func BuildSchedule(s *sim.Scenario, seed uint64) Schedule {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	exp := func(mean time.Duration) time.Duration {
		return time.Duration(rng.ExpFloat64() * float64(mean))
	}
	sch := Schedule{Scenario: s}
	add := func(e FaultEvent) {
		if e.At < s.Duration {
			sch.Events = append(sch.Events, e)
		}
	}
	add(FaultEvent{At: 0, Kind: FaultNetwork})

	if b := s.Network.Burst; b != nil {
		for t := exp(b.MeanInterval); t < s.Duration; {
			length := exp(b.MeanLength)
			add(FaultEvent{At: t, Kind: FaultBurstStart, Extra: b.ExtraDelay})
			end := t + length
			if end >= s.Duration {
				end = s.Duration - 1
			}
			add(FaultEvent{At: end, Kind: FaultBurstEnd})
			t = end + exp(b.MeanInterval)
		}
	}
	for _, id := range s.NodeIDs() {
		ns := s.Node(id)
		if ns.PauseEvery <= 0 {
			continue
		}
		for t := time.Duration(rng.Float64() * float64(ns.PauseEvery)); t < s.Duration; t += ns.PauseEvery {
			add(FaultEvent{At: t, Kind: FaultPause, Node: id})
			add(FaultEvent{At: t + ns.Pause, Kind: FaultResume, Node: id})
		}
	}
	if c := s.Crash; c != nil && c.MeanInterval > 0 {
		n := 0
		for t := exp(c.MeanInterval); t < s.Duration; t += c.Downtime + exp(c.MeanInterval) {
			n++
			add(FaultEvent{At: t, Kind: FaultCrash, Crash: n})
			add(FaultEvent{At: t + c.Downtime, Kind: FaultRestart, Crash: n})
		}
	} else if c != nil {
		add(FaultEvent{At: c.At, Kind: FaultCrash, Crash: 1})
		add(FaultEvent{At: c.At + c.Downtime, Kind: FaultRestart, Crash: 1})
	}
	for _, p := range s.Partitions {
		add(FaultEvent{At: p.At, Kind: FaultPartition, Nodes: p.Isolate})
		add(FaultEvent{At: p.At + p.Duration, Kind: FaultHeal})
	}
	sort.SliceStable(sch.Events, func(i, j int) bool { return sch.Events[i].At < sch.Events[j].At })

	n := s.Network
	if n.Loss > 0 {
		sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("per-message loss %.3g (TCP turns loss into retransmission delay)", n.Loss))
	}
	if n.TailProb > 0 {
		sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("heavy-tail delay (%.3g of messages, mean %s): latency toxics apply to whole streams", n.TailProb, n.TailDelay))
	}
	if n.Burst != nil && n.Burst.Loss > 0 {
		sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("burst loss %.3g (only its extra delay is injected)", n.Burst.Loss))
	}
	if n.Drift > 0 {
		sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("latency drift +%s over the run", n.Drift))
	}
	for _, ns := range s.NodeSpecs {
		if ns.Slowdown > 1 {
			sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("slowdown ×%g of %s", ns.Slowdown, ns.Name))
		}
		if ns.NoisyEvery > 0 {
			sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("noisy-neighbour episodes of %s", ns.Name))
		}
		if ns.DiskStallEvery > 0 {
			sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("disk stalls of %s", ns.Name))
		}
	}
	for _, l := range s.Links {
		if l.Set["drift"] {
			sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("latency drift on link %s→%s", l.From, l.To))
		}
		if l.Set["loss"] || l.Set["tail_prob"] || l.Set["tail_delay"] {
			sch.NotInjected = append(sch.NotInjected, fmt.Sprintf("loss/tail on link %s→%s", l.From, l.To))
		}
	}
	return sch
}

// RunSchedule applies the schedule's events at their times (relative to
// the call) until they are exhausted or ctx ends. onEvent, if set, is told
// about every event and the error applying it (a crash with no leader to
// kill, say); errors do not stop the schedule. Nodes it paused are resumed
// and network faults cleared before it returns.
func RunSchedule(ctx context.Context, c *Cluster, m *Mesh, sch Schedule, onEvent func(FaultEvent, string, error)) {
	applySchedule(ctx, hashicorpTarget{c: c, m: m, sc: sch.Scenario}, sch, false, onEvent)
}

// scheduleTarget is what a schedule acts on: a cluster's processes, by
// name, and the network between them.
type scheduleTarget interface {
	// process names the process of a scenario node ("" for none).
	process(node string) string
	running(name string) bool
	pause(name string) error
	resume(name string) error
	kill(name string) error
	restart(ctx context.Context, name string) error
	leader(ctx context.Context) (string, error)
	// network sets the scenario's delays plus extra on every link.
	network(extra time.Duration) error
	partition(nodes []string) error
	heal() error
	// clear removes every network fault.
	clear()
}

// applySchedule is the schedule loop shared by the reference cluster and
// real etcd members: faults at their times, a crash aimed at whoever
// leads then, a restart of the process that crash killed, and a pause
// only of a process that is running. With hold, the network and pauses
// the last events left stay until ctx ends; without, they are undone as
// soon as the events are exhausted.
func applySchedule(ctx context.Context, t scheduleTarget, sch Schedule, hold bool, onEvent func(FaultEvent, string, error)) {
	start := time.Now()
	burst := time.Duration(0)
	crashed := map[int]string{}
	paused := map[string]bool{}
	defer func() {
		for name := range paused {
			_ = t.resume(name)
		}
		t.clear()
	}()
	for _, ev := range sch.Events {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(ev.At))):
		}
		var err error
		target := t.process(ev.Node)
		switch ev.Kind {
		case FaultNetwork:
			err = t.network(burst)
		case FaultBurstStart:
			burst = ev.Extra
			err = t.network(burst)
		case FaultBurstEnd:
			burst = 0
			err = t.network(0)
		case FaultPause:
			if !t.running(target) {
				// A crash killed it and its restart is still due: there
				// is no process to pause, and that is no fault.
				continue
			}
			if err = t.pause(target); err == nil {
				paused[target] = true
			}
		case FaultResume:
			if !paused[target] {
				continue // its pause was skipped
			}
			err = t.resume(target)
			delete(paused, target)
		case FaultCrash:
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			target, err = t.leader(lctx)
			cancel()
			if err == nil {
				err = t.kill(target)
				crashed[ev.Crash] = target
			}
		case FaultRestart:
			target = crashed[ev.Crash]
			if target == "" {
				continue
			}
			err = t.restart(ctx, target)
		case FaultPartition:
			err = t.partition(ev.Nodes)
		case FaultHeal:
			err = t.heal()
		}
		if onEvent != nil {
			onEvent(ev, target, err)
		}
	}
	if hold {
		<-ctx.Done()
	}
}

// hashicorpTarget is the reference cluster behind its toxiproxy mesh, a
// proxy per directed link.
type hashicorpTarget struct {
	c  *Cluster
	m  *Mesh
	sc *sim.Scenario
}

func (h hashicorpTarget) process(node string) string { return node }
func (h hashicorpTarget) running(id string) bool     { return h.c.Running(id) }
func (h hashicorpTarget) pause(id string) error      { return h.c.Pause(id) }
func (h hashicorpTarget) resume(id string) error     { return h.c.Resume(id) }
func (h hashicorpTarget) kill(id string) error       { return h.c.Kill(id) }
func (h hashicorpTarget) partition(ids []string) error {
	return h.m.Partition(ids)
}
func (h hashicorpTarget) heal() error { return h.m.Heal() }

func (h hashicorpTarget) restart(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return h.c.Restart(rctx, id)
}

func (h hashicorpTarget) leader(ctx context.Context) (string, error) {
	id, _, err := h.c.WaitLeader(ctx)
	return id, err
}

func (h hashicorpTarget) network(extra time.Duration) error {
	for _, l := range h.m.Links() {
		n := h.sc.LinkNetwork(l[0], l[1])
		f := h.m.Fault(l[0], l[1])
		f.Latency, f.Jitter = n.Delay+extra, n.Jitter
		if err := h.m.SetLink(l[0], l[1], f); err != nil {
			return err
		}
	}
	return nil
}

func (h hashicorpTarget) clear() {
	_ = h.m.Heal()
	for _, l := range h.m.Links() {
		_ = h.m.SetLink(l[0], l[1], LinkFault{})
	}
}
