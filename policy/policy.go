package policy

import (
	"fmt"
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

// Host kinds.
const (
	HostHashicorp HostKind = "hashicorp"
	HostConsul    HostKind = "consul"
	HostEtcd      HostKind = "etcd"
	HostEtcdRaft  HostKind = "etcd-raft"
)

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

	envs sync.Pool // *env scratch for Decide
}

// DefaultBounds are the bounds of a policy file that sets none. They suit
// a LAN or metro cluster on hashicorp/raft: see configs/policies/default.hcl
// for the reasons.
func DefaultBounds() Bounds {
	return Bounds{
		ElectionMin: 150 * time.Millisecond, ElectionMax: 5 * time.Second,
		HeartbeatMin: 10 * time.Millisecond, HeartbeatMax: time.Second,
		RTTFactor: 4, ElectionRTTs: 2, HeartbeatFactor: 3,
		StepUp: 1.0, StepDown: 0.1, CalmFor: 2 * time.Second,
		StaleAfter: 5 * time.Second,
	}
}

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

// Parse parses and validates a policy file, reporting every problem with
// its position.
func Parse(src []byte, filename string) (*Policy, hcl.Diagnostics) {
	if diags := configs.CheckLimits(src, filename); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	var root fileRoot
	p := &parser{configs.Decoder{Diags: gohcl.DecodeBody(f.Body, nil, &root)}}
	pol := &Policy{Name: filename, File: filename, Bounds: DefaultBounds(), Host: Host{Kind: HostHashicorp}, Stability: Stability{MaxElections: 1}}
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
	// Host-limit errors point at the offending bound, or at the file.
	minRange, maxRange := body.SrcRange, body.SrcRange
	minRange.End, maxRange.End = minRange.Start, maxRange.Start
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
		if !configs.Absent(fb.ElectionMin) {
			minRange = fb.ElectionMin.Range()
		}
		if !configs.Absent(fb.ElectionMax) {
			maxRange = fb.ElectionMax.Range()
		}
		if b.ElectionMin > b.ElectionMax {
			p.Errf(fb.ElectionMin.Range(), "election_min (%s) is above election_max (%s)", b.ElectionMin, b.ElectionMax)
		}
		if b.HeartbeatMin > b.HeartbeatMax {
			p.Errf(fb.HeartbeatMin.Range(), "heartbeat_min (%s) is above heartbeat_max (%s)", b.HeartbeatMin, b.HeartbeatMax)
		}
	}
	for _, fh := range root.Host[:min(1, len(root.Host))] {
		if v, ok := p.Value(fh.Kind, "kind", cty.String); ok {
			switch k := HostKind(v.AsString()); k {
			case HostHashicorp, HostConsul, HostEtcd, HostEtcdRaft:
				pol.Host.Kind = k
			default:
				p.Errf(fh.Kind.Range(), "unknown host kind %q; want hashicorp, consul, etcd or etcd-raft", v.AsString())
			}
		}
		p.duration(fh.LeaderLeaseTimeout, "leader_lease_timeout", &pol.Host.LeaderLeaseTimeout)
		if l := pol.Host.LeaderLeaseTimeout; l > 0 && l < HashicorpMinTimeout && (pol.Host.Kind == HostHashicorp || pol.Host.Kind == HostConsul) {
			p.Errf(fh.LeaderLeaseTimeout.Range(), "leader_lease_timeout %s is below hashicorp/raft's hard limit of %s: the node would refuse to start", l, HashicorpMinTimeout)
		}
	}
	for _, fs := range root.Stability[:min(1, len(root.Stability))] {
		m := float64(pol.Stability.MaxElections)
		p.number(fs.MaxElections, "max_elections", 0, 1000, &m)
		pol.Stability.MaxElections = int(m)
	}
	if pol.Host.Kind == HostHashicorp || pol.Host.Kind == HostConsul {
		if b.ElectionMin < HashicorpMinTimeout {
			p.Errf(minRange, "election_min %s is below hashicorp/raft's hard limit of %s", b.ElectionMin, HashicorpMinTimeout)
		}
		if l := pol.Host.LeaderLeaseTimeout; l > 0 && b.ElectionMax < l {
			p.Errf(maxRange, "election_max %s is below the leader lease timeout %s, which hashicorp/raft requires HeartbeatTimeout to stay above", b.ElectionMax, l)
		}
	}

	names := map[string]bool{}
	for _, fr := range root.Rules {
		if names[fr.Name] {
			p.Errf(fr.DefRange, "rule %q is defined twice", fr.Name)
		}
		names[fr.Name] = true
		r := Rule{Name: fr.Name, Pos: posOf(fr.DefRange)}
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
		p.Errf(body.SrcRange, "%d rules; at most %d are allowed", len(pol.Rules), MaxRules)
	}
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
