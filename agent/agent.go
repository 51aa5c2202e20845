// Package agent is the sidecar's control loop: every tick it takes one
// sample from its host, lets the recommender propose, lets the policy
// decide, hands the decision to the host adapter and writes one JSON line
// saying what was observed, proposed, decided and why.
//
// agent imports collector, model and policy; host adapters satisfy its Host
// interface without importing it.
package agent

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

// Host is what the agent needs from a host adapter.
type Host interface {
	// Sample takes one sample of the host node.
	Sample() collector.Sample
	// Apply puts a decided base election timeout into force (live hosts)
	// and renews the adapter's lease.
	Apply(timeout time.Duration) error
	// Live reports whether Apply changes the host (true) or only advises.
	Live() bool
}

// Config configures an Agent.
type Config struct {
	// Tick is the sampling period (default 100ms).
	Tick time.Duration
	// Recommender proposes; Policy bounds (default: the embedded policy).
	Recommender model.Recommender
	Policy      *policy.Policy
	// Log receives one line per decision (JSON when its format is JSON).
	Log hclog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Agent runs the loop for one host node.
type Agent struct {
	host Host
	cfg  Config
	gov  *policy.Governor
}

// New returns an agent for host.
func New(host Host, cfg Config) *Agent {
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Policy == nil {
		cfg.Policy = policy.Default()
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Agent{host: host, cfg: cfg, gov: policy.NewGovernor(cfg.Policy)}
}

// Step runs one tick: sample, propose, decide, apply, log.
func (a *Agent) Step() (policy.Decision, error) {
	s := a.host.Sample()
	a.cfg.Recommender.Observe(s)
	prop := a.cfg.Recommender.Propose()
	d := a.gov.Step(a.cfg.Now(), s, prop)
	var err error
	applied := false
	if a.host.Live() {
		if err = a.host.Apply(d.Timeout); err == nil {
			applied = true
		} else {
			// The host refused: what is in force is what the host
			// reports, not what was decided.
			a.gov.SetCurrent(s.HeartbeatTimeout)
		}
	}
	a.log(s, prop, &d, applied, err)
	return d, err
}

func (a *Agent) log(s collector.Sample, p model.Proposal, d *policy.Decision, applied bool, err error) {
	var rules []map[string]string
	for _, c := range d.Checks() {
		rules = append(rules, map[string]string{"name": c.Name, "pos": c.Pos.String(), "effect": c.Effect.String(), "reason": c.Reason()})
	}
	args := []any{
		"node", s.Node, "role", s.Role.String(), "term", s.Term, "leader", s.Leader,
		"last_contact_ms", ms(s.LastContact), "heartbeat_gap_ms", ms(s.HeartbeatGap),
		"elections", s.ElectionsInWindow, "rpc_retries", s.RPCRetries,
		"recommender", a.cfg.Recommender.Name(), "proposal_ms", ms(p.Timeout), "confidence", p.Confidence, "proposal_reason", p.Reason,
		"decision_ms", ms(d.Timeout), "held", d.Held, "unstable", d.Unstable, "checks", rules,
		"live", a.host.Live(), "applied", applied,
	}
	if err != nil {
		args = append(args, "error", err.Error())
	}
	a.cfg.Log.Info("decision", args...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run steps every tick until ctx ends. Errors from the host are logged and
// the loop goes on: the adapter's lease keeps the host safe meanwhile.
func (a *Agent) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.Step()
		}
	}
}
