package policy

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/nsraft/nsraft/configs"
)

// HostKind names the Raft implementation a policy is written for; it sets
// the host's hard limits.
type HostKind string

// Host kinds: the one list of them.
const (
	HostHashicorp HostKind = "hashicorp" // a Go service on hashicorp/raft, linked to the agent
	HostConsul    HostKind = "consul"    // a Consul server, read over HTTP
	HostEtcd      HostKind = "etcd"      // an etcd v3.5+ server, read over its client API and /metrics
	HostEtcdRaft  HostKind = "etcd-raft" // a go.etcd.io/raft embedder, linked through the tick driver
)

// HostKinds returns every host kind, in a fresh slice the caller may keep.
func HostKinds() []HostKind { return []HostKind{HostHashicorp, HostConsul, HostEtcd, HostEtcdRaft} }

// Valid reports whether k is one of HostKinds.
func (k HostKind) Valid() bool {
	switch k {
	case HostHashicorp, HostConsul, HostEtcd, HostEtcdRaft:
		return true
	}
	return false
}

// HashicorpFamily reports whether the host runs hashicorp/raft, whose
// ValidateConfig limits (HashicorpMinTimeout, the lease) apply.
func (k HostKind) HashicorpFamily() bool { return k == HostHashicorp || k == HostConsul }

// HostKindList renders HostKinds for messages: "hashicorp, consul, etcd or
// etcd-raft".
func HostKindList() string {
	ks := HostKinds()
	var b strings.Builder
	for i, k := range ks {
		switch {
		case i == len(ks)-1:
			b.WriteString(" or ")
		case i > 0:
			b.WriteString(", ")
		}
		b.WriteString(string(k))
	}
	return b.String()
}

// HashicorpMinTimeout is hashicorp/raft's ValidateConfig floor for
// HeartbeatTimeout and ElectionTimeout.
const HashicorpMinTimeout = 5 * time.Millisecond

// MaxRules bounds the rules of one policy, so a Decision holds every check
// in a fixed array and Decide allocates nothing.
const MaxRules = 32

// Bounds are the hard limits of a policy. Rules can only narrow them.
type Bounds struct {
	ElectionMin, ElectionMax   time.Duration
	HeartbeatMin, HeartbeatMax time.Duration
	// RTTFactor: election ≥ RTTFactor × p99 RTT (invariant 2); 0 turns
	// this floor off.
	RTTFactor float64
	// ElectionRTTs: election ≥ ElectionRTTs × mean RTT (invariant 2). An
	// election takes round trips — the pre-vote, the vote, the new
	// leader's first append — and a timeout that cannot hold them makes
	// candidates time out before they can win. The mean, not the p99: one
	// late probe must not hold every timeout up. 0 turns it off.
	ElectionRTTs float64
	// HeartbeatFactor: election ≥ HeartbeatFactor × heartbeat interval.
	HeartbeatFactor float64
	// SuccessorFactor, when above 0, gives the leader's successor (see
	// IsSuccessor) SuccessorFactor × the value every other voter gets,
	// never below the heartbeat and host floors or election_min. With
	// pre-vote, and voters that ignore a candidate until their own timeout
	// runs out, an early timer costs one refused pre-vote; after a leader
	// failure it makes the successor the only candidate instead of one of
	// several splitting the vote. 0 (the default) turns it off.
	SuccessorFactor float64
	// StepUp and StepDown are the largest relative change per decision:
	// StepUp 1.0 lets a value double, StepDown 0.1 lets it fall by 10%.
	StepUp, StepDown float64
	// CalmFor is how long the node must have been calm (stable, nothing
	// held) before a decrease, counted again from each decrease: time, not
	// samples, so a flood of samples cannot rush the value down.
	CalmFor time.Duration
	// StaleAfter: a sample older than this is not acted on.
	StaleAfter time.Duration
	// MinConfidence: proposals less confident than this are not acted on.
	MinConfidence float64
	// Freeze holds the value in force: the operator's off switch.
	Freeze bool
}

