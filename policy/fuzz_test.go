package policy

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// fuzzPolicy builds a policy from fuzzed bounds, through the parser, so the
// fuzzer explores policies as operators could write them.
func fuzzPolicy(minMS, spanMS uint16, stepUp, stepDown float64, hyst uint8, lease uint16) (*Policy, bool) {
	min := time.Duration(minMS%2000+5) * time.Millisecond
	max := min + time.Duration(spanMS)*time.Millisecond
	if math.IsNaN(stepUp) || math.IsInf(stepUp, 0) {
		stepUp = 1
	}
	if math.IsNaN(stepDown) || math.IsInf(stepDown, 0) {
		stepDown = 0.1
	}
	stepUp = math.Mod(math.Abs(stepUp), 99) + 0.01
	stepDown = math.Mod(math.Abs(stepDown), 0.99)
	src := fmt.Sprintf(`
bounds {
  election_min = %q
  election_max = %q
  step_up      = %g
  step_down    = %g
  calm_for     = "%dms"
}
host {
  kind                 = "hashicorp"
  leader_lease_timeout = %q
}
rule "prevote-quorum" {
  when   = prevote && unreachable_voters > cluster_size / 2
  floor  = "150ms"
}
rule "tail" {
  when  = rtt_p99_ms > 2 * rtt_mean_ms
  floor = rtt_p99_ms * 6
}
rule "cap" {
  when    = leader_stable_for_ms > 60000
  ceiling = proposal_ms / 2
}
`, min.String(), max.String(), stepUp, stepDown, int(hyst)*100, (time.Duration(lease%3000+1) * time.Millisecond).String())
	p, diags := Parse([]byte(src), "fuzz.hcl")
	return p, !diags.HasErrors()
}

var fuzzVoters = []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"}

