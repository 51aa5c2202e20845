package etcd

import (
	"math"
	"testing"
	"time"
)

// fsyncHist is a histogram with etcd's WAL fsync buckets (1ms·2^n, n =
// 0…13, and +Inf) holding the given observations (milliseconds).
func fsyncHist(ms ...float64) Histogram {
	h := Histogram{}
	for n := 0; n <= 13; n++ {
		h.Bounds = append(h.Bounds, 0.001*math.Pow(2, float64(n)))
	}
	h.Bounds = append(h.Bounds, math.Inf(1))
	h.Counts = make([]float64, len(h.Bounds))
	for _, m := range ms {
		s := m / 1000
		for i, ub := range h.Bounds {
			if s <= ub {
				h.Counts[i]++
			}
		}
		h.Sum += s
		h.Count++
	}
	return h
}

// times repeats one observation n times.
func times(n int, ms float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = ms
	}
	return out
}

// step is one interval's fsyncs (ms) and CPU (cores) of the leader (1)
// and two followers (2, 3); a nil slice means the member was not read.
type step struct {
	leader, f2, f3 []float64
	cpu            float64
}

// seq turns steps into consecutive one-second intervals.
func seq(steps ...step) []interval {
	t0 := time.Unix(1_800_000_000, 0)
	var ivs []interval
	for i, st := range steps {
		iv := interval{from: t0.Add(time.Duration(i) * time.Second), to: t0.Add(time.Duration(i+1) * time.Second), by: map[uint64]memberFigures{}}
		for id, ms := range map[uint64][]float64{1: st.leader, 2: st.f2, 3: st.f3} {
			if ms == nil {
				continue
			}
			f := memberFigures{fsync: fsyncHist(ms...), cpuCores: 0.1, cpuOK: true}
			f.fsyncP99, f.fsyncOK = f.fsync.Quantile(0.99)
			if id == 1 {
				f.cpuCores = st.cpu
			}
			iv.by[id] = f
		}
		ivs = append(ivs, iv)
	}
	return ivs
}

func repeat(n int, st step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = st
	}
	return out
}

var defaultRule = persistRule{span: 5 * time.Second, reads: 3, bar: 100 * time.Millisecond, factor: 2, minSamples: 20, maxCores: 0.9}

// The fsync rule on synthetic sequences of readings one second apart:
// the shared disk's noise (the calm runs' 124 vs 62 ms, 129 vs 59 ms,
// 804 vs 172 ms) never counts, a leader whose fsyncs are slow in every
// reading for 5s does.
func TestFsyncDegradedPersistence(t *testing.T) {
	slow := step{leader: times(10, 300), f2: times(10, 5), f3: times(10, 6)}
	calm := step{leader: times(10, 5), f2: times(10, 5), f3: times(10, 5)}
	cases := []struct {
		name  string
		steps []step
		rule  persistRule
		want  bool
	}{
		{"slow for 5 readings", repeat(5, slow), defaultRule, true},
		{"slow for 4 readings: too short", repeat(4, slow), defaultRule, false},
		{"slow for 20, after calm", append(repeat(10, calm), repeat(20, slow)...), defaultRule, true},
		{"slow, then one calm reading last", append(repeat(10, slow), calm), defaultRule, false},
		{"slow with one calm reading 3s ago", append(append(repeat(5, slow), calm), repeat(3, slow)...), defaultRule, false},
		{"adjacent buckets: 124 vs 62 ms", repeat(10, step{leader: times(10, 124), f2: times(10, 62), f3: times(10, 62)}), defaultRule, false},
		// Two buckets apart in one reading (129 vs 59 ms) is the noise
		// of one second; it has to hold in every reading.
		{"129 vs 59 ms once", append(repeat(5, calm), step{leader: times(10, 129), f2: times(10, 59), f3: times(10, 59)}), defaultRule, false},
		{"one burst: 804 vs 172 ms", append(repeat(8, calm), step{leader: times(10, 804), f2: times(10, 172), f3: times(10, 172)}), defaultRule, false},
		{"the whole disk slow, every member", repeat(10, step{leader: times(10, 300), f2: times(10, 250), f3: times(10, 280)}), defaultRule, false},
		{"one follower as slow as the leader", repeat(10, step{leader: times(10, 300), f2: times(10, 300), f3: times(10, 5)}), defaultRule, true},
		// 90ms lies in the (64,128] bucket: its interpolated p99 reads
		// 127ms, but it is not certainly above 100ms.
		{"below the bar: 90 vs 5 ms", repeat(10, step{leader: times(10, 90), f2: times(10, 5), f3: times(10, 5)}), defaultRule, false},
		{"below a 300ms heartbeat's bar", repeat(10, step{leader: times(10, 250), f2: times(10, 5), f3: times(10, 5)}),
			persistRule{span: 5 * time.Second, reads: 3, bar: 300 * time.Millisecond, factor: 2, minSamples: 20}, false},
		{"too few fsyncs: 3 a reading", repeat(5, step{leader: times(3, 300), f2: times(3, 5), f3: times(3, 5)}), defaultRule, false},
		{"enough fsyncs over more readings", repeat(7, step{leader: times(3, 300), f2: times(3, 5), f3: times(3, 5)}),
			persistRule{span: 7 * time.Second, reads: 3, bar: 100 * time.Millisecond, factor: 2, minSamples: 20}, true},
		{"a reading without leader fsyncs", append(repeat(3, slow), step{leader: []float64{}, f2: times(10, 5), f3: times(10, 5)}, slow, slow), defaultRule, false},
		{"followers idle: nothing to compare", repeat(10, step{leader: times(10, 300), f2: []float64{}, f3: []float64{}}), defaultRule, false},
		{"followers not read", repeat(10, step{leader: times(10, 300)}), defaultRule, false},
		{"a higher factor", repeat(10, step{leader: times(10, 300), f2: times(10, 40), f3: times(10, 40)}),
			persistRule{span: 5 * time.Second, reads: 3, bar: 100 * time.Millisecond, factor: 8, minSamples: 20}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mine, best, ok := fsyncDegraded(seq(c.steps...), 1, c.rule)
			if ok != c.want {
				t.Fatalf("degraded %v (p99 %v, best other %v), want %v", ok, mine.fsyncP99, best, c.want)
			}
			if ok && (best <= 0 || mine.fsyncP99 <= best || mine.fsync.Count < c.rule.minSamples) {
				t.Fatalf("evidence: p99 %v over %v fsyncs, best other %v", mine.fsyncP99, mine.fsync.Count, best)
			}
		})
	}
}

