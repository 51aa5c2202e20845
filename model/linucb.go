package model

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// linucbDim is the context size: [1, RTT mean, RTT variance, recent failed
// elections, time since the last stable term], each normalized to about
// [0, 1].
const linucbDim = 5

// LinUCB is BALLAST's recommender: a disjoint linear contextual bandit over
// discrete timeout arms. Each decision holds for Period samples; its reward
// is then computed from those samples alone (the live agent sees the same
// stream) and the chosen arm's model is updated online.
//
// Reward of a period (0 is perfect, so an arm never tried, whose estimate
// is 0, looks optimistic and gets explored):
//
//	r = −0.5·(term changes seen) − 2·(share of samples with no leader, or no
//	    word from it for over three heartbeats) − 1.0·T/1s
//
// Elections are what too short a timeout costs; silent waiting is what too
// long a one costs when a leader fails, but failures are rare, so the last
// term prices detection time directly: a second of timeout costs as much as
// two needless term changes. (The weight was picked from 0.02–2 by a sweep
// on the ballast suite; see the project notes.)
//
// Risk capping: while the node is unstable (failed elections, or more than
// one election in the collector's window) the bandit only picks among arms
// at least as long as its current one and does not explore; it explores
// only when calm.
type LinUCB struct {
	Arms   []time.Duration
	Alpha  float64
	Period int

	a    [][linucbDim * linucbDim]float64 // A_a, row-major
	ainv [][linucbDim * linucbDim]float64 // A_a⁻¹, kept by Sherman–Morrison
	b    [][linucbDim]float64
	rng  *rand.Rand

	arm      int
	ctx      [linucbDim]float64
	steps    int
	termSeen uint64
	changes  int
	noLeader int
	unstable bool
}

// NewLinUCB returns a bandit with 8 arms log-spaced from 100ms to 1s
// (BALLAST's range), α = 0.2, deciding every 10 samples.
func NewLinUCB(seed uint64) *LinUCB {
	l := &LinUCB{Alpha: 0.2, Period: 10, rng: rand.New(rand.NewPCG(seed, 0x11cb))}
	const n = 8
	for i := 0; i < n; i++ {
		f := math.Pow(1000.0/100.0, float64(i)/float64(n-1))
		l.Arms = append(l.Arms, time.Duration(100*f)*time.Millisecond)
	}
	l.a = make([][linucbDim * linucbDim]float64, n)
	l.ainv = make([][linucbDim * linucbDim]float64, n)
	l.b = make([][linucbDim]float64, n)
	for k := 0; k < n; k++ {
		for i := 0; i < linucbDim; i++ {
			l.a[k][i*linucbDim+i] = 1
			l.ainv[k][i*linucbDim+i] = 1
		}
	}
	l.arm = n / 2
	return l
}

// Name implements Recommender.
func (*LinUCB) Name() string { return "linucb" }

func (l *LinUCB) context(s *collector.Sample) [linucbDim]float64 {
	x := [linucbDim]float64{1}
	if s.Has(collector.FieldRTT) && s.RTTMean >= 0 {
		x[1] = math.Min(s.RTTMean.Seconds()/0.5, 1)
		sd := s.RTTStdDev.Seconds() / 0.1
		x[2] = math.Min(sd*sd, 1)
	}
	if s.Has(collector.FieldElections) && s.FailedElectionsInWindow >= 0 {
		x[3] = math.Min(float64(s.FailedElectionsInWindow)/3, 1)
	}
	if s.Has(collector.FieldLeaderStableFor) && s.LeaderStableFor >= 0 {
		x[4] = math.Min(s.LeaderStableFor.Seconds()/60, 1)
	}
	return x
}

// Observe implements Recommender.
func (l *LinUCB) Observe(s collector.Sample) {
	if len(s.Check(time.Time{}, 0)) > 0 {
		return
	}
	if s.Has(collector.FieldTerm) {
		if l.termSeen != 0 && s.Term != l.termSeen {
			l.changes++
		}
		l.termSeen = s.Term
	}
	// A follower that has not heard from its leader for more than three
	// heartbeats is waiting — for a leader that may be gone. That wait is
	// what a long timeout costs when a leader really fails.
	if s.Has(collector.FieldLeader) && s.Leader == "" ||
		s.Has(collector.FieldLastContact|collector.FieldHostTimeouts) && s.HeartbeatInterval > 0 && s.LastContact > 3*s.HeartbeatInterval {
		l.noLeader++
	}
	l.unstable = s.Has(collector.FieldElections) && (s.FailedElectionsInWindow > 0 || s.ElectionsInWindow > 1)
	l.steps++
	if l.steps < l.Period {
		return
	}
	r := -0.5*float64(l.changes) - 2*float64(l.noLeader)/float64(l.steps) - 1.0*l.Arms[l.arm].Seconds()
	l.update(l.arm, l.ctx, r)
	l.ctx = l.context(&s)
	l.arm = l.choose(l.ctx)
	l.steps, l.changes, l.noLeader = 0, 0, 0
}

// update adds one observation to an arm: A += x xᵀ, b += r x, and A⁻¹ by
// the Sherman–Morrison identity.
func (l *LinUCB) update(k int, x [linucbDim]float64, r float64) {
	var ax [linucbDim]float64
	for i := 0; i < linucbDim; i++ {
		for j := 0; j < linucbDim; j++ {
			l.a[k][i*linucbDim+j] += x[i] * x[j]
			ax[i] += l.ainv[k][i*linucbDim+j] * x[j]
		}
		l.b[k][i] += r * x[i]
	}
	var xax float64
	for i := 0; i < linucbDim; i++ {
		xax += x[i] * ax[i]
	}
	for i := 0; i < linucbDim; i++ {
		for j := 0; j < linucbDim; j++ {
			l.ainv[k][i*linucbDim+j] -= ax[i] * ax[j] / (1 + xax)
		}
	}
}

// score returns θᵀx and the confidence width √(xᵀA⁻¹x) of an arm.
func (l *LinUCB) score(k int, x [linucbDim]float64) (mean, width float64) {
	var theta, ax [linucbDim]float64
	for i := 0; i < linucbDim; i++ {
		for j := 0; j < linucbDim; j++ {
			theta[i] += l.ainv[k][i*linucbDim+j] * l.b[k][j]
			ax[i] += l.ainv[k][i*linucbDim+j] * x[j]
		}
	}
	var xax float64
	for i := 0; i < linucbDim; i++ {
		mean += theta[i] * x[i]
		xax += x[i] * ax[i]
	}
	return mean, math.Sqrt(math.Max(xax, 0))
}

func (l *LinUCB) choose(x [linucbDim]float64) int {
	lo, alpha := 0, l.Alpha
	if l.unstable {
		lo, alpha = l.arm, 0 // risk cap: no shorter arm, no exploration
	}
	best, bestV := lo, math.Inf(-1)
	for k := lo; k < len(l.Arms); k++ {
		m, w := l.score(k, x)
		v := m + alpha*w
		// Ties (common before any data) break at random, from the seed.
		if v > bestV || (v == bestV && l.rng.IntN(2) == 0) {
			best, bestV = k, v
		}
	}
	return best
}

// Propose implements Recommender.
func (l *LinUCB) Propose() Proposal {
	_, w := l.score(l.arm, l.ctx)
	return Proposal{Timeout: l.Arms[l.arm], Confidence: 1 / (1 + w), Reason: "LinUCB arm"}
}