func FuzzDecide(f *testing.F) {
	f.Add(uint16(150), uint16(4850), 1.0, 0.1, uint8(5), uint16(100), int64(300), 0.9, int64(1000), 10, uint32(collector.AllFields), 60.0, int64(4), int64(2), int64(50), 5, 0, 0, 0, true, int64(60000))
	f.Add(uint16(5), uint16(0), 0.5, 0.5, uint8(0), uint16(2999), int64(-5), math.NaN(), int64(0), 0, uint32(0), math.Inf(1), int64(-1), int64(-1), int64(-1), -3, -1, 2, 9, false, int64(-1))
	f.Add(uint16(1999), uint16(65535), 99.0, 0.98, uint8(255), uint16(1), int64(math.MaxInt64/1000000), 1.0, int64(1e9), 1000, uint32(collector.AllFields), 0.0, int64(900), int64(1), int64(1000), 3, 2, 1, 2, true, int64(0))
	f.Fuzz(func(t *testing.T, minMS, spanMS uint16, stepUp, stepDown float64, hyst uint8, lease uint16,
		propMS int64, conf float64, curMS int64, calm int, present uint32, cpu float64,
		p99MS, meanMS, hbMS int64, cluster, unreachable, elections, failed int, prevote bool, stableMS int64) {
		p, ok := fuzzPolicy(minMS, spanMS, stepUp, stepDown, hyst, lease)
		if !ok {
			return
		}
		s := collector.Sample{At: t0, Present: collector.Field(present) & collector.AllFields,
			CPUIdlePct: cpu, RTTP99: time.Duration(p99MS) * time.Millisecond, RTTMean: time.Duration(meanMS) * time.Millisecond,
			HeartbeatInterval: time.Duration(hbMS) * time.Millisecond, ClusterSize: cluster, UnreachableVoters: unreachable,
			ElectionsInWindow: elections, FailedElectionsInWindow: failed, PreVote: prevote,
			LeaderStableFor: time.Duration(stableMS) * time.Millisecond}
		if s.Has(collector.FieldVoters) && cluster >= 3 && cluster <= len(fuzzVoters) {
			// n2 follows the leader n1: the successor, when its role,
			// leader and pre-vote are present too.
			s.Voters, s.VoteLease = fuzzVoters[:cluster], true
			s.Node, s.Leader, s.Role = "n2", "n1", collector.RoleFollower
		}
		cur := time.Duration(curMS) * time.Millisecond
		if cur < 0 {
			cur = 0
		}
		st := State{Sample: s, Now: t0, Current: cur, Calm: time.Duration(calm) * 100 * time.Millisecond}
		prop := model.Proposal{Timeout: time.Duration(propMS) * time.Millisecond, Confidence: conf}
		d := p.Decide(st, prop)
		b := p.Bounds

		if d.Timeout < b.ElectionMin || d.Timeout > b.ElectionMax {
			t.Fatalf("timeout %v outside [%v, %v]\n%s", d.Timeout, b.ElectionMin, b.ElectionMax, d.Explain())
		}
		if d.n == 0 || d.Checks()[d.n-1].ID != CheckBounds {
			t.Fatalf("the bounds check must come last:\n%s", d.Explain())
		}
		// Only the leader's successor runs below the shared value, and
		// only as the successor stage says.
		if d.Base < b.ElectionMin || d.Base > b.ElectionMax || d.Timeout > d.Base {
			t.Fatalf("timeout %v against the shared %v\n%s", d.Timeout, d.Base, d.Explain())
		}
		if d.Timeout < d.Base {
			var logged bool
			for _, c := range d.Checks() {
				logged = logged || c.ID == CheckSuccessor && c.After == d.Timeout
			}
			if !IsSuccessor(&s) || !logged || d.Held {
				t.Fatalf("timeout %v below the shared %v, successor %v\n%s", d.Timeout, d.Base, IsSuccessor(&s), d.Explain())
			}
		}
		if cur < b.ElectionMin || cur > b.ElectionMax {
			return // no reference inside the bounds: only the bounds hold
		}
		// The shared value keeps the invariants (the successor's is the
		// shared value scaled, floored as above).
		if d.Base < cur {
			if d.Unstable {
				t.Fatalf("decreased %v → %v while unstable\n%s", cur, d.Base, d.Explain())
			}
			if st.Calm < b.CalmFor {
				t.Fatalf("decreased %v → %v after %v of calm (< %v)\n%s", cur, d.Base, st.Calm, b.CalmFor, d.Explain())
			}
			if floor := cur - scale(cur, b.StepDown); d.Base < floor {
				t.Fatalf("decreased %v → %v, more than step_down %v\n%s", cur, d.Base, b.StepDown, d.Explain())
			}
		}
		if d.Base > cur {
			// Increases are limited by step_up unless a safety floor
			// (invariants 2, 3, 6) demanded more.
			limit := cur + scale(cur, b.StepUp)
			for _, c := range d.Checks() {
				switch c.ID {
				case CheckRTTFloor, CheckElectionRTTs, CheckHeartbeatFloor, CheckHostFloor, CheckQuorum:
					if c.Bound > limit {
						limit = c.Bound
					}
				}
			}
			if limit < b.ElectionMin {
				limit = b.ElectionMin
			}
			if d.Base > limit {
				t.Fatalf("increased %v → %v past step_up and every floor (%v)\n%s", cur, d.Base, limit, d.Explain())
			}
		}
		if d.Held && d.Timeout != cur {
			t.Fatalf("held but moved %v → %v\n%s", cur, d.Timeout, d.Explain())
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, name := range Presets() {
		p, err := Preset(name)
		if err != nil {
			f.Fatal(err)
		}
		_ = p
	}
	f.Add([]byte(`bounds { election_min = "150ms" }
rule "r" {
  when  = prevote && unreachable_voters > cluster_size / 2 || (role == "leader" ? true : false)
  floor = max(rtt_p99_ms * 4, "150ms")
}`))
	f.Add([]byte(`rule "x" { when = !(-term < 3) && min(1, 2) % 2 == 1
 ceiling = 1 / 0 }`))
	f.Add([]byte("bounds {\n election_min = \n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, diags := Parse(src, "fuzz.hcl")
		if diags.HasErrors() {
			if p != nil {
				t.Fatal("errors with a policy")
			}
			return
		}
		// Whatever parses must decide inside its bounds.
		s := calmSample()
		d := p.Decide(State{Sample: s, Now: t0, Current: 0}, model.Proposal{Timeout: 300 * time.Millisecond, Confidence: 1})
		if d.Timeout < p.Bounds.ElectionMin || d.Timeout > p.Bounds.ElectionMax {
			t.Fatalf("decision %v outside bounds of a parsed policy", d.Timeout)
		}
		_ = d.Explain()
	})
}
