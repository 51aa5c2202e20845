package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/policy"
)

func TestEveryAdaptiveStrategyRunsBothWays(t *testing.T) {
	names := StrategyNames()
	for _, rec := range []string{"jacobson", "phi", "linucb", "dynatune", "lstm"} {
		for _, n := range []string{rec, rec + "-raw"} {
			st, err := NewStrategy(n, nil)
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			if (st.NewGovernor != nil) != (n == rec) {
				t.Errorf("%s: through the policy = %v", n, st.NewGovernor != nil)
			}
			if st.NewRecommender == nil || st.NewRecommender("n1", 1).Name() != rec {
				t.Errorf("%s: does not run recommender %s", n, rec)
			}
			if !strings.Contains(","+strings.Join(names, ",")+",", ","+n+",") {
				t.Errorf("%s missing from StrategyNames %v", n, names)
			}
		}
	}
	for _, n := range []string{"static", "random"} {
		if st, err := NewStrategy(n, nil); err != nil || st.NewGovernor != nil {
			t.Errorf("%s: %v, governor %v", n, err, st.NewGovernor != nil)
		}
	}
	for _, n := range []string{"nope", "static-raw", "oracle-raw"} {
		if _, err := NewStrategy(n, nil); err == nil || !strings.Contains(err.Error(), "lstm-raw") {
			t.Errorf("%s accepted or error does not list the strategies: %v", n, err)
		}
	}
	if names[len(names)-1] != "oracle" || names[len(names)-2] != "ceiling" || len(names) != 15 {
		t.Errorf("table order: %v", names)
	}
}

// TestReportedFiguresAreConsistent runs every shipped suite (each
// scenario cut to its first two simulated minutes; 30 seconds under -short
// or the race detector) and checks the figures
// a table prints against each other: mean ≤ max, p99 ≤ p99.9 ≤ max,
// detection p50 ≤ p99, and the gap closed is 0 for random and 1 for the
// oracle by definition.
func TestReportedFiguresAreConsistent(t *testing.T) {
	limit := 2 * time.Minute
	if testing.Short() || raceEnabled {
		limit = 30 * time.Second
	}
	var sts []Strategy
	for _, n := range []string{"random", "dynatune", "oracle"} {
		st, err := NewStrategy(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	for _, suite := range Suites(configs.Scenarios) {
		scs, err := LoadSuite(configs.Scenarios, suite)
		if err != nil {
			t.Fatal(err)
		}
		for i, sc := range scs {
			c := *sc
			c.Duration = min(c.Duration, limit)
			scs[i] = &c
		}
		rows := Bench(scs, sts, []uint64{7}, 0)
		for _, r := range rows {
			where := suite + "/" + r.Scenario + "/" + r.Recommender
			if r.CommitMSMean > r.CommitMSMax || r.CommitMSP99 > r.CommitMSP999 || r.CommitMSP999 > r.CommitMSMax {
				t.Errorf("%s: commit mean %v p99 %v p99.9 %v max %v", where, r.CommitMSMean, r.CommitMSP99, r.CommitMSP999, r.CommitMSMax)
			}
			if r.CommitMSMax == 0 {
				t.Errorf("%s: no commit measured", where)
			}
			if r.DetectionMSP50 > r.DetectionMSP99 {
				t.Errorf("%s: detection p50 %v > p99 %v", where, r.DetectionMSP50, r.DetectionMSP99)
			}
			if g := r.GapClosed; g != nil && ((r.Recommender == "random" && *g != 0) || (r.Recommender == "oracle" && *g != 1)) {
				t.Errorf("%s: gap closed %v", where, *g)
			}
		}
		tot := Totals(rows, []string{"random", "oracle"})
		if tot[0].UnavailabilityMS == tot[1].UnavailabilityMS {
			continue // no crash within the cut: the gap is undefined
		}
		if tot[0].GapClosed == nil || *tot[0].GapClosed != 0 || *tot[1].GapClosed != 1 {
			t.Errorf("%s: TOTAL gap closed %+v", suite, tot)
		}
	}
}

// An agent runs every recommender through its policy, random included:
// on a WAN whose round trip is 300ms, random's 150-300ms is below what an
// election needs, and only the policy's floor (election_rtts) stops the
// churn.
func TestAgentStrategyBoundsRandom(t *testing.T) {
	for _, bad := range []string{"lstm-raw", "static", "best-static", "oracle"} {
		if _, err := AgentStrategy(bad, nil); err == nil {
			t.Errorf("AgentStrategy(%q): no error", bad)
		}
	}
	s := &Scenario{Name: "far", Nodes: 5, Duration: 2 * time.Minute, Heartbeat: 50 * time.Millisecond, PreVote: true,
		Network: Network{Delay: 150 * time.Millisecond, Jitter: 10 * time.Millisecond}}
	raw, err := NewStrategy("random", nil)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := AgentStrategy("random", nil)
	if err != nil {
		t.Fatal(err)
	}
	if raw.NewGovernor != nil || agent.NewGovernor == nil {
		t.Fatal("random: the bench's runs as it is, the agent's through the policy")
	}
	rows := Bench([]*Scenario{s}, []Strategy{raw, {Name: "random-agent", NewRecommender: agent.NewRecommender, NewGovernor: agent.NewGovernor}}, []uint64{1}, 1)
	t.Logf("elections: random %d, through the policy %d", rows[0].Elections, rows[1].Elections)
	if rows[0].Elections <= 2*rows[1].Elections {
		t.Fatalf("elections: random %d, random through the policy %d; want the policy to stop the churn", rows[0].Elections, rows[1].Elections)
	}
}

// The successor stage of the default policy: on a pre-vote WAN whose
// voters ignore candidates for their own timeout, the leader's successor
// alone times out early, so a leader crash makes one candidate where
// several used to split the vote. Under hashicorp/raft's rule (voters
// refuse while they know a leader) the stage stays off and the runs are
// the same.
func TestSuccessorSplitsFewerVotes(t *testing.T) {
	sc, err := Find(configs.Scenarios, "tune-intercontinental")
	if err != nil {
		t.Fatal(err)
	}
	off := policy.Default()
	off.Bounds.SuccessorFactor = 0
	run := func(pol *policy.Policy, host HostKind) (elections int, unavail float64) {
		st, err := NewStrategy("lstm", pol)
		if err != nil {
			t.Fatal(err)
		}
		for seed := uint64(2000); seed < 2003; seed++ {
			o := st.Options(seed)
			o.Host = host
			m := Run(sc, o).Metrics
			elections += m.Elections
			unavail += m.UnavailableMS
		}
		return elections, unavail
	}
	eOn, uOn := run(nil, HostGeneric)
	eOff, uOff := run(off, HostGeneric)
	t.Logf("generic host: %d elections, %.0f ms unavailable with the successor; %d, %.0f ms without", eOn, uOn, eOff, uOff)
	if eOn >= eOff || uOn >= uOff {
		t.Errorf("the successor did not cut elections and unavailability: %d/%.0f ms against %d/%.0f ms", eOn, uOn, eOff, uOff)
	}
	hOn, huOn := run(nil, HostHashicorp)
	hOff, huOff := run(off, HostHashicorp)
	if hOn != hOff || huOn != huOff {
		t.Errorf("under hashicorp/raft's rule the successor must stay off: %d/%.0f ms against %d/%.0f ms", hOn, huOn, hOff, huOff)
	}
}
