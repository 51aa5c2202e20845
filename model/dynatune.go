package model

import (
	"math"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// Dynatune is the method of Shiozaki and Nakamura, "Dynatune: Dynamic
// Tuning of Raft Election Parameters Using Network Measurement" (arXiv
// 2507.15154, IPDPS workshops 2025), as a baseline. Its proposed-method
// section sets both election parameters from what a follower measures on
// the heartbeats of its current leader:
//
//   - election timeout  Et = μ + s·σ, μ and σ the mean and standard
//     deviation of the measured round-trip times and s a safety factor;
//   - heartbeat interval h = ⌊Et / (K+1)⌋, where K = ⌈log(1−r)/log(p) + 1⌉
//     is how many heartbeats must fit in Et so that, at packet loss rate p,
//     at least one arrives with probability r (the "reachability goal");
//     K = 1 when no loss was seen.
//
// Nothing is tuned until MinSamples measurements have been taken since the
// node last changed term or leader (the method resets its measurements on
// every role change); until then the host's configured timeout holds. The
// defaults are those the authors' etcd fork documents: s = 2, r = 0.999,
// at least 10 measurements.
//
// Where the paper leaves a choice open, or this project's hosts differ,
// this implementation chooses, and says so here:
//   - RTT statistics are the collector's (Sample.RTTMean, RTTStdDev: the
//     probes of its window) rather than a private list of up to 1000
//     heartbeat RTTs.
//   - The loss rate comes from heartbeat gaps, since samples carry no
//     heartbeat sequence numbers: a closed gap g at host interval h counts
//     round(g/h)−1 heartbeats missed; p = missed / expected over the last
//     LossWindow samples. A heartbeat later than its successor's slot thus
//     counts as lost, which is what it is to an election timer.
//   - The paper's leader sends at h; hosts that take no heartbeat interval
//     from an adviser (hashicorp/raft derives it from the timeout; the
//     simulator keeps the scenario's) still send at their own h_host. Et
//     must then still hold K+1 of those intervals for the reachability goal
//     to hold, so the proposed timeout is max(μ + s·σ, (K+1)·h_host), and h
//     is proposed as Heartbeat for hosts that take it.
type Dynatune struct {
	// SafetyFactor is s, the multiple of the RTT deviation added to the
	// mean.
	SafetyFactor float64
	// ReachabilityGoal is r, the wanted probability that at least one
	// heartbeat arrives within an election timeout.
	ReachabilityGoal float64
	// MinSamples is how many measurements are needed before tuning.
	MinSamples int
	// Default is the host's configured timeout, used until MinSamples.
	Default time.Duration

	hb        time.Duration // host heartbeat interval in force
	term      uint64
	leader    string
	n         int // samples with an RTT since the last term/leader change
	mean, std time.Duration
	lastAt    time.Time

	// Loss window: expected and missed heartbeats per sample, a ring.
	expected, missed [LossWindow]float64
	next, filled     int
	sumExp, sumMiss  float64
}

// LossWindow is how many samples Dynatune's loss estimate covers (25.6 s
// at the agent's 100 ms tick).
const LossWindow = 256

// NewDynatune returns Dynatune with the defaults of the authors' etcd fork;
// def is the host's configured timeout (1s when zero).
func NewDynatune(def time.Duration) *Dynatune {
	if def <= 0 {
		def = time.Second
	}
	return &Dynatune{SafetyFactor: 2, ReachabilityGoal: 0.999, MinSamples: 10, Default: def}
}

// Name implements Recommender.
func (*Dynatune) Name() string { return "dynatune" }

func (d *Dynatune) reset() {
	d.n, d.next, d.filled, d.sumExp, d.sumMiss = 0, 0, 0, 0, 0
	d.lastAt = time.Time{}
}

// Observe implements Recommender.
func (d *Dynatune) Observe(s collector.Sample) {
	d.hb = heartbeatInterval(&s, d.hb)
	if !s.Has(collector.FieldRole|collector.FieldLeader|collector.FieldTerm) || s.Role != collector.RoleFollower || s.Leader == "" {
		return
	}
	if s.Term != d.term || s.Leader != d.leader {
		d.term, d.leader = s.Term, s.Leader
		d.reset()
	}
	if s.Has(collector.FieldRTT) && s.RTTMean > 0 && s.RTTMean < time.Hour && s.RTTStdDev >= 0 {
		d.mean, d.std = s.RTTMean, s.RTTStdDev
		d.n++
	}
	if d.hb <= 0 {
		return
	}
	var exp, miss float64
	if !d.lastAt.IsZero() && s.At.After(d.lastAt) {
		exp = float64(s.At.Sub(d.lastAt)) / float64(d.hb)
	}
	d.lastAt = s.At
	if g, ok := heartbeatGap(&s); ok {
		miss = max(0, math.Round(float64(g)/float64(d.hb))-1)
	}
	if miss > exp {
		exp = miss
	}
	if d.filled == LossWindow {
		d.sumExp -= d.expected[d.next]
		d.sumMiss -= d.missed[d.next]
	} else {
		d.filled++
	}
	d.expected[d.next], d.missed[d.next] = exp, miss
	d.sumExp += exp
	d.sumMiss += miss
	d.next = (d.next + 1) % LossWindow
}

// LossRate is the estimated heartbeat loss rate p in [0, 1).
func (d *Dynatune) LossRate() float64 {
	if d.sumExp <= 0 || d.sumMiss <= 0 {
		return 0
	}
	return min(d.sumMiss/d.sumExp, 0.99)
}

// heartbeatsPerTimeout is the paper's K for loss rate p and goal r.
func heartbeatsPerTimeout(p, r float64) float64 {
	if p <= 0 {
		return 1
	}
	return math.Ceil(math.Log(1-r)/math.Log(p) + 1)
}

// Propose implements Recommender.
func (d *Dynatune) Propose() Proposal {
	if d.n < d.MinSamples {
		return Proposal{Timeout: d.Default, Confidence: 0.1, Reason: "too few measurements since the last leader change: host default"}
	}
	et := time.Duration(float64(d.mean) + d.SafetyFactor*float64(d.std))
	k := heartbeatsPerTimeout(d.LossRate(), d.ReachabilityGoal)
	h := time.Duration(math.Floor(float64(et) / (k + 1)))
	t := et
	if f := time.Duration((k + 1) * float64(d.hb)); t < f {
		t = f
	}
	return Proposal{Timeout: t, Heartbeat: h, Confidence: min(1, float64(d.n)/100), Reason: "Dynatune: RTT mean + s·σ, K+1 heartbeats per timeout at the loss rate"}
}
