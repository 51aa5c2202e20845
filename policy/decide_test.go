package policy

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

const msec = time.Millisecond

var t0 = time.Unix(1_700_000_000, 0)

// calmSample is a complete, healthy follower sample.
func calmSample() collector.Sample {
	s := collector.Sample{
		Node: "n1", At: t0, Role: collector.RoleFollower, Term: 3, Leader: "n2",
		ClusterSize: 5, PreVote: true, LastContact: 20 * msec, HeartbeatGap: 55 * msec,
		CPUIdlePct: 60, RTTMean: 2 * msec, RTTStdDev: msec / 2, RTTP99: 4 * msec,
		LeaderStableFor: time.Minute, HeartbeatTimeout: time.Second, ElectionTimeout: time.Second,
		LeaderLeaseTimeout: 100 * msec, HeartbeatInterval: 50 * msec,
	}
	s.Set(collector.AllFields)
	return s
}

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, diags := Parse([]byte(src), "test.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return p
}

const basePolicy = `
bounds {
  election_min     = "150ms"
  election_max     = "5s"
  rtt_factor       = 4
  heartbeat_factor = 3
  step_up          = 1.0
  step_down        = 0.1
  calm_for         = "500ms"
  stale_after      = "5s"
}
host {
  kind                 = "hashicorp"
  leader_lease_timeout = "100ms"
}
`

// decide runs one decision after calmTicks ticks of 100ms of calm.
func decide(p *Policy, s collector.Sample, current time.Duration, calmTicks int, proposal time.Duration) Decision {
	return p.Decide(State{Sample: s, Now: t0, Current: current, Calm: time.Duration(calmTicks) * 100 * msec},
		model.Proposal{Timeout: proposal, Confidence: 0.9})
}

func TestRTTFloorsCanBeOff(t *testing.T) {
	p := mustParse(t, `
bounds {
  election_min  = "10ms"
  rtt_factor    = 0
  election_rtts = 0
}
`)
	s := calmSample()
	s.RTTMean, s.RTTP99 = 300*msec, time.Second
	d := decide(p, s, 0, 0, 200*msec)
	if d.Timeout != 200*msec {
		t.Fatalf("with both RTT floors off the proposal stands: got %v\n%s", d.Timeout, d.Explain())
	}
	for _, name := range []string{"rtt-floor", "election-rtts"} {
		if _, ok := findCheck(d, name); ok {
			t.Errorf("%s applied although it is off", name)
		}
	}
}