// Host is what the policy knows about the host's own limits.
type Host struct {
	Kind HostKind
	// LeaderLeaseTimeout is hashicorp/raft's lease, which ReloadConfig
	// cannot change and HeartbeatTimeout may not go below.
	LeaderLeaseTimeout time.Duration
}

// Stability decides when a node counts as unstable (risk cap, invariant 5).
type Stability struct {
	// MaxElections: more elections than this in the collector's window is
	// term churn.
	MaxElections int
}

// ActionKind says how a fired rule tightens the outcome.
type ActionKind uint8

// Rule actions.
const (
	ActionFloor ActionKind = iota + 1
	ActionCeiling
	ActionHold
	ActionNoDecrease
)

func (a ActionKind) String() string {
	return [...]string{"", "floor", "ceiling", "hold", "no_decrease"}[a]
}

// Rule is a named operator rule: when its condition holds, its action
// tightens the outcome.
type Rule struct {
	Name   string
	Reason string
	Pos    Pos
	Action ActionKind
	when   compiled
	reads  uint64
	value  compiled // floor/ceiling in milliseconds
	parsed bool     // built by Parse: when and value are compiled
}

// Pos is a source position.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.File == "" {
		return "built-in"
	}
	return fmt.Sprintf("%s:%d,%d", p.File, p.Line, p.Col)
}

// Policy is a parsed, validated policy file.
type Policy struct {
	Name      string
	File      string
	Bounds    Bounds
	Host      Host
	Stability Stability
	Rules     []Rule
	// BoundsPos is where the bounds block is (the file when it has none);
	// invariant checks point at it.
	BoundsPos Pos

	// ranges are the source ranges of the fields Parse read, by HCL name,
	// so Validate's findings point at the offending value.
	ranges map[string]hcl.Range
	// fileStart is the zero-width range at the file's start, for findings
	// about values the file left at their defaults.
	fileStart *hcl.Range

	envs sync.Pool // *env scratch for Decide
}

// DefaultBounds are the bounds of a policy file that sets none: those of
// the embedded default policy (configs/policies/default.hcl), which says
// why each is what it is. That file is the one source of defaults: the
// fields a policy file leaves out take its values too.
func DefaultBounds() Bounds { return defaults().Bounds }

type fileRoot struct {
	Name      *string         `hcl:"name,optional"`
	Bounds    []fileBounds    `hcl:"bounds,block"`
	Host      []fileHost      `hcl:"host,block"`
	Stability []fileStability `hcl:"stability,block"`
	Rules     []fileRule      `hcl:"rule,block"`
}

type fileBounds struct {
	ElectionMin     hcl.Expression `hcl:"election_min,optional"`
	ElectionMax     hcl.Expression `hcl:"election_max,optional"`
	HeartbeatMin    hcl.Expression `hcl:"heartbeat_min,optional"`
	HeartbeatMax    hcl.Expression `hcl:"heartbeat_max,optional"`
	RTTFactor       hcl.Expression `hcl:"rtt_factor,optional"`
	ElectionRTTs    hcl.Expression `hcl:"election_rtts,optional"`
	HeartbeatFactor hcl.Expression `hcl:"heartbeat_factor,optional"`
	SuccessorFactor hcl.Expression `hcl:"successor_factor,optional"`
	StepUp          hcl.Expression `hcl:"step_up,optional"`
	StepDown        hcl.Expression `hcl:"step_down,optional"`
	CalmFor         hcl.Expression `hcl:"calm_for,optional"`
	Hysteresis      hcl.Expression `hcl:"hysteresis,optional"` // replaced by calm_for: an error
	StaleAfter      hcl.Expression `hcl:"stale_after,optional"`
	MinConfidence   hcl.Expression `hcl:"min_confidence,optional"`
	Freeze          hcl.Expression `hcl:"freeze,optional"`
	DefRange        hcl.Range      `hcl:",def_range"`
}

type fileHost struct {
	Kind               hcl.Expression `hcl:"kind,optional"`
	LeaderLeaseTimeout hcl.Expression `hcl:"leader_lease_timeout,optional"`
}

type fileStability struct {
	MaxElections hcl.Expression `hcl:"max_elections,optional"`
}

