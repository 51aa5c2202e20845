package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

// adaptive lists the recommenders that adapt to what they observe, in
// table order. Each runs two ways: X through the safety policy (what an
// agent beside a real host does) and X-raw, the recommender's own proposal
// applied as it is.
var adaptive = []string{"jacobson", "phi", "linucb", "dynatune", "lstm"}

// StrategyNames lists every strategy of a bench, in table order: the
// fixed ones, each adaptive recommender through the policy and raw, then
// the hindsight and clairvoyant references.
func StrategyNames() []string {
	out := []string{"static", "random"}
	for _, n := range adaptive {
		out = append(out, n, n+"-raw")
	}
	return append(out, "best-static", "ceiling", "oracle")
}

// ThroughPolicy reports whether the named strategy's proposals are bounded
// by the safety policy.
func ThroughPolicy(name string) bool { return slices.Contains(adaptive, name) }

// NewStrategy builds the named strategy (one of StrategyNames). The
// adaptive recommenders without the -raw suffix run through pol (nil: the
// embedded default policy); static and random are what a host does without
// an adviser and run as they are.
func NewStrategy(name string, pol *policy.Policy) (Strategy, error) {
	switch name {
	case "oracle":
		return Strategy{Name: name, Oracle: true}, nil
	case "ceiling":
		return Strategy{Name: name, Oracle: true, Ceiling: true}, nil
	case "best-static":
		return Strategy{Name: name, Sweep: BestStaticSweep()}, nil
	}
	rec := strings.TrimSuffix(name, "-raw")
	raw := rec != name
	if !slices.Contains(StrategyNames(), name) {
		return Strategy{}, fmt.Errorf("unknown strategy %q; have %s", name, strings.Join(StrategyNames(), ", "))
	}
	opts := model.Options{}
	if rec == "lstm" {
		// The weights are loaded once and shared read-only by every node
		// of every run.
		n, err := model.DefaultNet()
		if err != nil {
			return Strategy{}, fmt.Errorf("embedded LSTM weights: %w", err)
		}
		opts.LSTM = model.NewInference(n)
	}
	if _, err := model.New(rec, opts); err != nil {
		return Strategy{}, err
	}
	st := Strategy{Name: name, NewRecommender: func(node string, seed uint64) model.Recommender {
		o := opts
		o.Seed = model.NodeSeed(seed, node)
		r, _ := model.New(rec, o)
		return r
	}}
	if !raw && ThroughPolicy(rec) {
		if pol == nil {
			pol = policy.Default()
		}
		st.NewGovernor = func(string) Governor { return policyBound{policy.NewGovernor(pol)} }
	}
	return st, nil
}

// AgentStrategy is the named recommender as an agent beside a live node
// runs it: every proposal goes through pol (nil: the embedded default
// policy), random's included. Only recommenders have an agent: static,
// best-static, oracle and the -raw names are refused.
func AgentStrategy(name string, pol *policy.Policy) (Strategy, error) {
	if strings.HasSuffix(name, "-raw") || name == "static" || name == "best-static" || name == "oracle" || name == "ceiling" {
		return Strategy{}, fmt.Errorf("strategy %q has no agent: an agent runs a recommender through its policy", name)
	}
	st, err := NewStrategy(name, pol)
	if err != nil {
		return Strategy{}, err
	}
	if st.NewGovernor == nil {
		if pol == nil {
			pol = policy.Default()
		}
		st.NewGovernor = func(string) Governor { return policyBound{policy.NewGovernor(pol)} }
	}
	return st, nil
}

// policyBound adapts policy.Governor to the simulator's Governor.
type policyBound struct{ g *policy.Governor }

func (g policyBound) Step(now time.Time, s collector.Sample, p model.Proposal) time.Duration {
	return g.g.Step(now, s, p).Timeout
}
