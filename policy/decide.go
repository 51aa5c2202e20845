package policy

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// CheckID names an invariant or a step of Decide. Rules are CheckRule.
type CheckID uint8

// The checks Decide applies, in this order (see Decide).
const (
	CheckTelemetry      CheckID = iota + 1 // invariant 7: bad or stale telemetry holds
	CheckFreeze                            // operator's freeze switch holds
	CheckConfidence                        // a proposal below min_confidence holds
	CheckRule                              // an operator rule fired (or could not be evaluated)
	CheckRiskCap                           // invariant 5: no decrease while unstable
	CheckHysteresis                        // invariant 4: decreases need calm_for of calm time
	CheckStepUp                            // invariant 4: at most step_up per decision
	CheckStepDown                          // invariant 4: at most step_down per decision
	CheckRTTFloor                          // invariant 2: ≥ rtt_factor × p99 RTT
	CheckElectionRTTs                      // invariant 2: ≥ election_rtts × mean RTT
	CheckHeartbeatFloor                    // invariant 2: ≥ heartbeat_factor × heartbeat interval
	CheckHostFloor                         // invariant 3: host limits (5ms, leader lease)
	CheckQuorum                            // invariant 6: pre-vote and > N/2 unreachable keep ≥ min
	CheckSuccessor                         // the leader's successor times out at successor_factor × the value
	CheckBounds                            // invariant 1: min ≤ election ≤ max, final
)

var checkNames = [...]string{
	CheckTelemetry: "bad-telemetry", CheckFreeze: "freeze", CheckConfidence: "low-confidence",
	CheckRule: "rule", CheckRiskCap: "risk-cap", CheckHysteresis: "hysteresis",
	CheckStepUp: "step-up", CheckStepDown: "step-down", CheckRTTFloor: "rtt-floor", CheckElectionRTTs: "election-rtts",
	CheckHeartbeatFloor: "heartbeat-floor", CheckHostFloor: "host-limit", CheckQuorum: "prevote-quorum",
	CheckSuccessor: "successor", CheckBounds: "bounds",
}

func (c CheckID) String() string { return checkNames[c] }

// Effect is what a check did to the value.
type Effect uint8

// Effects of a check.
const (
	Confirmed    Effect = iota + 1 // the check applied and the value already satisfied it
	Changed                        // the check moved the value
	Held                           // the check held the value in force
	NotEvaluated                   // a rule read a field the sample did not have
)

func (e Effect) String() string {
	return [...]string{"", "confirmed", "changed", "held", "not evaluated"}[e]
}

// Check is one invariant or rule that changed or confirmed the value.
type Check struct {
	ID     CheckID
	Name   string // the rule's name for CheckRule; the check's name otherwise
	Pos    Pos    // the rule's HCL position; the bounds' for invariants
	Effect Effect
	Before time.Duration
	After  time.Duration
	// Bound is the limit the check applied (floor, ceiling, step limit);
	// Input is what it was computed from (p99 RTT, heartbeat interval).
	Bound time.Duration
	Input time.Duration
	// Problem says what was wrong with the telemetry or proposal (CheckTelemetry).
	Problem string
	// Missing has a bit per rule variable the sample lacked.
	Missing uint64
	reason  string
}

