package etcd

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// hist is a histogram of etcd's peer round-trip buckets (0.1ms doubling)
// holding n observations at each of the given values.
func hist(n float64, vals ...time.Duration) Histogram {
	h := Histogram{}
	for b := 0.0001; b < 4; b *= 2 {
		h.Bounds = append(h.Bounds, b)
	}
	h.Bounds = append(h.Bounds, math.Inf(1))
	h.Counts = make([]float64, len(h.Bounds))
	for _, v := range vals {
		for i, ub := range h.Bounds {
			if v.Seconds() <= ub {
				h.Counts[i] += n
			}
		}
		h.Sum += n * v.Seconds()
		h.Count += n
	}
	return h
}

var etcdDefaults = Flags{Heartbeat: 100 * time.Millisecond, Election: time.Second}

func TestRecommend(t *testing.T) {
	c := AdviceConfig{}
	calm := Evidence{Span: time.Hour, Members: 3, PeerRTT: hist(100, time.Millisecond), WALFsync: hist(100, 5*time.Millisecond)}
	for _, tc := range []struct {
		name string
		ev   Evidence
		now  Flags
		want Flags
	}{
		{"a calm LAN halves etcd's default election timeout", calm, etcdDefaults, Flags{Heartbeat: 100 * time.Millisecond, Election: 500 * time.Millisecond}},
		{"too little evidence keeps the flags in force", Evidence{Span: time.Minute, Members: 3, PeerRTT: hist(10, 300*time.Millisecond)}, etcdDefaults, etcdDefaults},
		{"no round trips keeps the flags in force", Evidence{Span: time.Hour, Members: 3}, etcdDefaults, etcdDefaults},
		{"a WAN round trip raises both", Evidence{Span: time.Hour, Members: 3, PeerRTT: hist(100, 150*time.Millisecond), WALFsync: hist(100, 5*time.Millisecond)},
			etcdDefaults, Flags{Heartbeat: 160 * time.Millisecond, Election: 900 * time.Millisecond}},
		{"slow fsync raises the election timeout only", Evidence{Span: time.Hour, Members: 3, PeerRTT: hist(100, time.Millisecond), WALFsync: hist(100, 700*time.Millisecond)},
			etcdDefaults, Flags{Heartbeat: 100 * time.Millisecond, Election: 1900 * time.Millisecond}},
		{"the policy's maximum caps it", Evidence{Span: time.Hour, Members: 3, PeerRTT: hist(100, 3*time.Second)},
			etcdDefaults, Flags{Heartbeat: time.Second, Election: 5 * time.Second}},
		{"calm evidence lowers over-long flags", calm, Flags{Heartbeat: 500 * time.Millisecond, Election: 5 * time.Second},
			Flags{Heartbeat: 100 * time.Millisecond, Election: 500 * time.Millisecond}},
		{"not while leaders changed", Evidence{Span: time.Hour, Members: 3, PeerRTT: hist(100, time.Millisecond), LeaderChanges: 2},
			Flags{Heartbeat: 500 * time.Millisecond, Election: 5 * time.Second}, Flags{Heartbeat: 100 * time.Millisecond, Election: 5 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Recommend(tc.ev, tc.now, c)
			if r.Flags != tc.want {
				t.Fatalf("got %v, want %v: %s", r.Flags, tc.want, r.Text())
			}
			if r.Election < 150*time.Millisecond || r.Election > 5*time.Second || r.Election < 5*r.Heartbeat {
				t.Fatalf("outside the bounds: %v", r.Flags)
			}
			t.Log(r.Text())
		})
	}
}

