package model

import (
	"math"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// heartbeatGap returns the sample's heartbeat gap when it is a usable
// measurement of a follower that has a leader: a closed gap, one that a
// heartbeat ended. The still-open interval of a silent leader is not a
// sample of the gap distribution — learning from it would teach a detector
// to wait for the very failure it should detect.
func heartbeatGap(s *collector.Sample) (time.Duration, bool) {
	if !s.Has(collector.FieldHeartbeatGap|collector.FieldLastContact|collector.FieldRole) || s.Role == collector.RoleLeader || s.Leader == "" {
		return 0, false
	}
	if s.HeartbeatGap <= 0 || s.HeartbeatGap > time.Hour || s.LastContact >= s.HeartbeatGap {
		return 0, false
	}
	return s.HeartbeatGap, true
}

func heartbeatInterval(s *collector.Sample, last time.Duration) time.Duration {
	if s.Has(collector.FieldHostTimeouts) && s.HeartbeatInterval > 0 && s.HeartbeatInterval < time.Hour {
		return s.HeartbeatInterval
	}
	return last
}

// Static always proposes the host's default timeout: what a cluster gets
// when nobody tunes it.
type Static struct{ T time.Duration }

// Name implements Recommender.
func (Static) Name() string { return "static" }

// Observe implements Recommender; Static ignores its input.
func (Static) Observe(collector.Sample) {}

// Propose implements Recommender.
func (s Static) Propose() Proposal {
	return Proposal{Timeout: s.T, Confidence: 1, Reason: "the host's default"}
}

// Random is the Raft paper's timing: timers uniform in [150ms, 300ms). The
// host (and the simulator) already randomize a follower's timer in [T, 2T),
// so proposing T = 150ms reproduces the paper's range exactly.
type Random struct{}

// Name implements Recommender.
func (Random) Name() string { return "random" }

// Observe implements Recommender.
func (Random) Observe(collector.Sample) {}

// Propose implements Recommender.
func (Random) Propose() Proposal {
	return Proposal{Timeout: 150 * time.Millisecond, Confidence: 1, Reason: "Raft paper: timer uniform in [150ms, 300ms)"}
}

// Jacobson is an RFC 6298-style estimator over the heartbeat gaps a
// follower sees (the gap plays the role of the RTT sample): SRTT and RTTVAR
// smoothed with α = 1/8, β = 1/4, T = SRTT + 4·RTTVAR. The RFC's 1 s floor
// would make it static, so the floor is two heartbeat intervals: a single
// lost heartbeat never fires the timer.
type Jacobson struct {
	srtt, rttvar float64 // seconds
	init         bool
	hb           time.Duration
}

// Name implements Recommender.
func (*Jacobson) Name() string { return "jacobson" }

// Observe implements Recommender.
func (j *Jacobson) Observe(s collector.Sample) {
	j.hb = heartbeatInterval(&s, j.hb)
	g, ok := heartbeatGap(&s)
	if !ok {
		return
	}
	x := g.Seconds()
	if !j.init {
		j.srtt, j.rttvar, j.init = x, x/2, true
		return
	}
	j.rttvar = 0.75*j.rttvar + 0.25*math.Abs(j.srtt-x)
	j.srtt = 0.875*j.srtt + 0.125*x
}

// Propose implements Recommender.
func (j *Jacobson) Propose() Proposal {
	if !j.init {
		return Proposal{Timeout: time.Second, Confidence: 0.1, Reason: "no heartbeat gap seen yet: host default"}
	}
	t := time.Duration((j.srtt + 4*j.rttvar) * float64(time.Second))
	if f := 2 * j.hb; t < f {
		t = f
	}
	return Proposal{Timeout: t, Confidence: 0.8, Reason: "SRTT + 4·RTTVAR of heartbeat gaps"}
}

// Phi is a phi-accrual failure detector (Hayashibara et al., as in Akka and
// Cassandra) over heartbeat gaps: the timeout is the wait after which
// φ = −log10(1 − F(t)) crosses Threshold, F the normal CDF fitted to a
// window of recent gaps, with a minimum standard deviation of a quarter of
// the mean so a perfectly regular LAN does not give a hair trigger.
type Phi struct {
	Threshold float64
	buf       [100]float64
	n, next   int
}

// Name implements Recommender.
func (*Phi) Name() string { return "phi" }

// Observe implements Recommender.
func (p *Phi) Observe(s collector.Sample) {
	g, ok := heartbeatGap(&s)
	if !ok {
		return
	}
	p.buf[p.next] = g.Seconds()
	p.next = (p.next + 1) % len(p.buf)
	if p.n < len(p.buf) {
		p.n++
	}
}

// Propose implements Recommender.
func (p *Phi) Propose() Proposal {
	if p.n < 5 {
		return Proposal{Timeout: time.Second, Confidence: 0.1, Reason: "too few heartbeat gaps: host default"}
	}
	var sum, ss float64
	for _, x := range p.buf[:p.n] {
		sum += x
	}
	mean := sum / float64(p.n)
	for _, x := range p.buf[:p.n] {
		ss += (x - mean) * (x - mean)
	}
	std := math.Max(math.Sqrt(ss/float64(p.n)), mean/4)
	// 1 − Φ(z) = 10^−threshold  ⇒  z = Φ⁻¹(1 − 10^−threshold).
	z := math.Sqrt2 * math.Erfinv(1-2*math.Pow(10, -p.Threshold))
	t := time.Duration((mean + z*std) * float64(time.Second))
	return Proposal{Timeout: t, Confidence: math.Min(1, float64(p.n)/float64(len(p.buf))), Reason: "phi-accrual threshold over heartbeat gaps"}
}