// Reason says in plain words why the check did what it did.
func (c Check) Reason() string {
	switch c.ID {
	case CheckTelemetry:
		return "telemetry cannot be trusted (" + c.Problem + "): holding the last safe value"
	case CheckFreeze:
		return "the policy is frozen: holding the value in force"
	case CheckConfidence:
		return fmt.Sprintf("the proposal's confidence is below min_confidence: holding %s", short(c.After))
	case CheckRule:
		if c.Effect == NotEvaluated {
			return "not evaluated: the sample has no " + missingNames(c.Missing)
		}
		if c.reason == "" {
			return "its condition holds"
		}
		return c.reason
	case CheckRiskCap:
		return "the node is unstable (failed elections, term churn or lost quorum contact): the timeout may not decrease"
	case CheckHysteresis:
		return fmt.Sprintf("decreases need %s of calm since the last change first (have %s)", short(c.Bound), short(c.Input))
	case CheckStepUp:
		return fmt.Sprintf("one decision may raise the timeout to at most %s", short(c.Bound))
	case CheckStepDown:
		return fmt.Sprintf("one decision may lower the timeout to no less than %s", short(c.Bound))
	case CheckRTTFloor:
		return fmt.Sprintf("the timeout must be at least rtt_factor × p99 RTT (%s) = %s", short(c.Input), short(c.Bound))
	case CheckElectionRTTs:
		return fmt.Sprintf("an election's round trips must fit in the timeout: at least election_rtts × mean RTT (%s) = %s", short(c.Input), short(c.Bound))
	case CheckHeartbeatFloor:
		return fmt.Sprintf("the timeout must be at least heartbeat_factor × heartbeat interval (%s) = %s", short(c.Input), short(c.Bound))
	case CheckHostFloor:
		return fmt.Sprintf("the host requires at least %s (hashicorp/raft: 5ms and the leader lease)", short(c.Bound))
	case CheckQuorum:
		return fmt.Sprintf("pre-vote is on and more than half the voters are unreachable: keep at least election_min %s", short(c.Bound))
	case CheckSuccessor:
		return fmt.Sprintf("this node is the leader's successor (the next voter after it in ID order), pre-vote is on and "+
			"the other voters ignore candidates until their own timeout runs out: it alone times out at successor_factor × %s, "+
			"no lower than the heartbeat and host floors, so after a leader failure it is usually the only candidate", short(c.Input))
	case CheckBounds:
		return fmt.Sprintf("the policy bounds the timeout to [%s, %s]", short(c.Input), short(c.Bound))
	}
	return ""
}

// short rounds a duration for people: to the millisecond from 10ms up, to
// 10µs below ("804ms", not "804.27643ms").
func short(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond || d <= -10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

func missingNames(mask uint64) string {
	var names []string
	for i := varID(0); i < numVars; i++ {
		if mask&(1<<i) != 0 {
			names = append(names, vars[i].name)
		}
	}
	return strings.Join(names, ", ")
}

// String renders the check as one line of the recommendation log.
func (c Check) String() string {
	kind := "invariant"
	if c.ID == CheckRule {
		kind = "rule"
	}
	move := short(c.After).String()
	if c.Effect == Changed {
		move = short(c.Before).String() + " → " + short(c.After).String()
	}
	return fmt.Sprintf("%s %s (%s) %s %s: %s", kind, c.Name, c.Pos, c.Effect, move, c.Reason())
}

const maxChecks = 16 + MaxRules

// Decision is the bounded outcome of one proposal.
type Decision struct {
	// Timeout is the base election timeout to apply (hashicorp/raft:
	// HeartbeatTimeout). It is always within the policy's bounds.
	Timeout time.Duration
	// Base is the value every voter of the cluster would get: Timeout
	// before the successor stage shortened it (equal to Timeout when it
	// did not). Rate limits and hysteresis move Base; the governor keeps
	// it as the reference for the next decision.
	Base time.Duration
	// Heartbeat is the bounded heartbeat interval for hosts that take one
	// (0: the host derives it).
	Heartbeat time.Duration
	// Proposed is the recommender's proposal, for the log.
	Proposed time.Duration
	// Held is true when the value in force was kept on purpose (bad
	// telemetry, freeze, low confidence, a hold rule).
	Held bool
	// Unstable is the risk-cap verdict for this sample.
	Unstable bool
	// NoReference is true when no value in force was known (no Current
	// and no host timeouts in the sample), so no rate limit could apply:
	// a live host must keep its own setting rather than take Timeout.
	NoReference bool
	checks      [maxChecks]Check
	n           int
}

// Checks returns every invariant and rule that changed or confirmed the
// value, in the order they were applied.
func (d *Decision) Checks() []Check { return d.checks[:d.n] }

// Explain renders the decision and its checks, one per line.
func (d *Decision) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "decided %s (proposed %s)", d.Timeout, d.Proposed)
	if d.Held {
		b.WriteString(", held")
	}
	for _, c := range d.Checks() {
		b.WriteString("\n  ")
		b.WriteString(c.String())
	}
	return b.String()
}