// A seeded sweep: whatever the evidence, the advice stays inside the
// policy's bounds and etcd's own rule (election ≥ 5 heartbeats), and
// covers the heartbeat's worst delay unless the maximum caps it.
func TestRecommendBounds(t *testing.T) {
	c := AdviceConfig{ElectionMin: 300 * time.Millisecond, ElectionMax: 3 * time.Second, HeartbeatMin: 20 * time.Millisecond, HeartbeatMax: 500 * time.Millisecond}
	x := uint64(1)
	next := func() float64 { x = x*6364136223846793005 + 1442695040888963407; return float64(x>>11) / (1 << 53) }
	for i := 0; i < 2000; i++ {
		rtt := time.Duration(math.Pow(10, 5*next()-1) * float64(time.Millisecond))
		fs := time.Duration(math.Pow(10, 4*next()-1) * float64(time.Millisecond))
		ev := Evidence{Span: time.Hour, Members: 3, PeerRTT: hist(50, rtt), WALFsync: hist(50, fs), LeaderChanges: int(3 * next())}
		now := Flags{Heartbeat: time.Duration(1+int(400*next())) * time.Millisecond}
		now.Election = now.Heartbeat * time.Duration(5+int(20*next()))
		r := Recommend(ev, now, c)
		if r.Election > c.ElectionMax && r.Election > now.Election || r.Election < c.ElectionMin || r.Election < 5*r.Heartbeat || r.Heartbeat < c.HeartbeatMin || r.Heartbeat > c.HeartbeatMax {
			t.Fatalf("rtt %v fsync %v now %v: advised %v", rtt, fs, now, r.Flags)
		}
		if r.Election < c.ElectionMax && r.Election < 2*(r.Delay+r.Heartbeat) {
			t.Fatalf("rtt %v fsync %v: %v does not cover twice the delay %v", rtt, fs, r.Flags, r.Delay)
		}
	}
}

// The adviser is stable: evidence that wobbles inside the margin never
// changes it; evidence past the margin changes it at most once a period;
// the text stays the same between changes.
func TestAdviserStable(t *testing.T) {
	a := NewAdviser(etcdDefaults, AdviceConfig{Period: time.Hour, MinEvidence: time.Minute})
	t0 := time.Unix(1_700_000_000, 0)
	gathering := a.Current().Text()
	if !strings.Contains(gathering, "gathering evidence") || a.Current().Change() {
		t.Fatalf("before evidence: %s", gathering)
	}
	// Calm: one change, to five heartbeats of 100ms (etcd's defaults keep
	// ten), then, with fsync tails wobbling from 20ms to 60ms, no other.
	calmEv := func(i int) Evidence {
		fs := time.Duration(20+i%3*20) * time.Millisecond
		return Evidence{Span: time.Minute + time.Duration(i)*time.Second, Members: 3, PeerRTT: hist(100, time.Millisecond, 2*time.Millisecond), WALFsync: hist(100, fs)}
	}
	if !a.Update(t0, calmEv(0)) || a.Changes() != 1 || a.Current().Flags != (Flags{Heartbeat: 100 * time.Millisecond, Election: 500 * time.Millisecond}) {
		t.Fatalf("calm evidence: %s", a.Current().Text())
	}
	var texts []string
	for i := 1; i < 100; i++ {
		// Past the period too: the wobble stays inside the margin.
		if a.Update(t0.Add(time.Duration(i)*time.Minute), calmEv(i)) {
			t.Fatalf("changed again on calm evidence at %d: %s", i, a.Current().Text())
		}
		texts = append(texts, a.Current().Text())
	}
	if texts[0] != texts[len(texts)-1] {
		t.Fatalf("calm: text moved from %q to %q", texts[0], texts[len(texts)-1])
	}
	// A WAN-like round trip: one change, then no other within the period
	// however the evidence moves.
	wan := func(rtt time.Duration) Evidence {
		return Evidence{Span: time.Hour, Members: 3, PeerRTT: hist(100, rtt), WALFsync: hist(100, 5*time.Millisecond)}
	}
	t1 := t0.Add(3 * time.Hour)
	if !a.Update(t1, wan(300*time.Millisecond)) || a.Changes() != 2 {
		t.Fatalf("no change for a 300ms round trip: %s", a.Current().Text())
	}
	moved := a.Current()
	if a.Update(t1.Add(time.Minute), wan(1500*time.Millisecond)) || a.Current().Text() != moved.Text() {
		t.Fatalf("changed again within the period: %s", a.Current().Text())
	}
	if !a.Update(t1.Add(time.Hour), wan(1500*time.Millisecond)) || a.Changes() != 3 || a.Current().Election <= moved.Election {
		t.Fatalf("after the period: %s", a.Current().Text())
	}
	// Inside the margin of the advice in force: no change even after the
	// period.
	cur := a.Current().Flags
	if a.Update(t1.Add(3*time.Hour), wan(1300*time.Millisecond)) {
		t.Fatalf("changed inside the margin: %v → %v", cur, a.Current().Flags)
	}
}

