package model

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
)

const msec = time.Millisecond

// follower returns a follower sample whose last heartbeat gap (closed a
// moment ago) was gap.
func follower(gap time.Duration) collector.Sample {
	s := collector.Sample{Role: collector.RoleFollower, Leader: "n1", Term: 2, HeartbeatGap: gap, LastContact: gap / 4,
		HeartbeatInterval: 50 * msec, HeartbeatTimeout: time.Second, ClusterSize: 5}
	s.Set(collector.FieldRole | collector.FieldLeader | collector.FieldTerm | collector.FieldHeartbeatGap |
		collector.FieldLastContact | collector.FieldHostTimeouts | collector.FieldClusterSize)
	return s
}

func TestRegistry(t *testing.T) {
	for _, n := range Names() {
		r, err := New(n, Options{Seed: 1})
		if err != nil || r.Name() != n {
			t.Fatalf("%s: %v %v", n, r, err)
		}
		if p := r.Propose(); p.Timeout <= 0 || p.Confidence < 0 || p.Confidence > 1 {
			t.Fatalf("%s: first proposal %+v", n, p)
		}
	}
	if _, err := New("nope", Options{}); err == nil {
		t.Fatal("unknown name accepted")
	}
}

func TestStaticAndRandom(t *testing.T) {
	if p := (Static{T: 700 * msec}).Propose(); p.Timeout != 700*msec {
		t.Fatal(p)
	}
	if p := (Random{}).Propose(); p.Timeout != 150*msec {
		t.Fatalf("random proposes %v; the host's [T, 2T) then gives the paper's 150-300ms", p.Timeout)
	}
}

func TestJacobsonFollowsGaps(t *testing.T) {
	j := &Jacobson{}
	for i := 0; i < 200; i++ {
		j.Observe(follower(50 * msec))
	}
	steady := j.Propose().Timeout
	// Steady 50ms gaps: SRTT → 50ms, RTTVAR → 0, so the two-heartbeat
	// floor (100ms) rules.
	if steady != 100*msec {
		t.Fatalf("steady: %v", steady)
	}
	for i := 0; i < 50; i++ {
		j.Observe(follower(time.Duration(50+rand.New(rand.NewPCG(uint64(i), 0)).IntN(300)) * msec))
	}
	if jumpy := j.Propose().Timeout; jumpy <= 2*steady {
		t.Fatalf("jittery gaps did not raise the timeout: %v", jumpy)
	}
}

func TestEstimatorsIgnoreBadAndOpenGaps(t *testing.T) {
	for _, r := range []Recommender{&Jacobson{}, &Phi{Threshold: 8}} {
		for i := 0; i < 50; i++ {
			r.Observe(follower(50 * msec))
		}
		before := r.Propose().Timeout
		bad := []collector.Sample{
			func() collector.Sample { s := follower(-5 * msec); return s }(),
			func() collector.Sample { s := follower(50 * msec); s.Present = 0; return s }(),
			func() collector.Sample { s := follower(50 * msec); s.Leader = ""; return s }(),
			// A silent leader: the open interval is the gap; it must not
			// teach the detector to wait for the failure.
			func() collector.Sample { s := follower(5 * time.Second); s.LastContact = 5 * time.Second; return s }(),
		}
		for _, s := range bad {
			for i := 0; i < 20; i++ {
				r.Observe(s)
			}
		}
		if after := r.Propose().Timeout; after != before {
			t.Fatalf("%s moved %v → %v on bad or open-gap samples", r.Name(), before, after)
		}
	}
}

func TestPhiThreshold(t *testing.T) {
	p := &Phi{Threshold: 8}
	for i := 0; i < 100; i++ {
		p.Observe(follower(time.Duration(40+i%21) * msec)) // mean 50ms
	}
	// z(φ=8) ≈ 5.61; std is floored at mean/4 = 12.5ms ⇒ T ≈ 50 + 70 = 120ms.
	got := p.Propose().Timeout
	if got < 110*msec || got > 130*msec {
		t.Fatalf("phi timeout %v, want ≈120ms", got)
	}
}

func TestLinUCBInverseMatchesNaive(t *testing.T) {
	l := NewLinUCB(1)
	rng := rand.New(rand.NewPCG(3, 4))
	var a [linucbDim][linucbDim]float64
	for i := range a {
		a[i][i] = 1
	}
	for n := 0; n < 200; n++ {
		x := [linucbDim]float64{1, rng.Float64(), rng.Float64(), rng.Float64(), rng.Float64()}
		l.update(2, x, rng.Float64())
		for i := range a {
			for j := range a {
				a[i][j] += x[i] * x[j]
			}
		}
	}
	// A · A⁻¹ must be the identity.
	for i := 0; i < linucbDim; i++ {
		for j := 0; j < linucbDim; j++ {
			var s float64
			for k := 0; k < linucbDim; k++ {
				s += a[i][k] * l.ainv[2][k*linucbDim+j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-9 {
				t.Fatalf("(A·A⁻¹)[%d][%d] = %g", i, j, s)
			}
		}
	}
}

func TestLinUCBLearnsTheBestArm(t *testing.T) {
	l := NewLinUCB(7)
	x := [linucbDim]float64{1, 0.2, 0.1, 0, 0.5}
	rng := rand.New(rand.NewPCG(9, 9))
	for n := 0; n < 2000; n++ {
		k := l.choose(x)
		r := -math.Abs(float64(k)-5)/4 + 0.05*rng.NormFloat64() // arm 5 is best
		l.update(k, x, r)
	}
	if k := l.choose(x); k != 5 {
		t.Fatalf("chose arm %d, want 5", k)
	}
}

func TestLinUCBDeterministicAndRiskCapped(t *testing.T) {
	run := func() []time.Duration {
		l := NewLinUCB(11)
		var out []time.Duration
		for i := 0; i < 400; i++ {
			s := follower(50 * msec)
			s.Set(collector.FieldElections)
			if i > 200 && i < 260 {
				s.FailedElectionsInWindow, s.ElectionsInWindow = 1, 2
			}
			s.Term = uint64(2 + i/100)
			l.Observe(s)
			out = append(out, l.Propose().Timeout)
		}
		return out
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different proposals")
	}
	// While unstable, the proposal never shortens.
	for i := 212; i < 260; i++ {
		if a[i] < a[i-1] {
			t.Fatalf("proposal shortened %v → %v while unstable (step %d)", a[i-1], a[i], i)
		}
	}
}

func BenchmarkLinUCBStep(b *testing.B) {
	l := NewLinUCB(1)
	s := follower(50 * msec)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Observe(s)
		_ = l.Propose()
	}
}
