package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
)

func leaderSample(stable time.Duration) collector.Sample {
	s := collector.Sample{Role: collector.RoleLeader, LeaderStableFor: stable}
	s.Set(collector.FieldRole | collector.FieldLeaderStableFor)
	return s
}

// TestHandoffPlannerRules steps the hand-off rules through time: announce
// first, move after SustainFor and Announce, hold while unstable, within
// the cooldown or with no transferee, and a blip shorter than the grace
// does not restart the announcement.
func TestHandoffPlannerRules(t *testing.T) {
	t0 := time.Unix(1000, 0)
	deg := HandoffEvidence{Degraded: true, Why: "slow", To: "n2", Candidates: "n2 is 0 entries behind"}
	type step struct {
		at       time.Duration
		sample   collector.Sample
		ev       HandoffEvidence
		unstable bool
		wantTo   string
		planned  bool
		note     string // a substring the note must carry ("" none)
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"announce then move", []step{
			{0, leaderSample(time.Minute), deg, false, "", true, "hand-off planned to n2 in 2s"},
			{time.Second, leaderSample(time.Minute), deg, false, "", true, ""},
			{2 * time.Second, leaderSample(time.Minute), deg, false, "n2", false, "handing leadership to n2"},
		}},
		{"a late announcement still waits Announce", []step{
			{0, leaderSample(time.Minute), deg, true, "", false, ""},
			{3 * time.Second, leaderSample(time.Minute), deg, false, "", true, "in 500ms"},
			{3*time.Second + 400*time.Millisecond, leaderSample(time.Minute), deg, false, "", true, ""},
			{3*time.Second + 500*time.Millisecond, leaderSample(time.Minute), deg, false, "n2", false, "handing"},
		}},
		{"unstable holds and says so once sustained", []step{
			{0, leaderSample(time.Minute), deg, true, "", false, ""},
			{2 * time.Second, leaderSample(time.Minute), deg, true, "", false, "the cluster is unstable"},
		}},
		{"cooldown: a leader that has not led for it holds", []step{
			{0, leaderSample(5 * time.Second), deg, false, "", false, ""},
			{2 * time.Second, leaderSample(7 * time.Second), deg, false, "", false, "less than the cluster-wide cooldown 1m0s"},
			{50 * time.Second, leaderSample(55 * time.Second), deg, false, "", false, "cooldown"},
			{56 * time.Second, leaderSample(61 * time.Second), deg, false, "", true, "planned"},
		}},
		{"no transferee holds with the host's reason", []step{
			{0, leaderSample(time.Minute), HandoffEvidence{Degraded: true, Why: "slow", Candidates: "no follower qualifies (n3 farther)"}, false, "", false, ""},
			{2 * time.Second, leaderSample(time.Minute), HandoffEvidence{Degraded: true, Why: "slow", Candidates: "no follower qualifies (n3 farther)"}, false, "", false, "n3 farther"},
		}},
		{"a blip keeps the announcement; a longer calm ends it", []step{
			{0, leaderSample(time.Minute), deg, false, "", true, "planned"},
			{500 * time.Millisecond, leaderSample(time.Minute), HandoffEvidence{}, false, "", true, ""},
			{time.Second, leaderSample(time.Minute), deg, false, "", true, ""},
			{2500 * time.Millisecond, leaderSample(time.Minute), HandoffEvidence{}, false, "", false, ""},
			{2600 * time.Millisecond, leaderSample(time.Minute), deg, false, "", true, "planned"},
		}},
		{"a follower never hands off", []step{
			{0, collector.Sample{Role: collector.RoleFollower}, deg, false, "", false, ""},
			{5 * time.Second, collector.Sample{Role: collector.RoleFollower}, deg, false, "", false, ""},
		}},
		{"a failed transfer is reported once", []step{
			{0, leaderSample(time.Minute), HandoffEvidence{Err: "timeout"}, false, "", false, "hand-off failed: timeout"},
			{time.Second, leaderSample(time.Minute), HandoffEvidence{Err: "timeout"}, false, "", false, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := handoffPlanner{rules: HandoffRules{Enabled: true}}
			p.rules.defaults()
			for i, s := range tc.steps {
				note, to, st := p.step(t0.Add(s.at), s.sample, s.ev, s.unstable)
				if to != s.wantTo || st.Planned != s.planned {
					t.Fatalf("step %d: to %q planned %v; want %q %v (note %q)", i, to, st.Planned, s.wantTo, s.planned, note)
				}
				if (s.note == "") != (note == "") || !strings.Contains(note, s.note) {
					t.Fatalf("step %d: note %q; want one with %q", i, note, s.note)
				}
			}
		})
	}
}