// The evidence of a real leader's /metrics, read once, gives advice with
// its figures in the text.
func TestEvidenceOfARealReading(t *testing.T) {
	b, err := os.ReadFile("testdata/leader-metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMetrics(string(b), time.Unix(1_795_639_600, 0))
	if err != nil {
		t.Fatal(err)
	}
	if m.ProcessStart.IsZero() || m.ProcessCPU != 190*time.Millisecond {
		t.Fatalf("process start %v cpu %v", m.ProcessStart, m.ProcessCPU)
	}
	rd := Reading{At: m.At, ByMember: map[uint64]Metrics{1: m}}
	ev := EvidenceOf(nil, rd, 24*time.Hour)
	if ev.Members != 1 || ev.Span != m.At.Sub(m.ProcessStart) || ev.LeaderChanges != 0 || ev.PeerRTT.Count != 4 {
		t.Fatalf("evidence %+v", ev)
	}
	r := Recommend(ev, etcdDefaults, AdviceConfig{MinEvidence: time.Second})
	if !r.Enough || !r.Change() || !strings.Contains(r.Text(), "--heartbeat-interval=100 --election-timeout=500 (now 100/1000 ms)") {
		t.Fatalf("advice %s", r.Text())
	}
	t.Log(r.Text())
}

// Intervals with leader changes are attributed: a stall the flags in
// force did not cover and the advice does counts as avoidable.
func TestStallAttribution(t *testing.T) {
	mk := func(at time.Time, changes float64, rtt time.Duration) Reading {
		m := Metrics{At: at, LeaderChanges: changes, PeerRTTByPeer: map[string]Histogram{"2": hist(5, rtt)}, PeerRTT: hist(5, rtt),
			WALFsync: hist(5, time.Millisecond), ProcessStart: time.Unix(1, 0)}
		return Reading{At: at, ByMember: map[uint64]Metrics{1: m}}
	}
	t0 := time.Unix(1_700_000_000, 0)
	var l evidenceLog
	l.horizon = time.Hour
	l.add(mk(t0, 1, time.Millisecond))
	// Cumulative: the second reading adds 5 observations at 1.2s and one
	// leader change.
	r2 := mk(t0.Add(10*time.Second), 2, time.Millisecond)
	m := r2.ByMember[1]
	slow := hist(5, 1200*time.Millisecond)
	slow.add(hist(5, time.Millisecond))
	m.PeerRTTByPeer["2"], m.PeerRTT = slow, slow
	r2.ByMember[1] = m
	ev := l.add(r2)
	if len(ev.Stalls) != 1 || ev.Stalls[0].LeaderChanges != 1 || ev.Stalls[0].Delay < time.Second {
		t.Fatalf("stalls %+v", ev.Stalls)
	}
	ev.Span, ev.Members = time.Hour, 3
	r := Recommend(ev, etcdDefaults, AdviceConfig{})
	if r.Attributed != 1 || r.Avoided != 1 || !strings.Contains(r.Text(), "would have avoided 1 of the 1 leader changes") {
		t.Fatalf("attribution %d/%d: %s", r.Avoided, r.Attributed, r.Text())
	}
}
