package policy

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// ValidationError is one problem Validate found in a policy: the field (by
// its HCL name), where it is when the policy came from a file, and what is
// wrong.
type ValidationError struct {
	Field string
	Pos   Pos // zero for a policy built in Go
	Msg   string
}

func (e *ValidationError) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Validate checks a policy as hashicorp/raft's ValidateConfig checks a
// Config: every bound within its range, min ≤ max, the host's hard limits,
// the rule count and each rule built by Parse. Parse, ParseFile, Default
// and Preset call it; call it on a policy built or changed in Go before
// handing it to Decide. The error joins one *ValidationError per problem
// (errors.As finds the first), each naming the offending values.
func (p *Policy) Validate() error {
	var errs []error
	for _, f := range p.findings() {
		errs = append(errs, &ValidationError{Field: f.field, Pos: rangePos(f.rng), Msg: f.msg})
	}
	return errors.Join(errs...)
}

// finding is one problem, at the offending value's range.
type finding struct {
	field, msg string
	rng        *hcl.Range
}

// validate returns Validate's findings as diagnostics for Parse.
func (p *Policy) validate() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, f := range p.findings() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: f.msg, Subject: f.rng})
	}
	return diags
}

func rangePos(r *hcl.Range) Pos {
	if r == nil || r.Filename == "" {
		return Pos{}
	}
	return posOf(*r)
}

// findings are Validate's problems, each at the offending value's range
// (the file's start when the file left it out; none for a policy built in
// Go).
func (p *Policy) findings() []finding {
	var out []finding
	at := func(field string) *hcl.Range {
		if r, ok := p.ranges[field]; ok {
			return &r
		}
		return p.fileStart
	}
	bad := func(field, format string, args ...any) {
		out = append(out, finding{field: field, msg: fmt.Sprintf(format, args...), rng: at(field)})
	}
	b := p.Bounds
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"election_min", b.ElectionMin}, {"election_max", b.ElectionMax}, {"heartbeat_min", b.HeartbeatMin},
		{"heartbeat_max", b.HeartbeatMax}, {"stale_after", b.StaleAfter}} {
		if d.v <= 0 {
			bad(d.name, "%s must be positive, got %s", d.name, d.v)
		}
	}
	if b.CalmFor < 0 {
		bad("calm_for", "calm_for must not be negative, got %s", b.CalmFor)
	}
	for _, n := range []struct {
		name     string
		v        float64
		min, max float64
	}{{"rtt_factor", b.RTTFactor, 0, 1000}, {"election_rtts", b.ElectionRTTs, 0, 100}, {"heartbeat_factor", b.HeartbeatFactor, 1, 1000},
		{"successor_factor", b.SuccessorFactor, 0, 1}, {"step_up", b.StepUp, 0.01, 100},
		{"step_down", b.StepDown, 0, 0.99}, {"min_confidence", b.MinConfidence, 0, 1}} {
		if !(n.v >= n.min && n.v <= n.max) { // NaN fails too
			bad(n.name, "%s must be within [%g, %g], got %g", n.name, n.min, n.max, n.v)
		}
	}
	if b.ElectionMin > b.ElectionMax {
		bad("election_min", "election_min (%s) is above election_max (%s)", b.ElectionMin, b.ElectionMax)
	}
	if b.HeartbeatMin > b.HeartbeatMax {
		bad("heartbeat_min", "heartbeat_min (%s) is above heartbeat_max (%s)", b.HeartbeatMin, b.HeartbeatMax)
	}
	if !p.Host.Kind.Valid() {
		bad("kind", "unknown host kind %q; want %s", p.Host.Kind, HostKindList())
	}
	if p.Host.LeaderLeaseTimeout < 0 {
		bad("leader_lease_timeout", "leader_lease_timeout must not be negative, got %s", p.Host.LeaderLeaseTimeout)
	}
	if p.Host.Kind.HashicorpFamily() {
		if l := p.Host.LeaderLeaseTimeout; l > 0 && l < HashicorpMinTimeout {
			bad("leader_lease_timeout", "leader_lease_timeout %s is below hashicorp/raft's hard limit of %s: the node would refuse to start", l, HashicorpMinTimeout)
		}
		if b.ElectionMin < HashicorpMinTimeout {
			bad("election_min", "election_min %s is below hashicorp/raft's hard limit of %s", b.ElectionMin, HashicorpMinTimeout)
		}
		if l := p.Host.LeaderLeaseTimeout; l > 0 && b.ElectionMax < l {
			bad("election_max", "election_max %s is below the leader lease timeout %s, which hashicorp/raft requires HeartbeatTimeout to stay above", b.ElectionMax, l)
		}
	}
	if p.Stability.MaxElections < 0 {
		bad("max_elections", "max_elections must not be negative, got %d", p.Stability.MaxElections)
	}
	if len(p.Rules) > MaxRules {
		bad("rules", "%d rules; at most %d are allowed", len(p.Rules), MaxRules)
	}
	for _, r := range p.Rules {
		if !r.parsed {
			bad("rule", "rule %q was not built by Parse: rules are written in HCL, where their conditions are compiled", r.Name)
		}
	}
	return out
}