func findCheck(d Decision, name string) (Check, bool) {
	for _, c := range d.Checks() {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func TestInvariants(t *testing.T) {
	p := mustParse(t, basePolicy)
	cases := []struct {
		name     string
		sample   func(*collector.Sample)
		current  time.Duration
		calm     int
		proposal time.Duration
		want     time.Duration
		check    string
		effect   Effect
	}{
		{"bounds: above max", nil, 0, 0, time.Minute, 5 * time.Second, "bounds", Changed},
		{"bounds: below min", func(s *collector.Sample) { s.HeartbeatInterval = 10 * msec }, 0, 0, 10 * msec, 150 * msec, "bounds", Changed},
		{"bounds: inside confirms", nil, 0, 0, 400 * msec, 400 * msec, "bounds", Confirmed},
		{"rtt floor raises", func(s *collector.Sample) { s.RTTP99 = 200 * msec }, 0, 0, 300 * msec, 800 * msec, "rtt-floor", Changed},
		{"election rtts raise", func(s *collector.Sample) { s.RTTMean, s.RTTP99 = 300*msec, 0 }, 0, 0, 300 * msec, 600 * msec, "election-rtts", Changed},
		{"election rtts confirm", func(s *collector.Sample) { s.RTTMean = 100 * msec }, 0, 0, 900 * msec, 900 * msec, "election-rtts", Confirmed},
		{"heartbeat floor raises", func(s *collector.Sample) { s.HeartbeatInterval = 200 * msec }, 0, 0, 300 * msec, 600 * msec, "heartbeat-floor", Changed},
		{"host floor: lease from sample", func(s *collector.Sample) { s.LeaderLeaseTimeout = 700 * msec }, 0, 0, 300 * msec, 700 * msec, "host-limit", Changed},
		{"quorum rule confirms min", func(s *collector.Sample) { s.UnreachableVoters = 3 }, 0, 0, 400 * msec, 400 * msec, "prevote-quorum", Confirmed},
		{"step up", nil, 400 * msec, 0, 2 * time.Second, 800 * msec, "step-up", Changed},
		{"step down after calm run", nil, time.Second, 5, 200 * msec, 900 * msec, "step-down", Changed},
		{"hysteresis blocks decrease", nil, time.Second, 4, 200 * msec, time.Second, "hysteresis", Changed},
		{"risk cap: failed election", func(s *collector.Sample) { s.ElectionsInWindow, s.FailedElectionsInWindow = 1, 1 }, time.Second, 50, 200 * msec, time.Second, "risk-cap", Changed},
		{"risk cap: term churn", func(s *collector.Sample) { s.ElectionsInWindow = 2 }, time.Second, 50, 200 * msec, time.Second, "risk-cap", Changed},
		{"risk cap: lost quorum contact", func(s *collector.Sample) { s.UnreachableVoters = 3 }, time.Second, 50, 200 * msec, time.Second, "risk-cap", Changed},
		{"risk cap lets increases through", func(s *collector.Sample) { s.ElectionsInWindow = 2 }, time.Second, 50, 1500 * msec, 1500 * msec, "bounds", Confirmed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := calmSample()
			if tc.sample != nil {
				tc.sample(&s)
			}
			d := decide(p, s, tc.current, tc.calm, tc.proposal)
			if d.Timeout != tc.want {
				t.Fatalf("timeout %v, want %v\n%s", d.Timeout, tc.want, d.Explain())
			}
			c, ok := findCheck(d, tc.check)
			if !ok || c.Effect != tc.effect {
				t.Fatalf("check %s: %+v (found %v), want %s\n%s", tc.check, c, ok, tc.effect, d.Explain())
			}
			if c.Reason() == "" {
				t.Fatalf("check %s has no reason", tc.check)
			}
		})
	}
}

func TestBadTelemetryHoldsLastSafeValue(t *testing.T) {
	p := mustParse(t, basePolicy)
	cases := map[string]func(*collector.Sample, *model.Proposal){
		"NaN cpu":             func(s *collector.Sample, _ *model.Proposal) { s.CPUIdlePct = math.NaN() },
		"+Inf cpu":            func(s *collector.Sample, _ *model.Proposal) { s.CPUIdlePct = math.Inf(1) },
		"negative rtt":        func(s *collector.Sample, _ *model.Proposal) { s.RTTP99 = -time.Second },
		"negative gap":        func(s *collector.Sample, _ *model.Proposal) { s.HeartbeatGap = -1 },
		"stale":               func(s *collector.Sample, _ *model.Proposal) { s.At = t0.Add(-time.Minute) },
		"never sampled":       func(s *collector.Sample, _ *model.Proposal) { s.At = time.Time{} },
		"negative proposal":   func(_ *collector.Sample, p *model.Proposal) { p.Timeout = -time.Second },
		"NaN confidence":      func(_ *collector.Sample, p *model.Proposal) { p.Confidence = math.NaN() },
		"unreachable > size":  func(s *collector.Sample, _ *model.Proposal) { s.UnreachableVoters = 9 },
		"negative elections":  func(s *collector.Sample, _ *model.Proposal) { s.FailedElectionsInWindow = -1 },
		"zero cluster size":   func(s *collector.Sample, _ *model.Proposal) { s.ClusterSize = 0 },
		"negative host value": func(s *collector.Sample, _ *model.Proposal) { s.HeartbeatInterval = -msec },
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			s := calmSample()
			prop := model.Proposal{Timeout: 300 * msec, Confidence: 0.9}
			corrupt(&s, &prop)
			d := p.Decide(State{Sample: s, Now: t0, Current: 700 * msec, Calm: 10 * time.Second}, prop)
			if d.Timeout != 700*msec || !d.Held {
				t.Fatalf("want the value in force held, got %v held=%v\n%s", d.Timeout, d.Held, d.Explain())
			}
			c, ok := findCheck(d, "bad-telemetry")
			if !ok || c.Problem == "" || !strings.Contains(d.Explain(), "cannot be trusted") {
				t.Fatalf("bad telemetry not reported:\n%s", d.Explain())
			}
		})
	}
	// With no value in force, the host's own setting is the safe value.
	s := calmSample()
	s.CPUIdlePct = math.NaN()
	if d := decide(p, s, 0, 0, 300*msec); d.Timeout != time.Second {
		t.Fatalf("first decision on bad telemetry: %v, want the host's 1s", d.Timeout)
	}
	// Missing fields are not bad: a sample that only knows its role is
	// still acted on.
	partial := collector.Sample{At: t0, Role: collector.RoleFollower}
	partial.Set(collector.FieldRole)
	if d := decide(p, partial, 0, 0, 300*msec); d.Held || d.Timeout != 300*msec {
		t.Fatalf("partial sample: %v held=%v\n%s", d.Timeout, d.Held, d.Explain())
	}
}