type fileRule struct {
	Name       string         `hcl:"name,label"`
	When       hcl.Expression `hcl:"when"`
	Floor      hcl.Expression `hcl:"floor,optional"`
	Ceiling    hcl.Expression `hcl:"ceiling,optional"`
	Hold       hcl.Expression `hcl:"hold,optional"`
	NoDecrease hcl.Expression `hcl:"no_decrease,optional"`
	Reason     *string        `hcl:"reason,optional"`
	DefRange   hcl.Range      `hcl:",def_range"`
}

// parser adds the policy's "store into the default" convenience to the
// shared value checks; policy durations must be positive.
type parser struct{ configs.Decoder }

func (p *parser) duration(e hcl.Expression, name string, dst *time.Duration) {
	if v, ok := p.Duration(e, name, true); ok {
		*dst = v
	}
}

func (p *parser) number(e hcl.Expression, name string, min, max float64, dst *float64) {
	if v, ok := p.Number(e, name, min, max); ok {
		*dst = v
	}
}

func posOf(r hcl.Range) Pos { return Pos{File: r.Filename, Line: r.Start.Line, Col: r.Start.Column} }

// Parse decodes a policy file over the embedded default policy's values and
// validates it (Validate), reporting every problem with its position.
func Parse(src []byte, filename string) (*Policy, hcl.Diagnostics) {
	return parse(src, filename, defaults())
}