func (d *Decision) add(c Check) {
	if d.n < len(d.checks) {
		d.checks[d.n] = c
		d.n++
	}
}

// State is everything Decide needs besides the proposal.
type State struct {
	// Sample is the newest telemetry of the node.
	Sample collector.Sample
	// Now is when Decide runs (staleness is judged against it).
	Now time.Time
	// Current is the timeout the host has in force; zero when unknown (the
	// first decision), in which case rate limits have no reference.
	Current time.Duration
	// Calm is how long the node has been calm (stable, nothing held) since
	// the calm span began or the value last went down, by the clock Now
	// is read from. Decreases need Bounds.CalmFor of it: time, not a count
	// of samples, so a flood of samples cannot rush a decrease.
	Calm time.Duration
}

// Unstable reports the risk-cap verdict for a sample: failed elections or
// term churn in the window, or this node cut off from a quorum.
func (p *Policy) Unstable(s *collector.Sample) bool {
	if s.Has(collector.FieldElections) && (s.FailedElectionsInWindow > 0 || s.ElectionsInWindow > p.Stability.MaxElections) {
		return true
	}
	if s.Has(collector.FieldUnreachableVoters|collector.FieldClusterSize) && s.ClusterSize > 0 {
		reachable := s.ClusterSize - s.UnreachableVoters // counting itself
		if reachable < s.ClusterSize/2+1 {
			return true
		}
	}
	return false
}