func TestFsyncDegradedGap(t *testing.T) {
	ivs := seq(repeat(8, step{leader: times(10, 300), f2: times(10, 5), f3: times(10, 5)})...)
	// A reading missing 2 intervals ago: the run before it does not count.
	ivs[6].from = ivs[6].from.Add(-time.Second)
	if _, _, ok := fsyncDegraded(ivs, 1, defaultRule); ok {
		t.Fatal("a gap in the readings was bridged")
	}
	if _, _, ok := fsyncDegraded(nil, 1, defaultRule); ok {
		t.Fatal("no readings, degraded")
	}
}

func TestCPUDegradedPersistence(t *testing.T) {
	busy := step{leader: []float64{}, cpu: 1.2}
	cases := []struct {
		name  string
		steps []step
		want  bool
	}{
		{"busy for 5 readings", repeat(5, busy), true},
		{"busy for 4", repeat(4, busy), false},
		{"one reading under", append(append(repeat(3, busy), step{leader: []float64{}, cpu: 0.5}), busy, busy), false},
		{"a single spike", append(repeat(6, step{leader: []float64{}, cpu: 0.3}), step{leader: []float64{}, cpu: 1.9}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cores, ok := cpuDegraded(seq(c.steps...), 1, defaultRule)
			if ok != c.want {
				t.Fatalf("degraded %v (%.2f cores), want %v", ok, cores, c.want)
			}
			if ok && cores <= defaultRule.maxCores {
				t.Fatalf("%.2f cores", cores)
			}
		})
	}
}

// Certainly slower compares the buckets that hold the p99s, never the
// interpolated values.
func TestCertainlySlower(t *testing.T) {
	cases := []struct {
		a, b   []float64
		factor float64
		want   bool
	}{
		{times(10, 124), times(10, 62), 2, false}, // (64,128] vs (32,64]
		{times(10, 129), times(10, 59), 2, true},  // (128,256] vs (32,64]
		{times(10, 129), times(10, 59), 4, false}, // needs (256,512]
		{times(10, 300), times(10, 5), 8, true},   // (256,512] vs (4,8]
		{times(10, 20000), times(10, 5), 2, true}, // +Inf bucket: its lower bound, 8.192s
		{times(10, 300), times(10, 20000), 2, false},
		{times(10, 300), nil, 2, false},
	}
	for _, c := range cases {
		if got := certainlySlower(fsyncHist(c.a...), fsyncHist(c.b...), c.factor); got != c.want {
			t.Errorf("%v vs %v ×%v: %v, want %v", c.a[0], c.b, c.factor, got, c.want)
		}
	}
}

// The lead log runs on while readings come at most gap apart, starts
// again after a longer gap, and keeps what ends within keep.
func TestLeadLog(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	rd := func(s int, fsyncs float64) Reading {
		m := Metrics{At: t0.Add(time.Duration(s) * time.Second), WALFsync: fsyncHist(times(int(fsyncs), 5)...)}
		return Reading{At: m.At, ByMember: map[uint64]Metrics{1: m}}
	}
	var l leadLog
	for s := 0; s <= 10; s++ {
		l.add(rd(s, float64(10*s)), 3*time.Second, 5*time.Second)
	}
	if n := len(l.ivs); n != 6 { // the intervals ending at 5…10s
		t.Fatalf("%d intervals kept", n)
	}
	if c := l.ivs[5].by[1].fsync.Count; c != 10 {
		t.Fatalf("%v fsyncs in the last interval", c)
	}
	l.add(rd(20, 200), 3*time.Second, 5*time.Second)
	if len(l.ivs) != 0 {
		t.Fatalf("%d intervals across a 10s gap", len(l.ivs))
	}
	l.add(rd(21, 210), 3*time.Second, 5*time.Second)
	if len(l.ivs) != 1 {
		t.Fatalf("%d intervals after the gap", len(l.ivs))
	}
}

// The median of the probes into a member ignores the probes that waited
// for a busy CPU.
func TestRecentMedian(t *testing.T) {
	var r recent
	if _, ok := r.median(5); ok {
		t.Fatal("a median of nothing")
	}
	for _, ms := range []time.Duration{2, 3, 150, 2, 3, 2, 300, 3} {
		r.add(ms*time.Millisecond, nil)
	}
	if m, _ := r.median(5); m != 3*time.Millisecond {
		t.Fatalf("median %v", m)
	}
	for range 5 {
		r.add(200*time.Millisecond, nil)
	}
	if m, _ := r.median(5); m != 200*time.Millisecond {
		t.Fatalf("median %v once most probes are slow", m)
	}
	long := recent{n: 16}
	for range 20 {
		long.add(time.Millisecond, nil)
	}
	if len(long.xs) != 16 {
		t.Fatalf("%d kept", len(long.xs))
	}
}