// parse decodes src over base's bounds, host kind and stability, then
// validates the result.
func parse(src []byte, filename string, base *Policy) (*Policy, hcl.Diagnostics) {
	if diags := configs.CheckLimits(src, filename); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	var root fileRoot
	p := &parser{configs.Decoder{Diags: gohcl.DecodeBody(f.Body, nil, &root)}}
	pol := &Policy{Name: filename, File: filename, Bounds: base.Bounds, Host: Host{Kind: base.Host.Kind}, Stability: base.Stability,
		ranges: map[string]hcl.Range{}}
	if root.Name != nil {
		pol.Name = *root.Name
	}
	body := f.Body.(*hclsyntax.Body)
	for _, kind := range []string{"bounds", "host", "stability"} {
		n := 0
		for _, b := range body.Blocks {
			if b.Type == kind {
				if n++; n > 1 {
					p.Errf(b.DefRange(), "only one %s block is allowed", kind)
				}
			}
		}
	}
	b := &pol.Bounds
	// Findings about values the file left out point at its start.
	start := body.SrcRange
	start.End = start.Start
	pol.fileStart = &start
	pol.BoundsPos = Pos{File: filename, Line: 1, Col: 1}
	for _, fb := range root.Bounds[:min(1, len(root.Bounds))] {
		pol.BoundsPos = posOf(fb.DefRange)
		p.duration(fb.ElectionMin, "election_min", &b.ElectionMin)
		p.duration(fb.ElectionMax, "election_max", &b.ElectionMax)
		p.duration(fb.HeartbeatMin, "heartbeat_min", &b.HeartbeatMin)
		p.duration(fb.HeartbeatMax, "heartbeat_max", &b.HeartbeatMax)
		p.number(fb.RTTFactor, "rtt_factor", 0, 1000, &b.RTTFactor)
		p.number(fb.ElectionRTTs, "election_rtts", 0, 100, &b.ElectionRTTs)
		p.number(fb.HeartbeatFactor, "heartbeat_factor", 1, 1000, &b.HeartbeatFactor)
		p.number(fb.SuccessorFactor, "successor_factor", 0, 1, &b.SuccessorFactor)
		p.number(fb.StepUp, "step_up", 0.01, 100, &b.StepUp)
		p.number(fb.StepDown, "step_down", 0, 0.99, &b.StepDown)
		if v, ok := p.Duration(fb.CalmFor, "calm_for", false); ok {
			b.CalmFor = v
		}
		if !configs.Absent(fb.Hysteresis) {
			p.Errf(fb.Hysteresis.Range(), "hysteresis (a count of samples) is replaced by calm_for, a duration: "+
				"write calm_for = \"2s\" (hysteresis × the tick), so a flood of samples cannot rush a decrease")
		}
		p.duration(fb.StaleAfter, "stale_after", &b.StaleAfter)
		p.number(fb.MinConfidence, "min_confidence", 0, 1, &b.MinConfidence)
		if v, ok := p.Bool(fb.Freeze, "freeze"); ok {
			b.Freeze = v
		}
		for name, e := range map[string]hcl.Expression{"election_min": fb.ElectionMin, "election_max": fb.ElectionMax,
			"heartbeat_min": fb.HeartbeatMin, "heartbeat_max": fb.HeartbeatMax} {
			if !configs.Absent(e) {
				pol.ranges[name] = e.Range()
			}
		}
	}
	for _, fh := range root.Host[:min(1, len(root.Host))] {
		if v, ok := p.Value(fh.Kind, "kind", cty.String); ok {
			if k := HostKind(v.AsString()); k.Valid() {
				pol.Host.Kind = k
			} else {
				p.Errf(fh.Kind.Range(), "unknown host kind %q; want %s", v.AsString(), HostKindList())
			}
		}
		p.duration(fh.LeaderLeaseTimeout, "leader_lease_timeout", &pol.Host.LeaderLeaseTimeout)
		if !configs.Absent(fh.LeaderLeaseTimeout) {
			pol.ranges["leader_lease_timeout"] = fh.LeaderLeaseTimeout.Range()
		}
	}
	for _, fs := range root.Stability[:min(1, len(root.Stability))] {
		m := float64(pol.Stability.MaxElections)
		p.number(fs.MaxElections, "max_elections", 0, 1000, &m)
		pol.Stability.MaxElections = int(m)
	}
	names := map[string]bool{}
	for _, fr := range root.Rules {
		if names[fr.Name] {
			p.Errf(fr.DefRange, "rule %q is defined twice", fr.Name)
		}
		names[fr.Name] = true
		r := Rule{Name: fr.Name, Pos: posOf(fr.DefRange), parsed: true}
		if fr.Reason != nil {
			r.Reason = *fr.Reason
		}
		c := &compiler{}
		var k kind
		r.when, k = c.compile(fr.When)
		if k != kindBool {
			c.errf(fr.When.Range(), "when must be a condition (bool), got a %s", k)
		}
		r.reads = c.reads
		nActions := 0
		for _, a := range []struct {
			e    hcl.Expression
			kind ActionKind
		}{{fr.Floor, ActionFloor}, {fr.Ceiling, ActionCeiling}} {
			if configs.Absent(a.e) {
				continue
			}
			nActions++
			r.Action = a.kind
			r.value, k = c.compile(a.e)
			if k != kindNumber {
				c.errf(a.e.Range(), "%s must be a duration like \"150ms\" or a number of milliseconds, got a %s", a.kind, k)
			}
			r.reads |= c.reads
		}
		for _, a := range []struct {
			e    hcl.Expression
			kind ActionKind
			name string
		}{{fr.Hold, ActionHold, "hold"}, {fr.NoDecrease, ActionNoDecrease, "no_decrease"}} {
			if v, ok := p.Bool(a.e, a.name); ok && v {
				nActions++
				r.Action = a.kind
			}
		}
		p.Diags = append(p.Diags, c.diags...)
		if nActions != 1 {
			p.Errf(fr.DefRange, "rule %q needs exactly one action: floor, ceiling, hold = true or no_decrease = true", fr.Name)
		}
		pol.Rules = append(pol.Rules, r)
	}
	if len(pol.Rules) > MaxRules {
		pol.ranges["rules"] = body.SrcRange
	}
	p.Diags = append(p.Diags, pol.validate()...)
	if p.Diags.HasErrors() {
		return nil, p.Diags
	}
	return pol, p.Diags
}

// ParseFile reads and parses a policy file.
func ParseFile(path string) (*Policy, hcl.Diagnostics) {
	src, err := configs.ReadFile(path, configs.MaxFileBytes)
	if err != nil {
		return nil, configs.ReadDiagnostic(err)
	}
	return Parse(src, path)
}
