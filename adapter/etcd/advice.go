package etcd

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Flags are etcd's two timing flags. Neither changes on a running member;
// in practice every member of a cluster runs with the same pair.
type Flags struct {
	Heartbeat time.Duration // --heartbeat-interval
	Election  time.Duration // --election-timeout
}

func (f Flags) String() string {
	return fmt.Sprintf("--heartbeat-interval=%d --election-timeout=%d", f.Heartbeat.Milliseconds(), f.Election.Milliseconds())
}

// AdviceConfig bounds and paces the restart-time advice. The bounds come
// from the agent's policy, so the advice never leaves them.
type AdviceConfig struct {
	ElectionMin, ElectionMax   time.Duration
	HeartbeatMin, HeartbeatMax time.Duration
	// RTTFactor: the election timeout is at least RTTFactor × the peer
	// round-trip p99 (the policy's invariant 2; default 4).
	RTTFactor float64
	// HeartbeatFloor is the least heartbeat interval advised (default
	// 100ms, etcd's own: a shorter one costs CPU and traffic on every
	// member for a faster detection that loopback or a LAN rarely needs).
	HeartbeatFloor time.Duration
	// Horizon is how far back the evidence reaches (default 24h; a member
	// that started later counts since its start).
	Horizon time.Duration
	// MinEvidence is the least span of evidence before any advice other
	// than the flags in force (default 10m).
	MinEvidence time.Duration
	// Margin: the advice changes only when the evidence asks for an
	// election timeout or heartbeat that differs from the advice in force
	// by more than this share (default 0.25).
	Margin float64
	// Period is the least time between two changes of the advice (default
	// 6h): each change means a rolling restart.
	Period time.Duration
	// Every is how often every member's /metrics is read (default 10s).
	Every time.Duration
}

func (c *AdviceConfig) defaults() {
	if c.ElectionMin <= 0 {
		c.ElectionMin = 150 * time.Millisecond
	}
	if c.ElectionMax <= 0 {
		c.ElectionMax = 5 * time.Second
	}
	if c.HeartbeatMin <= 0 {
		c.HeartbeatMin = 10 * time.Millisecond
	}
	if c.HeartbeatMax <= 0 {
		c.HeartbeatMax = time.Second
	}
	if c.RTTFactor <= 0 {
		c.RTTFactor = 4
	}
	if c.HeartbeatFloor <= 0 {
		c.HeartbeatFloor = 100 * time.Millisecond
	}
	if c.Horizon <= 0 {
		c.Horizon = 24 * time.Hour
	}
	if c.MinEvidence <= 0 {
		c.MinEvidence = 10 * time.Minute
	}
	if c.Margin <= 0 {
		c.Margin = 0.25
	}
	if c.Period <= 0 {
		c.Period = 6 * time.Hour
	}
	if c.Every <= 0 {
		c.Every = 10 * time.Second
	}
}

// Evidence is what the members' /metrics say over a span: histograms and
// counters merged over every member read.
type Evidence struct {
	Span    time.Duration // the shortest span any member's figures cover
	Members int           // members read
	PeerRTT Histogram     // etcd_network_peer_round_trip_time_seconds, all pairs
	// WorstPeerP99 is the largest round-trip p99 of any one pair.
	WorstPeerP99      time.Duration
	WALFsync          Histogram // etcd_disk_wal_fsync_duration_seconds
	LeaderChanges     int       // the most any member saw, its first leader not counted
	HeartbeatFailures float64
	SlowApplies       float64
	// Stalls are the per-interval figures of the intervals that saw a
	// leader change (only a running agent has them).
	Stalls []Stall
}

// Stall is one interval between two readings of every member that saw
// leader changes, with the worst heartbeat delay its figures show.
type Stall struct {
	At            time.Time
	LeaderChanges int
	// Delay is the worst peer round-trip p99 plus WAL fsync p99 of any
	// member over the interval: how late a heartbeat could have been.
	// Zero when the interval has no such figures.
	Delay time.Duration
}