func TestFreezeAndConfidenceHold(t *testing.T) {
	frozen := mustParse(t, strings.Replace(basePolicy, `stale_after      = "5s"`, "stale_after = \"5s\"\n  freeze = true", 1))
	if d := decide(frozen, calmSample(), 800*msec, 100, 200*msec); d.Timeout != 800*msec || !d.Held {
		t.Fatalf("frozen: %v\n%s", d.Timeout, d.Explain())
	}
	picky := mustParse(t, strings.Replace(basePolicy, `stale_after      = "5s"`, "stale_after = \"5s\"\n  min_confidence = 0.95", 1))
	if d := decide(picky, calmSample(), 800*msec, 100, 200*msec); d.Timeout != 800*msec || !d.Held {
		t.Fatalf("low confidence: %v\n%s", d.Timeout, d.Explain())
	}
}

func TestRulesNarrowInFileOrderAndNeverWiden(t *testing.T) {
	p := mustParse(t, basePolicy+`
rule "ceiling-when-leader-stable" {
  when    = leader_stable_for_ms > 10000
  ceiling = "400ms"
  reason  = "long-stable leader: cap at 400ms"
}
rule "floor-on-tail" {
  when   = rtt_p99_ms > 3
  floor  = rtt_p99_ms * 100
  reason = "RTT tail: keep 100 × p99"
}
rule "absurd-floor" {
  when  = role == "candidate"
  floor = "1h"
}
rule "absurd-ceiling" {
  when    = role == "leader"
  ceiling = "1ms"
}
`)
	s := calmSample() // p99 4ms → rule floor 400ms; ceiling 400ms first
	d := decide(p, s, 0, 0, 2*time.Second)
	if d.Timeout != 400*msec {
		t.Fatalf("ceiling then floor: %v\n%s", d.Timeout, d.Explain())
	}
	var order []string
	for _, c := range d.Checks() {
		if c.ID == CheckRule {
			order = append(order, c.Name)
		}
	}
	if !reflect.DeepEqual(order, []string{"ceiling-when-leader-stable", "floor-on-tail"}) {
		t.Fatalf("rules fired in order %v", order)
	}
	if c, _ := findCheck(d, "floor-on-tail"); c.Pos.Line != 22 || c.Pos.Col != 1 || c.Pos.File != "test.hcl" {
		t.Fatalf("rule position %v", c.Pos)
	}
	s.Role = collector.RoleCandidate
	if d := decide(p, s, 0, 0, 300*msec); d.Timeout != 5*time.Second {
		t.Fatalf("a rule floor above max must stop at max: %v", d.Timeout)
	}
	s.Role = collector.RoleLeader
	if d := decide(p, s, 0, 0, 300*msec); d.Timeout != 150*msec {
		t.Fatalf("a rule ceiling below min must stop at min: %v", d.Timeout)
	}
}

func TestRuleOnMissingFieldIsNotEvaluatedAndSaysWhy(t *testing.T) {
	p := mustParse(t, basePolicy+`
rule "slow-disk" {
  when        = disk_sync_p99_ms > 100
  no_decrease = true
}
`)
	s := calmSample()
	s.Present &^= collector.FieldDiskSync
	d := decide(p, s, time.Second, 100, 500*msec)
	c, ok := findCheck(d, "slow-disk")
	if !ok || c.Effect != NotEvaluated || !strings.Contains(c.Reason(), "disk_sync_p99_ms") {
		t.Fatalf("missing field: %+v\n%s", c, d.Explain())
	}
	if d.Timeout != 900*msec {
		t.Fatalf("a rule that is not evaluated must not act: %v", d.Timeout)
	}
	s.Set(collector.FieldDiskSync)
	s.DiskSyncP99 = 300 * msec
	if d := decide(p, s, time.Second, 100, 500*msec); d.Timeout != time.Second {
		t.Fatalf("no_decrease rule: %v\n%s", d.Timeout, d.Explain())
	}
}

func TestDecideIsPure(t *testing.T) {
	p := Default()
	st := State{Sample: calmSample(), Now: t0, Current: 700 * msec, Calm: 3 * time.Second}
	prop := model.Proposal{Timeout: 350 * msec, Confidence: 0.7}
	a, b := p.Decide(st, prop), p.Decide(st, prop)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same input, different decisions")
	}
}

