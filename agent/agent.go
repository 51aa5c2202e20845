package agent

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/nsraft/nsraft/adapter/link"
	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

// Host is what the agent needs from an in-process host adapter.
type Host interface {
	// Sample takes one sample of the host node.
	Sample() collector.Sample
	// Apply puts a decided base election timeout into force (live hosts)
	// and renews the adapter's lease.
	Apply(timeout time.Duration) error
	// Live reports whether Apply changes the host (true) or only advises.
	Live() bool
}

// Handoffer is implemented by hosts that can move leadership away from a
// degrading leader (etcd). It runs after each decision with the policy's
// stability verdict and says what it did, or why it held back.
type Handoffer interface {
	Handoff(s collector.Sample, unstable bool) (string, error)
}

// HandoffReporter is implemented by hosts that announce hand-offs: the
// agent exports whether its leader is judged degrading and a hand-off is
// planned (a moment before it happens), and how many it made.
type HandoffReporter interface {
	LeaderDegraded() bool
	HandoffPlanned() bool
	Handoffs() int
}

// Advisor is implemented by hosts that can say in an operator's words
// what to set for a decided timeout (Consul's raft_multiplier, etcd's
// flags). The advice goes into the log and the decision stream.
type Advisor interface {
	Advice(s collector.Sample, timeout time.Duration) string
}

// FlagAdvisor is implemented by hosts whose advice is a restart-time
// heartbeat interval and election timeout (etcd servers); the agent
// exports them as gauges when the advice changes.
type FlagAdvisor interface {
	AdvisedFlags() (heartbeat, election time.Duration)
}

// Config configures an Agent.
type Config struct {
	// Node names the agent's host node in logs when samples carry none.
	Node string
	// HostKind is hashicorp, consul, etcd or etcd-raft (for the log).
	HostKind policy.HostKind
	// Tick is the sampling period (default 100ms).
	Tick time.Duration
	// LeaseTTL is how long a decision stays in force on the host without
	// a fresh one (default 10 ticks, at least 1s).
	LeaseTTL time.Duration
	// Recommender proposes; Policy bounds (default: the embedded policy).
	Recommender model.Recommender
	Policy      *policy.Policy
	// Log receives one line per decision (JSON when its format is JSON).
	Log hclog.Logger
	// Ops receives operational messages (sessions, refusals); default Log.
	Ops hclog.Logger
	// LogChanges logs a decision only when its timeout differs from the
	// last one logged, or it carries an error; metrics and Watch still
	// see every decision.
	LogChanges bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// History is how many recent decisions Watch can replay (default 256).
	History int
	// Handoff are the rules for hosts that hand leadership off on the
	// agent's word (hashicorp/raft nodes linked with hand-off on).
	Handoff HandoffRules
	// Version labels ns_agent_build_info (default: the version the Go
	// toolchain stamped into the binary, or "devel").
	Version string

	metrics *Metrics // the daemon's, when it made them first
}

// Agent runs the loop for one host node. Its methods are safe for
// concurrent use.
type Agent struct {
	cfg     Config
	hub     *hub
	metrics *Metrics

	mu      sync.Mutex
	rec     model.Recommender
	gov     *policy.Governor
	advice  string // the host's advice last logged
	handoff handoffPlanner

	logMu      sync.Mutex
	lastLogged time.Duration // the last logged decision (LogChanges)
}

