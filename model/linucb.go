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
// Reward of a period (0 is perfect):
//
//	r = −0.5·(term changes seen) − 2·(share of samples with no leader, or no
//	    word from it for over three heartbeats) − TimeoutCost·T/1s
//
// Elections are what too short a timeout costs; silent waiting is what too
// long a one costs when a leader fails, but failures are rare, so the last
// term prices detection time directly: a second of timeout costs as much as
// two needless term changes. (The weight was picked from 0.02–2 by a sweep
// on the ballast suite.)
//
// Prior: the timeout cost is known before any data, so every arm starts
// from it (θ₀ = −TimeoutCost·T in the intercept) instead of from 0. With a
// zero prior an untried arm looks perfect and every node spends its first
// periods trying the 1s arms, each of them a second of blindness to a
// crash; with the prior only the data (term changes, leaderless time) can
// make a long arm look better than a short one, and exploration stays among
// arms whose cost is close to the best.
//
// Risk capping: while the node is unstable (failed elections, or more than
// one election in the collector's window) the bandit only picks among arms
// at least as long as its current one and does not explore; it explores
// only when calm.
type LinUCB struct {
	Arms   []time.Duration
	Alpha  float64
	Period int
	// TimeoutCost is the reward lost per second of the arm's timeout, per
	// period; NewLinUCB also uses it as the prior's slope.
	TimeoutCost float64

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

// linucbArms are the timeouts the bandit chooses among, 100ms to 1s
// (BALLAST's range). They are dense where the choice matters: on every
// scenario of the ballast suite the best fixed timeout is 200ms or less,
// and a 25ms step there moves a LAN's crash detection by about as much;
// above 300ms the arms are the conservative fallbacks of a network in
// trouble.
var linucbArms = [...]time.Duration{
	100 * time.Millisecond, 125 * time.Millisecond, 150 * time.Millisecond, 175 * time.Millisecond,
	200 * time.Millisecond, 250 * time.Millisecond, 300 * time.Millisecond, 400 * time.Millisecond,
	500 * time.Millisecond, 650 * time.Millisecond, 800 * time.Millisecond, time.Second,
}

// linucbInitial is the arm in force before the first decision: the Raft
// paper's 150ms, safe on a LAN and a WAN alike. (Starting in the middle of
// the range, near 400ms, delays the first election of every run.)
const linucbInitial = 150 * time.Millisecond

// NewLinUCB returns a bandit over linucbArms with α = 0.2 and a timeout
// cost of 1 per second, deciding every 10 samples, starting at 150ms.
func NewLinUCB(seed uint64) *LinUCB {
	l := &LinUCB{Alpha: 0.2, Period: 10, TimeoutCost: 1.0, rng: rand.New(rand.NewPCG(seed, 0x11cb))}
	l.Arms = append(l.Arms, linucbArms[:]...)
	n := len(l.Arms)
	l.a = make([][linucbDim * linucbDim]float64, n)
	l.ainv = make([][linucbDim * linucbDim]float64, n)
	l.b = make([][linucbDim]float64, n)
	for k := 0; k < n; k++ {
		for i := 0; i < linucbDim; i++ {
			l.a[k][i*linucbDim+i] = 1
			l.ainv[k][i*linucbDim+i] = 1
		}
		// A = I, so θ = b: the prior mean of an arm is its timeout cost.
		l.b[k][0] = -l.TimeoutCost * l.Arms[k].Seconds()
		if l.Arms[k] <= linucbInitial {
			l.arm = k
		}
	}
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
	r := -0.5*float64(l.changes) - 2*float64(l.noLeader)/float64(l.steps) - l.TimeoutCost*l.Arms[l.arm].Seconds()
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