func TestGovernorCountsCalmTime(t *testing.T) {
	g := NewGovernor(mustParse(t, basePolicy))
	s := calmSample()
	prop := model.Proposal{Timeout: 200 * msec, Confidence: 1}
	g.SetCurrent(time.Second)
	var got []time.Duration
	for i := 0; i < 12; i++ {
		s.At = t0.Add(time.Duration(i) * 100 * msec)
		got = append(got, g.Step(s.At, s, prop).Timeout)
	}
	// calm_for 500ms at a 100ms tick: 1s holds for 500ms, then −10%, and
	// each later decrease needs another 500ms of calm.
	s1, s9, s81 := time.Second, 900*msec, 810*msec
	want := []time.Duration{s1, s1, s1, s1, s1, s9, s9, s9, s9, s9, s81, s81}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	s.ElectionsInWindow = 3 // churn ends the calm span
	g.Step(s.At, s, prop)
	s.ElectionsInWindow = 0
	for i := 0; i < 5; i++ {
		s.At = s.At.Add(100 * msec)
		if d := g.Step(s.At, s, prop); d.Timeout != s81 {
			t.Fatalf("after churn the calm span restarts: %v at step %d", d.Timeout, i)
		}
	}
}

// TestGovernorFloodCannotRushDecreases: samples 64µs apart count for
// 64µs of calm each, not for a tick: a flood moves the value at most one
// step_down per calm_for.
func TestGovernorFloodCannotRushDecreases(t *testing.T) {
	g := NewGovernor(mustParse(t, strings.Replace(basePolicy, "step_down        = 0.1", "step_down        = 0.5", 1)))
	s := calmSample()
	prop := model.Proposal{Timeout: 150 * msec, Confidence: 1}
	g.SetCurrent(5 * time.Second)
	now := t0
	for i := 0; i < 20000; i++ { // 1.28s of samples
		now = now.Add(64 * time.Microsecond)
		s.At = now
		g.Step(now, s, prop)
	}
	// 1.28s holds one decrease at 500ms and one at 1s: 5s → 2.5s → 1.25s.
	if got := g.Current(); got != 1250*msec {
		t.Fatalf("after a 1.28s flood of 20000 samples: %v, want 1.25s", got)
	}
}

// TestGovernorResync: after Resync the reference is the host's value in
// force, not the governor's memory; with no host value the decision says
// it has no reference.
func TestGovernorResync(t *testing.T) {
	g := NewGovernor(mustParse(t, basePolicy))
	s := calmSample()
	prop := model.Proposal{Timeout: 150 * msec, Confidence: 1}
	g.SetCurrent(200 * msec) // what the governor last decided
	g.Resync()
	s.HeartbeatTimeout = time.Second // what the host restored
	s.At = t0
	if d := g.Step(t0, s, prop); d.Timeout != time.Second || d.NoReference {
		t.Fatalf("after a resync the host's 1s is the reference: %v (no reference %v)\n%s", d.Timeout, d.NoReference, d.Explain())
	}
	g.Resync()
	s.Present &^= collector.FieldHostTimeouts
	s.CPUIdlePct = math.NaN()
	if d := g.Step(t0, s, prop); !d.NoReference || !d.Held {
		t.Fatalf("a bad sample with no reference must say so: no reference %v, held %v", d.NoReference, d.Held)
	}
}

func TestFutureSampleIsStale(t *testing.T) {
	p := mustParse(t, basePolicy)
	s := calmSample()
	s.At = t0.Add(time.Hour)
	d := decide(p, s, time.Second, 100, 200*msec)
	if !d.Held || d.Timeout != time.Second {
		t.Fatalf("a sample an hour ahead was acted on: %v\n%s", d.Timeout, d.Explain())
	}
	s.At = t0.Add(-time.Hour)
	if d := decide(p, s, time.Second, 100, 200*msec); !d.Held {
		t.Fatalf("a sample an hour behind was acted on:\n%s", d.Explain())
	}
}

func TestHysteresisIsReplaced(t *testing.T) {
	_, diags := Parse([]byte("bounds {\n  hysteresis = 5\n}\n"), "old.hcl")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "old.hcl:2,16") || !strings.Contains(diags.Error(), "calm_for") {
		t.Fatalf("hysteresis must be an error naming calm_for: %v", diags)
	}
}