// New returns an agent. cfg.Recommender must be set.
func New(cfg Config) *Agent {
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = max(time.Second, 10*cfg.Tick)
	}
	if cfg.Policy == nil {
		cfg.Policy = policy.Default()
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Ops == nil {
		cfg.Ops = cfg.Log
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.History <= 0 {
		cfg.History = 256
	}
	if cfg.HostKind == "" {
		cfg.HostKind = policy.HostHashicorp
	}
	cfg.Handoff.defaults()
	m := cfg.metrics
	if m == nil {
		m = newMetrics(cfg.Node, ReadBuildInfo(cfg.Version))
	}
	return &Agent{cfg: cfg, rec: cfg.Recommender, gov: policy.NewGovernor(cfg.Policy),
		hub: newHub(cfg.History), metrics: m, handoff: handoffPlanner{rules: cfg.Handoff}}
}

// Tick is the agent's sampling period.
func (a *Agent) Tick() time.Duration { return a.cfg.Tick }

// LeaseTTL is how long the host keeps a decision without a fresh one.
func (a *Agent) LeaseTTL() time.Duration { return a.cfg.LeaseTTL }

// Metrics returns the agent's Prometheus collectors.
func (a *Agent) Metrics() *Metrics { return a.metrics }

// Record is one decision with everything the recommendation log says
// about it. The agent fills it in Decide; Finish adds the outcome.
type Record struct {
	At          time.Time
	Node        string
	HostKind    policy.HostKind
	Sample      collector.Sample
	Recommender string
	Proposal    model.Proposal
	Decision    policy.Decision
	Previous    time.Duration // the decision before (0 for the first)
	Min, Max    time.Duration // the policy's hard bounds
	Live        bool
	Applied     bool
	Err         string
	Advice      string // what to set, for advisory hosts
	// AdviceChanged says Advice differs from the previous decision's: only
	// then does the log carry it (one line) and the metrics count it.
	AdviceChanged bool
	// Handoff says what the host's leader hand-off did, announced or why
	// it held; HandoffState is set for hosts with hand-off.
	Handoff      string
	HandoffState *HandoffState
}

// HandoffState is a hand-off host's state after a decision.
type HandoffState struct {
	Degraded, Planned bool
	Moves             int
}

// Decide runs one sample through the recommender and the policy. The
// caller applies the decision and reports the outcome with Finish.
func (a *Agent) Decide(s collector.Sample, live bool) *Record {
	now := a.cfg.Now()
	if s.Node == "" {
		s.Node = a.cfg.Node
	}
	a.mu.Lock()
	if live && s.Has(collector.FieldHostTimeouts) && s.HeartbeatTimeout > 0 {
		// Rate limits count from what the host has in force, as it says
		// itself, never from the agent's memory alone (invariant 4).
		a.gov.SetCurrent(s.HeartbeatTimeout)
	}
	prev := a.gov.Current()
	a.rec.Observe(s)
	prop := a.rec.Propose()
	d := a.gov.Step(now, s, prop)
	b := a.gov.Policy().Bounds
	name := a.rec.Name()
	a.mu.Unlock()
	return &Record{At: now, Node: s.Node, HostKind: a.cfg.HostKind, Sample: s, Recommender: name, Proposal: prop,
		Decision: d, Previous: prev, Min: b.ElectionMin, Max: b.ElectionMax, Live: live}
}

// Finish records the outcome of a decision: the host applied it (or
// refused, err), or only took it as advice. It writes the log line,
// updates the metrics and publishes the decision to watchers.
func (a *Agent) Finish(r *Record, applied bool, err error) {
	r.Applied = applied
	if err != nil {
		r.Err = err.Error()
		if r.Live {
			// The host refused: what is in force is what the host
			// reports next, not what was decided.
			a.Resync()
		}
	} else if r.Live && !applied && r.Decision.NoReference {
		// Nothing was put into force: the next sample says what is.
		a.Resync()
	}
	a.log(r)
	a.metrics.observe(r)
	a.hub.publish(r)
}

// Handoff applies the hand-off rules to a decided record and the host's
// own evidence: it fills the record's hand-off note and state, exports
// them, and returns the server to hand leadership to now ("" none).
func (a *Agent) Handoff(r *Record, e HandoffEvidence) string {
	a.mu.Lock()
	note, to, st := a.handoff.step(r.At, r.Sample, e, r.Decision.Unstable)
	a.mu.Unlock()
	r.Handoff, r.HandoffState = note, &st
	a.metrics.handoffs(r.Node, st.Degraded, st.Planned, st.Moves)
	return to
}

// Step runs one tick against an in-process host: sample, propose,
// decide, apply, log.
func (a *Agent) Step(h Host) (policy.Decision, error) {
	r := a.Decide(h.Sample(), h.Live())
	if adv, ok := h.(Advisor); ok {
		r.Advice = adv.Advice(r.Sample, r.Decision.Timeout)
		a.mu.Lock()
		if r.Advice != a.advice {
			r.AdviceChanged, a.advice = true, r.Advice
		}
		a.mu.Unlock()
		if fa, ok := h.(FlagAdvisor); ok && r.AdviceChanged {
			hb, et := fa.AdvisedFlags()
			a.metrics.advised(r.Node, hb, et)
		}
	}
	if ho, ok := h.(Handoffer); ok {
		note, err := ho.Handoff(r.Sample, r.Decision.Unstable)
		switch {
		case err != nil:
			r.Handoff = "hand-off held: " + err.Error()
		case note != "":
			r.Handoff = note
		}
		if hr, ok := h.(HandoffReporter); ok {
			r.HandoffState = &HandoffState{Degraded: hr.LeaderDegraded(), Planned: hr.HandoffPlanned(), Moves: hr.Handoffs()}
			a.metrics.handoffs(r.Node, r.HandoffState.Degraded, r.HandoffState.Planned, r.HandoffState.Moves)
		}
	}
	if tr, ok := h.(link.Transferrer); ok && a.cfg.Handoff.Enabled && tr.HandoffEnabled() {
		// Hosts polled in-process whose hand-off the agent plans (Consul
		// servers), under the same rules as linked hashicorp/raft nodes.
		e := tr.HandoffEvidence()
		if to := a.Handoff(r, HandoffEvidence(e)); to != "" {
			tr.Transfer(to)
		}
	}
	var err error
	applied := false
	// A decision with no reference is not applied: the host keeps its own.
	if r.Live && !r.Decision.NoReference {
		if err = h.Apply(r.Decision.Timeout); err == nil {
			applied = true
		}
	}
	a.Finish(r, applied, err)
	return r.Decision, err
}

// Run steps an in-process host every tick until ctx ends. Errors from the
// host are logged and the loop goes on: the adapter's lease keeps the host
// safe meanwhile.
func (a *Agent) Run(ctx context.Context, h Host) {
	t := time.NewTicker(a.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.Step(h)
		}
	}
}