// Recommendation is advice with the evidence it rests on, said in an
// operator's words.
type Recommendation struct {
	Flags
	Now    Flags // the flags in force
	RTTP50 time.Duration
	RTTP99 time.Duration
	Fsync  time.Duration // WAL fsync p99
	// Delay is how late a heartbeat may be: round-trip p99 + fsync p99.
	Delay    time.Duration
	Evidence Evidence
	// Enough says the evidence covers MinEvidence with round trips
	// measured; without, the advice is the flags in force.
	Enough bool
	// Avoided counts the stalls in Evidence that the flags in force did
	// not cover and the advised ones would.
	Avoided, Attributed int
	need                time.Duration
}

// Change says whether following the advice means a restart.
func (r Recommendation) Change() bool { return r.Flags != r.Now }

// Text is the advice as an operator reads it.
func (r Recommendation) Text() string {
	var b strings.Builder
	if r.Change() {
		fmt.Fprintf(&b, "restart members one at a time with %s (now %d/%d ms)", r.Flags, r.Now.Heartbeat.Milliseconds(), r.Now.Election.Milliseconds())
	} else {
		fmt.Fprintf(&b, "keep %s", r.Flags)
	}
	ev := r.Evidence
	if !r.Enough {
		fmt.Fprintf(&b, ": gathering evidence (advice needs %s of peer round trips in every member's metrics)", shortDur(r.need))
		return b.String()
	}
	fmt.Fprintf(&b, ": over %s of %d members' metrics, peer round trips p50 %s p99 %s", shortDur(ev.Span), ev.Members, fmtMS(r.RTTP50), fmtMS(r.RTTP99))
	if ev.WorstPeerP99 > 0 {
		fmt.Fprintf(&b, " (worst pair %s)", fmtMS(ev.WorstPeerP99))
	}
	fmt.Fprintf(&b, ", WAL fsync p99 %s, %d leader changes, %.0f heartbeat send failures, %.0f slow applies",
		fmtMS(r.Fsync), ev.LeaderChanges, ev.HeartbeatFailures, ev.SlowApplies)
	fmt.Fprintf(&b, "; a heartbeat can be %s late, the advised timeout covers that %.1f times", fmtMS(r.Delay), float64(r.Election)/float64(max(r.Delay+r.Heartbeat, time.Millisecond)))
	if r.Attributed > 0 || len(ev.Stalls) > 0 {
		fmt.Fprintf(&b, "; these flags would have avoided %d of the %d leader changes seen while the agent ran", r.Avoided, r.Attributed)
	}
	fmt.Fprintf(&b, "; a dead leader would be detected in %d–%d ms (now %d–%d ms)",
		r.Election.Milliseconds(), 2*r.Election.Milliseconds(), r.Now.Election.Milliseconds(), 2*r.Now.Election.Milliseconds())
	return b.String()
}

