package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

const successorPolicy = `
bounds {
  election_min     = "50ms"
  election_max     = "5s"
  rtt_factor       = 0
  election_rtts    = 0
  heartbeat_factor = 1.1
  successor_factor = 0.5
  step_up          = 1.0
  step_down        = 0.9
  calm_for         = "500ms"
  stale_after      = "5s"
}
host {
  kind = "etcd"
}
`

// successorSample is a calm follower of a five-voter cluster led by n2
// whose voters ignore candidates for their own timeout (etcd's rule).
func successorSample(node, leader string) collector.Sample {
	s := calmSample()
	s.Node, s.Leader = node, leader
	s.Voters, s.VoteLease = []string{"n1", "n2", "n3", "n4", "n5"}, true
	return s
}

func TestSuccessorTimesOutAtTheFactor(t *testing.T) {
	p := mustParse(t, successorPolicy)
	for _, c := range []struct {
		name   string
		edit   func(*collector.Sample)
		leader string
		node   string
		want   time.Duration
	}{
		{"the voter after the leader", nil, "n2", "n3", 200 * msec},
		{"the first voter after the last", nil, "n5", "n1", 200 * msec},
		{"any other follower", nil, "n2", "n4", 400 * msec},
		{"the voter before the leader", nil, "n2", "n1", 400 * msec},
		{"no pre-vote", func(s *collector.Sample) { s.PreVote = false }, "n2", "n3", 400 * msec},
		{"voters refuse while they know a leader (hashicorp/raft)", func(s *collector.Sample) { s.VoteLease = false }, "n2", "n3", 400 * msec},
		{"a candidate", func(s *collector.Sample) { s.Role = collector.RoleCandidate }, "n2", "n3", 400 * msec},
		{"no leader known", nil, "", "n3", 400 * msec},
		{"a leader outside the voters", nil, "n9", "n3", 400 * msec},
		{"voters not reported", func(s *collector.Sample) { s.Present &^= collector.FieldVoters }, "n2", "n3", 400 * msec},
		{"two voters", func(s *collector.Sample) { s.Voters = []string{"n2", "n3"} }, "n2", "n3", 400 * msec},
	} {
		s := successorSample(c.node, c.leader)
		if c.edit != nil {
			c.edit(&s)
		}
		d := decide(p, s, 400*msec, 10, 400*msec)
		if d.Timeout != c.want || d.Base != 400*msec {
			t.Errorf("%s: timeout %v base %v, want %v and 400ms", c.name, d.Timeout, d.Base, c.want)
		}
		var said bool
		for _, ch := range d.Checks() {
			if ch.ID == CheckSuccessor {
				said = ch.Effect == Changed && strings.Contains(ch.String(), "400ms → 200ms") &&
					strings.Contains(ch.String(), "the leader's successor")
			}
		}
		if said != (c.want != 400*msec) {
			t.Errorf("%s: the successor check is logged %v: %v", c.name, said, d.Checks())
		}
	}
}

// The successor never goes below the floors every node keeps: the
// heartbeat floor, election_min and (hashicorp/raft family) the lease.
func TestSuccessorKeepsTheFloors(t *testing.T) {
	p := mustParse(t, successorPolicy)
	// 0.5 × 80ms = 40ms, below 1.1 × the 50ms heartbeat interval.
	if d := decide(p, successorSample("n3", "n2"), 80*msec, 10, 80*msec); d.Timeout != 55*msec || d.Base != 80*msec {
		t.Errorf("heartbeat floor: timeout %v base %v, want 55ms and 80ms", d.Timeout, d.Base)
	}
	// A host whose voters ignore candidates but that runs the hashicorp
	// family's limits keeps its lease.
	hp := mustParse(t, strings.Replace(successorPolicy, `kind = "etcd"`, "kind = \"hashicorp\"\n  leader_lease_timeout = \"150ms\"", 1))
	if d := decide(hp, successorSample("n3", "n2"), 200*msec, 10, 200*msec); d.Timeout != 150*msec {
		t.Errorf("lease: timeout %v, want 150ms", d.Timeout)
	}
	// A value already at the floor is left alone, and nothing is logged.
	d := decide(p, successorSample("n3", "n2"), 55*msec, 10, 55*msec)
	for _, ch := range d.Checks() {
		if ch.ID == CheckSuccessor {
			t.Errorf("at the floor the successor check fired: %v", ch)
		}
	}
}

// The governor keeps the value every voter would get as its reference:
// the successor's shorter timer neither counts as a decrease (which would
// restart the calm span every tick) nor lets the shared value skip its
// rate limits.
func TestGovernorKeepsTheSuccessorsBase(t *testing.T) {
	g := NewGovernor(mustParse(t, successorPolicy))
	s := successorSample("n3", "n2")
	g.SetCurrent(time.Second)
	prop := model.Proposal{Timeout: 200 * msec, Confidence: 1}
	var got, base []time.Duration
	for i := 0; i < 12; i++ {
		s.At = t0.Add(time.Duration(i) * 100 * msec)
		d := g.Step(s.At, s, prop)
		got, base = append(got, d.Timeout), append(base, g.Current())
	}
	// calm_for 500ms: the base holds 1s for 500ms, then falls by at most
	// 90% to 200ms; the successor runs at half of it all along.
	for i := range got {
		wantBase := time.Second
		if i >= 5 {
			wantBase = 200 * msec
		}
		if base[i] != wantBase || got[i] != wantBase/2 {
			t.Fatalf("tick %d: timeout %v, reference %v; want %v and %v (all: %v / %v)", i, got[i], base[i], wantBase/2, wantBase, got, base)
		}
	}
	// A live host reports the shortened value it was told to apply: the
	// reference stays; any other value in force becomes the reference.
	g.SetCurrent(100*msec - 300*time.Microsecond) // as a host rounds it
	if g.Current() != 200*msec {
		t.Fatalf("the host's report of the applied 100ms moved the reference to %v", g.Current())
	}
	g.SetCurrent(700 * msec)
	if g.Current() != 700*msec {
		t.Fatalf("a value changed behind the agent's back: reference %v, want 700ms", g.Current())
	}
	if c := g.WithPolicy(mustParse(t, basePolicy)).Current(); c != 700*msec {
		t.Fatalf("a new policy dropped the value in force: %v", c)
	}
}

func TestSuccessorFactorOutOfRange(t *testing.T) {
	src := strings.Replace(successorPolicy, "successor_factor = 0.5", "successor_factor = 1.5", 1)
	if _, diags := Parse([]byte(src), "succ.hcl"); !diags.HasErrors() || !strings.Contains(diags.Error(), "succ.hcl:8,") ||
		!strings.Contains(diags.Error(), "successor_factor") {
		t.Fatalf("successor_factor 1.5: %v", diags)
	}
}