func TestPresetsParse(t *testing.T) {
	names := Presets()
	for _, want := range []string{"default", "lan", "wan", "etcd", "conservative"} {
		if _, err := Preset(want); err != nil {
			t.Errorf("preset %s: %v (have %v)", want, err, names)
		}
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
	if d := Default(); d.Name != "default" || len(d.Rules) == 0 {
		t.Fatalf("default policy: %+v", d)
	}
}

func TestConservativeOnlyLengthens(t *testing.T) {
	p, err := Preset("conservative")
	if err != nil {
		t.Fatal(err)
	}
	if d := decide(p, calmSample(), 2*time.Second, 1e6, 1100*msec); d.Timeout != 2*time.Second {
		t.Fatalf("conservative shortened: %v\n%s", d.Timeout, d.Explain())
	}
	if d := decide(p, calmSample(), 2*time.Second, 0, 2500*msec); d.Timeout != 2500*msec {
		t.Fatalf("conservative did not lengthen: %v", d.Timeout)
	}
	// Not even the leader's successor goes below the value in force.
	if d := decide(p, successorSample("n3", "n2"), 2*time.Second, 1e6, 2*time.Second); d.Timeout != 2*time.Second {
		t.Fatalf("conservative shortened the successor: %v\n%s", d.Timeout, d.Explain())
	}
}

func TestDecideAllocatesNothing(t *testing.T) {
	p := Default()
	st := State{Sample: calmSample(), Now: t0, Current: 700 * msec, Calm: 3 * time.Second}
	prop := model.Proposal{Timeout: 350 * msec, Confidence: 0.7}
	if n := testing.AllocsPerRun(100, func() { _ = p.Decide(st, prop) }); n != 0 {
		t.Fatalf("Decide allocates %v times per call", n)
	}
}

func BenchmarkDecideDefault(b *testing.B) {
	p := Default()
	st := State{Sample: calmSample(), Now: t0, Current: 700 * msec, Calm: 3 * time.Second}
	prop := model.Proposal{Timeout: 350 * msec, Confidence: 0.7}
	b.ReportAllocs()
	var d Decision
	for i := 0; i < b.N; i++ {
		d = p.Decide(st, prop)
	}
	_ = d
}

// TestExplanationsRoundDurations: the log says "804ms", not "804.27643ms".
func TestExplanationsRoundDurations(t *testing.T) {
	p := mustParse(t, basePolicy)
	s := calmSample()
	s.RTTP99 = 201068907 // 201.068907ms
	d := p.Decide(State{Sample: s}, model.Proposal{Timeout: 300 * msec, Confidence: 1})
	c, ok := findCheck(d, "rtt-floor")
	if !ok {
		t.Fatal("no rtt-floor check")
	}
	if got, want := c.String(), "300ms → 804ms"; !strings.Contains(got, want) || !strings.Contains(got, "(201ms) = 804ms") {
		t.Fatalf("check line %q: want %q and the rounded p99", got, want)
	}
	if d.Timeout != 804275628 {
		t.Fatalf("the decision itself is not rounded: %v", d.Timeout)
	}
}

// TestHostileFilesAreErrors: inputs that used to overflow the stack
// (validate, run and SIGHUP alike) or take hundreds of megabytes are
// positioned errors now.
func TestHostileFilesAreErrors(t *testing.T) {
	for name, src := range map[string]string{
		"parentheses": "rule \"r\" {\n  when = " + strings.Repeat("(", 30000) + "true" + strings.Repeat(")", 30000) + "\n  hold = true\n}\n",
		"negations":   "rule \"r\" {\n  when = " + strings.Repeat("!", 60000) + "true\n  hold = true\n}\n",
		"chain":       "rule \"r\" {\n  when = 1" + strings.Repeat(" + 1", 10000) + " > 0\n  hold = true\n}\n",
	} {
		if _, diags := Parse([]byte(src), "evil.hcl"); !diags.HasErrors() || !strings.Contains(diags.Error(), "evil.hcl:2,") {
			t.Errorf("%s: %v", name, diags)
		}
	}
}

func TestLeaderLeaseBelowHashicorpLimit(t *testing.T) {
	_, diags := Parse([]byte("host {\n  leader_lease_timeout = \"1ms\"\n}\n"), "lease.hcl")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "lease.hcl:2,26-31: leader_lease_timeout 1ms is below hashicorp/raft's hard limit") {
		t.Fatalf("leader_lease_timeout 1ms: %v", diags)
	}
}