func fmtMS(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

func shortDur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// Recommend turns evidence into flags: a heartbeat interval near the
// typical peer round trip (etcd's guidance), never below HeartbeatFloor;
// an election timeout of at least five heartbeats (etcd's own limit) that
// covers twice the latest a heartbeat may arrive (the heartbeat plus the
// worst round-trip p99 plus the WAL fsync p99, since a leader blocked in
// fsync sends no heartbeats), and RTTFactor × the round-trip p99; inside
// the bounds, rounded to a step an operator would type. It never advises a
// shorter timeout than the one in force when the evidence holds leader
// changes. It is pure: the same evidence gives the same advice on every
// member.
func Recommend(ev Evidence, now Flags, c AdviceConfig) Recommendation {
	c.defaults()
	r := Recommendation{Flags: now, Now: now, Evidence: ev, need: c.MinEvidence}
	r.RTTP50, _ = ev.PeerRTT.Quantile(0.5)
	r.RTTP99, _ = ev.PeerRTT.Quantile(0.99)
	r.Fsync, _ = ev.WALFsync.Quantile(0.99)
	worst := max(r.RTTP99, ev.WorstPeerP99)
	r.Delay = worst + r.Fsync
	r.Enough = ev.Members > 0 && ev.Span >= c.MinEvidence && ev.PeerRTT.Count > 0
	if !r.Enough {
		return r
	}
	hb := max(c.HeartbeatFloor, roundUp(r.RTTP50, 10*time.Millisecond))
	hb = clampDur(hb, c.HeartbeatMin, c.HeartbeatMax)
	e := max(5*hb, 2*(hb+r.Delay), time.Duration(c.RTTFactor*float64(worst)))
	e = ladder(e)
	e = clampDur(e, c.ElectionMin, c.ElectionMax)
	if e < 5*hb {
		hb = max(c.HeartbeatMin, e/5/time.Millisecond*time.Millisecond)
	}
	if ev.LeaderChanges > 0 && e < now.Election {
		e = now.Election
		hb = min(hb, now.Heartbeat)
		if hb*5 > e {
			hb = e / 5
		}
	}
	r.Flags = Flags{Heartbeat: hb, Election: e}
	for _, s := range ev.Stalls {
		if s.Delay <= 0 {
			continue
		}
		r.Attributed += s.LeaderChanges
		if s.Delay+now.Heartbeat >= now.Election && s.Delay+hb < e {
			r.Avoided += s.LeaderChanges
		}
	}
	return r
}

// ladder rounds an election timeout up to a step an operator would type:
// 100ms below 2s, 500ms below 10s, whole seconds above.
func ladder(d time.Duration) time.Duration {
	switch {
	case d <= 2*time.Second:
		return roundUp(d, 100*time.Millisecond)
	case d <= 10*time.Second:
		return roundUp(d, 500*time.Millisecond)
	}
	return roundUp(d, time.Second)
}

func clampDur(v, lo, hi time.Duration) time.Duration {
	if hi > 0 && v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}

// Adviser keeps the advice stable: it moves only when fresh evidence asks
// for flags past the margin from the advice in force, and at most once
// per period. It starts from the flags the members run with.
type Adviser struct {
	cfg     AdviceConfig
	cur     Recommendation
	changed time.Time
	changes int
}

// NewAdviser starts from the flags in force.
func NewAdviser(now Flags, c AdviceConfig) *Adviser {
	c.defaults()
	return &Adviser{cfg: c, cur: Recommendation{Flags: now, Now: now, need: c.MinEvidence}}
}

// Update weighs fresh evidence at time t and reports whether the advice
// changed. The advice in force keeps the text it was given when it
// changed, so a reader sees the same words until the next change.
func (a *Adviser) Update(t time.Time, ev Evidence) bool {
	r := Recommend(ev, a.cur.Now, a.cfg)
	if !r.Enough {
		if !a.cur.Enough {
			a.cur = r // still gathering: say how far
		}
		return false
	}
	first := !a.cur.Enough
	if !first && (!past(r.Election, a.cur.Election, a.cfg.Margin) && !past(r.Heartbeat, a.cur.Heartbeat, a.cfg.Margin) ||
		t.Sub(a.changed) < a.cfg.Period) {
		return false
	}
	moved := r.Flags != a.cur.Flags
	if first && !moved {
		a.cur = r // the flags in force, now with evidence: not a change
		return false
	}
	if first && !past(r.Election, a.cur.Election, a.cfg.Margin) && !past(r.Heartbeat, a.cur.Heartbeat, a.cfg.Margin) {
		// Within the margin of the flags in force: keep them.
		r.Flags = a.cur.Flags
		a.cur = r
		return false
	}
	a.cur, a.changed = r, t
	a.changes++
	return true
}

// Current is the advice in force.
func (a *Adviser) Current() Recommendation { return a.cur }

// Changes counts the advice's changes.
func (a *Adviser) Changes() int { return a.changes }

func past(v, ref time.Duration, margin float64) bool {
	if ref <= 0 {
		return v > 0
	}
	return math.Abs(float64(v-ref))/float64(ref) > margin
}