// Resync makes the next decision take the host's value in force from its
// sample (or hold without a reference): on every new host session and
// every refused directive.
func (a *Agent) Resync() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gov.Resync()
}

// SetPolicy replaces the policy (SIGHUP). The value in force carries over,
// so the new policy's rate limits apply from it.
func (a *Agent) SetPolicy(p *policy.Policy) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gov = a.gov.WithPolicy(p)
}

// SetRecommender replaces the recommender (SIGHUP with new weights).
func (a *Agent) SetRecommender(r model.Recommender) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rec = r
}

// Policy returns the policy in use.
func (a *Agent) Policy() *policy.Policy {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gov.Policy()
}

func (a *Agent) log(r *Record) {
	s, p, d := &r.Sample, &r.Proposal, &r.Decision
	if r.AdviceChanged {
		a.cfg.Log.Info("advice", "node", r.Node, "host", r.HostKind, "advice", r.Advice)
	}
	if a.cfg.LogChanges {
		a.logMu.Lock()
		same := d.Timeout == a.lastLogged && r.Err == "" && r.Handoff == ""
		a.lastLogged = d.Timeout
		a.logMu.Unlock()
		if same {
			return
		}
	}
	var rules []map[string]string
	for _, c := range d.Checks() {
		rules = append(rules, map[string]string{"name": c.Name, "pos": c.Pos.String(), "effect": c.Effect.String(), "reason": c.Reason()})
	}
	args := []any{
		"node", r.Node, "host", r.HostKind, "role", s.Role.String(), "term", s.Term, "leader", s.Leader,
		"last_contact_ms", ms(s.LastContact), "heartbeat_gap_ms", ms(s.HeartbeatGap),
		"rtt_mean_ms", ms(s.RTTMean), "rtt_stddev_ms", ms(s.RTTStdDev), "rtt_p99_ms", ms(s.RTTP99),
		"replication_gap", s.ReplicationGap, "cpu_idle_pct", jsonNumber(s.CPUIdlePct),
		"elections", s.ElectionsInWindow, "failed_elections", s.FailedElectionsInWindow, "leader_stable_ms", ms(s.LeaderStableFor),
		"rpc_retries", s.RPCRetries, "rpc_failures", s.RPCFailures, "present", s.Present.String(),
		"recommender", r.Recommender, "proposal_ms", ms(p.Timeout), "confidence", jsonNumber(p.Confidence), "proposal_reason", p.Reason,
		"previous_ms", ms(r.Previous), "decision_ms", ms(d.Timeout), "held", d.Held, "unstable", d.Unstable, "checks", rules,
		"live", r.Live, "applied", r.Applied,
	}
	if s.Has(collector.FieldHostTimeouts) && s.HeartbeatTimeout > 0 {
		// What the host said it had in force: the reference of the step
		// limits, so a reader can check each step from the log alone.
		args = append(args, "host_timeout_ms", ms(s.HeartbeatTimeout))
	}
	if d.NoReference {
		args = append(args, "no_reference", true)
	}
	if r.Err != "" {
		args = append(args, "error", r.Err)
	}
	if r.Handoff != "" {
		args = append(args, "handoff", r.Handoff)
	}
	a.cfg.Log.Info("decision", args...)
}

func join(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// jsonNumber keeps a record with NaN or ±Inf telemetry in the log: JSON
// has no such numbers, and the encoder would drop the whole record. They
// are written as the strings "NaN", "+Inf" and "-Inf".
func jsonNumber(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return f
}