func clampDur(v, lo, hi time.Duration) time.Duration {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func scale(d time.Duration, f float64) time.Duration {
	x := float64(d) * f
	if x > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return time.Duration(x)
}

// Decide bounds a proposal. It is pure: the same state and proposal always
// give the same decision, it reads no clock and does no I/O, and whatever
// the proposal or the telemetry (NaN, negative, stale, missing) the
// returned Timeout lies within [election_min, election_max].
//
// Order of application, and why:
//  1. telemetry (invariant 7), freeze, confidence: any of them holds the
//     value in force — nothing below acts on input that cannot be trusted;
//  2. operator rules, in file order: holds, then floors and ceilings narrow
//     the target, then no_decrease — rules shape where the value is going;
//  3. risk cap (invariant 5) and hysteresis (invariant 4): no decrease while
//     unstable or before a run of calm samples;
//  4. step limits (invariant 4): how far one decision may move;
//  5. safety floors (invariants 2, 3, 6): the RTT floors, the heartbeat
//     floor, the host's limits and the pre-vote quorum rule raise the value
//     even past step_up, since a timeout below them causes elections;
//  6. successor: the leader's successor alone goes down to
//     successor_factor × the value, never below the floors every node
//     keeps (see IsSuccessor and Bounds.SuccessorFactor);
//  7. bounds (invariant 1) last, so min ≤ election ≤ max holds whatever
//     came before — rules and floors can never widen them.
func (p *Policy) Decide(st State, prop model.Proposal) Decision {
	b := &p.Bounds
	s := &st.Sample
	d := Decision{Proposed: prop.Timeout, Unstable: p.Unstable(s)}
	boundsPos := p.BoundsPos
	cur := st.Current
	haveCur := cur > 0
	// The last safe value: the value in force, or the host's own setting,
	// brought within bounds.
	safe := cur
	if !haveCur && s.Has(collector.FieldHostTimeouts) && s.HeartbeatTimeout > 0 {
		safe = s.HeartbeatTimeout
	}
	if safe <= 0 {
		safe = b.ElectionMin
		d.NoReference = true
	}
	safe = clampDur(safe, b.ElectionMin, b.ElectionMax)

	finish := func(v time.Duration) Decision {
		after := clampDur(v, b.ElectionMin, b.ElectionMax)
		c := Check{ID: CheckBounds, Name: CheckBounds.String(), Pos: boundsPos, Before: v, After: after, Effect: Confirmed,
			Input: b.ElectionMin, Bound: b.ElectionMax}
		if after != v {
			c.Effect = Changed
		}
		d.add(c)
		d.Timeout = after
		if d.Base == 0 {
			d.Base = after
		}
		if prop.Heartbeat > 0 {
			d.Heartbeat = clampDur(prop.Heartbeat, b.HeartbeatMin, b.HeartbeatMax)
		}
		return d
	}
	hold := func(id CheckID, problem string) Decision {
		d.Held = true
		d.add(Check{ID: id, Name: id.String(), Pos: boundsPos, Effect: Held, Before: prop.Timeout, After: safe, Problem: problem})
		return finish(safe)
	}

	// 1. Input that cannot be trusted holds the last safe value.
	if problem := telemetryProblem(s, st.Now, b.StaleAfter, prop); problem != "" {
		return hold(CheckTelemetry, problem)
	}
	if b.Freeze {
		return hold(CheckFreeze, "")
	}
	if prop.Confidence < b.MinConfidence {
		return hold(CheckConfidence, "")
	}
	v := prop.Timeout

	// 2. Rules.
	// Rule closures take the variables by pointer, which makes a local env
	// escape; a per-policy pool keeps Decide allocation-free. The env is
	// fully overwritten by fill, so reuse cannot leak state between calls.
	e, _ := p.envs.Get().(*env)
	if e == nil {
		e = new(env)
	}
	defer p.envs.Put(e)
	e.fill(s, cur, prop, d.Unstable, st.Calm)
	noDecrease := false
	for i := range p.Rules {
		r := &p.Rules[i]
		w := r.when(e)
		if !w.known {
			d.add(Check{ID: CheckRule, Name: r.Name, Pos: r.Pos, Effect: NotEvaluated, Before: v, After: v, Missing: unknownMask(r.reads, e)})
			continue
		}
		if !w.b {
			continue
		}
		c := Check{ID: CheckRule, Name: r.Name, Pos: r.Pos, Before: v, Effect: Confirmed, reason: r.Reason}
		switch r.Action {
		case ActionHold:
			v = safe
			c.Effect = Held
			d.Held = true
		case ActionNoDecrease:
			noDecrease = true
		case ActionFloor, ActionCeiling:
			bv := r.value(e)
			if !bv.known || bv.n < 0 {
				c.Effect, c.Missing = NotEvaluated, unknownMask(r.reads, e)
				d.add(c)
				continue
			}
			bound := time.Duration(math.Min(bv.n, float64(b.ElectionMax)/float64(time.Millisecond)) * float64(time.Millisecond))
			c.Bound = bound
			if r.Action == ActionFloor && v < bound {
				v, c.Effect = bound, Changed
			} else if r.Action == ActionCeiling && v > bound {
				v, c.Effect = bound, Changed
			}
		}
		c.After = v
		d.add(c)
	}

	if haveCur {
		// 3. Risk cap, hysteresis and no_decrease rules.
		if v < cur {
			switch {
			case d.Unstable:
				d.add(Check{ID: CheckRiskCap, Name: CheckRiskCap.String(), Pos: boundsPos, Effect: Changed, Before: v, After: cur})
				v = cur
			case st.Calm < b.CalmFor:
				d.add(Check{ID: CheckHysteresis, Name: CheckHysteresis.String(), Pos: boundsPos, Effect: Changed, Before: v, After: cur,
					Bound: b.CalmFor, Input: st.Calm})
				v = cur
			case noDecrease:
				v = cur
			}
		}
		// 4. Step limits.
		if up := cur + scale(cur, b.StepUp); v > up {
			d.add(Check{ID: CheckStepUp, Name: CheckStepUp.String(), Pos: boundsPos, Effect: Changed, Before: v, After: up, Bound: up})
			v = up
		}
		if down := cur - scale(cur, b.StepDown); v < down {
			d.add(Check{ID: CheckStepDown, Name: CheckStepDown.String(), Pos: boundsPos, Effect: Changed, Before: v, After: down, Bound: down})
			v = down
		}
	}

	// 5. Safety floors.
	floor := func(id CheckID, bound, input time.Duration) {
		c := Check{ID: id, Name: id.String(), Pos: boundsPos, Effect: Confirmed, Before: v, After: v, Bound: bound, Input: input}
		if v < bound {
			v, c.After, c.Effect = bound, bound, Changed
		}
		d.add(c)
	}
	if s.Has(collector.FieldRTT) && s.RTTP99 > 0 && b.RTTFactor > 0 {
		floor(CheckRTTFloor, scale(s.RTTP99, b.RTTFactor), s.RTTP99)
	}
	if s.Has(collector.FieldRTT) && s.RTTMean > 0 && b.ElectionRTTs > 0 {
		floor(CheckElectionRTTs, scale(s.RTTMean, b.ElectionRTTs), s.RTTMean)
	}
	// The floors every node keeps, the leader's successor too (stage 6):
	// election_min, the heartbeat floor and the host's limits.
	keep := b.ElectionMin
	if s.Has(collector.FieldHostTimeouts) && s.HeartbeatInterval > 0 {
		hb := scale(s.HeartbeatInterval, b.HeartbeatFactor)
		floor(CheckHeartbeatFloor, hb, s.HeartbeatInterval)
		keep = max(keep, hb)
	}
	if p.Host.Kind.HashicorpFamily() {
		hf := max(HashicorpMinTimeout, p.Host.LeaderLeaseTimeout)
		if s.Has(collector.FieldHostTimeouts) {
			hf = max(hf, s.LeaderLeaseTimeout)
		}
		floor(CheckHostFloor, hf, 0)
		keep = max(keep, hf)
	}
	if s.Has(collector.FieldPreVote|collector.FieldUnreachableVoters|collector.FieldClusterSize) &&
		s.PreVote && s.UnreachableVoters > s.ClusterSize/2 {
		floor(CheckQuorum, b.ElectionMin, 0)
	}
	// 6. The leader's successor alone goes lower, down to the floors that
	// hold for every node (heartbeat, host) and election_min.
	if b.SuccessorFactor > 0 && IsSuccessor(s) {
		base := clampDur(v, b.ElectionMin, b.ElectionMax)
		if t := max(scale(base, b.SuccessorFactor), keep); t < base {
			d.Base = base
			d.add(Check{ID: CheckSuccessor, Name: CheckSuccessor.String(), Pos: boundsPos, Effect: Changed, Before: base, After: t,
				Bound: keep, Input: base})
			v = t
		}
	}
	// 7. Bounds.
	return finish(v)
}

// IsSuccessor reports whether the sample's node is its leader's
// successor: a follower with pre-vote on, on a host whose voters ignore
// candidates until their own timeout has passed since they heard from the
// leader (Sample.VoteLease), that comes next after the leader in the
// voters' ascending ID order (after the last comes the first). Every node
// of a configuration computes the same successor, so at most one shortens
// its timeout; a leader that fails leaves one node whose timer runs out
// first, and the others, whose timers run out later, vote for it instead
// of standing against it.
func IsSuccessor(s *collector.Sample) bool {
	if !s.Has(collector.FieldVoters|collector.FieldLeader|collector.FieldRole|collector.FieldPreVote) ||
		!s.PreVote || !s.VoteLease || s.Role != collector.RoleFollower || s.Leader == "" || s.Leader == s.Node || len(s.Voters) < 3 {
		return false
	}
	for i, id := range s.Voters {
		if id == s.Leader {
			return s.Voters[(i+1)%len(s.Voters)] == s.Node
		}
	}
	return false
}

func unknownMask(reads uint64, e *env) uint64 {
	var m uint64
	for i := varID(0); i < numVars; i++ {
		if reads&(1<<i) != 0 && !e.v[i].known {
			m |= 1 << i
		}
	}
	return m
}

// telemetryProblem says why a sample or proposal cannot be acted on, or "".
// The strings are constants so the common path allocates nothing.
func telemetryProblem(s *collector.Sample, now time.Time, staleAfter time.Duration, p model.Proposal) string {
	if p.Timeout <= 0 {
		return "no usable proposal"
	}
	if math.IsNaN(p.Confidence) || p.Confidence < 0 || p.Confidence > 1 {
		return "proposal confidence outside 0-1"
	}
	if p, bad := s.FirstProblem(now, staleAfter); bad {
		return p.Reason
	}
	return ""
}

// Governor carries the state Decide needs from one tick to the next: the
// value the host has in force and when the node's calm span began. The
// simulator and the agent use it; Decide itself stays pure.
type Governor struct {
	p *Policy
	// current is the reference for the next decision: the last
	// decision's Base. applied is its Timeout, what the host was told to
	// put in force; they differ on the leader's successor.
	current, applied time.Duration
	calmSince        time.Time // zero: not calm
}

// NewGovernor returns a governor for policy p with no value in force yet.
func NewGovernor(p *Policy) *Governor { return &Governor{p: p} }

// Policy returns the governor's policy.
func (g *Governor) Policy() *Policy { return g.p }

// SetCurrent tells the governor the value the host has in force (after a
// restart, or when the host was changed behind its back). The value the
// last decision applied leaves the reference as it is: on the leader's
// successor that is the shortened timeout, while the reference stays the
// value every voter gets. Within a millisecond counts as the same value: a
// host may round what it applies (a tick period is the timeout divided by
// the ticks).
func (g *Governor) SetCurrent(d time.Duration) {
	if g.applied == 0 || d < g.applied-time.Millisecond || d > g.applied+time.Millisecond {
		g.current, g.applied = d, d
	}
}

// WithPolicy returns a governor for p that carries over g's value in force
// and reference; the calm span starts over.
func (g *Governor) WithPolicy(p *Policy) *Governor {
	return &Governor{p: p, current: g.current, applied: g.applied}
}

// Resync forgets the value in force: the next Step takes it from the
// sample's host timeouts, or holds without a reference when the sample has
// none. Call it whenever what the host runs may differ from the last
// decision: a new session, a refused directive.
func (g *Governor) Resync() { g.current, g.applied = 0, 0 }

// Current returns the value in force (zero when unknown).
func (g *Governor) Current() time.Duration { return g.current }

// Step decides for one sample at time now and remembers the outcome as the
// value in force.
func (g *Governor) Step(now time.Time, s collector.Sample, prop model.Proposal) Decision {
	// Without a value in force (the first decision, or after Resync),
	// what is in force is the host's own setting: rate limits apply from
	// there.
	if g.current == 0 && s.Has(collector.FieldHostTimeouts) && s.HeartbeatTimeout > 0 {
		g.current = s.HeartbeatTimeout
	}
	var calm time.Duration
	if !g.calmSince.IsZero() && now.After(g.calmSince) {
		calm = now.Sub(g.calmSince)
	}
	before := g.current
	d := g.p.Decide(State{Sample: s, Now: now, Current: g.current, Calm: calm}, prop)
	switch {
	case d.Unstable || d.Held:
		g.calmSince = time.Time{}
	case g.calmSince.IsZero() || d.Base < before:
		// A calm span starts, or starts over after a decrease: the next
		// decrease needs calm_for more of calm time.
		g.calmSince = now
	}
	// Advisory hosts have no value in force but the advice: it becomes
	// the reference. A live host that got no reference keeps its own, and
	// its caller resyncs.
	g.current, g.applied = d.Base, d.Timeout
	return d
}
