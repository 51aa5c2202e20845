package collector

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// DefaultRTTHorizon is how far back the RTT statistics of a sample look by
// default. The policy's RTT floor is about the network as it is now: a
// 250ms burst that ended ten seconds ago is the forecaster's business
// (it remembers), not a floor's. In the simulator, floors that remembered
// the last 128 round trips (up to 13s at one probe per tick) held
// timeouts at a past burst's RTT and cost 10% more unavailability than
// a 2s horizon.
const DefaultRTTHorizon = 2 * time.Second

// DefaultRTTSize is how many round trips a Tracker keeps by default.
const DefaultRTTSize = 128

// rttWindow keeps the most recent round trips (a ring of a fixed size) and
// when each was taken; statistics cover those of the last horizon. Time
// is a parameter: it never reads a clock.
type rttWindow struct {
	buf     []time.Duration
	at      []int64 // UnixNano: comparing integers keeps a tick's statistics cheap
	next    int
	full    bool
	scratch []time.Duration
	horizon time.Duration // ≤ 0: every kept round trip
}

func newRTTWindow(size int, horizon time.Duration) *rttWindow {
	return &rttWindow{buf: make([]time.Duration, size), at: make([]int64, size),
		scratch: make([]time.Duration, 0, size), horizon: horizon}
}

func (w *rttWindow) add(now time.Time, d time.Duration) {
	w.buf[w.next], w.at[w.next] = d, now.UnixNano()
	w.next = (w.next + 1) % len(w.buf)
	if w.next == 0 {
		w.full = true
	}
}

func (w *rttWindow) len() int {
	if w.full {
		return len(w.buf)
	}
	return w.next
}

// stats returns mean, standard deviation and p99 of the round trips taken
// within the horizon before now; ok is false when there are none.
func (w *rttWindow) stats(now time.Time) (mean, sd, p99 time.Duration, ok bool) {
	xs := w.scratch[:0]
	since := now.UnixNano() - int64(w.horizon)
	for i := 0; i < w.len(); i++ {
		if w.horizon <= 0 || w.at[i] >= since {
			xs = append(xs, w.buf[i])
		}
	}
	if len(xs) == 0 {
		return 0, 0, 0, false
	}
	mean, sd, p99 = Summarize(xs)
	return mean, sd, p99, true
}

// Summarize returns the mean, the standard deviation and the p99 (nearest
// rank) of xs; xs must not be empty. Every node summarizes its window
// each tick, so it sorts only when more than a few values lie above the
// p99 rank (400 values or more): below that the rank is the largest or
// one of the few largest, found in one pass. It may reorder xs.
func Summarize(xs []time.Duration) (mean, sd, p99 time.Duration) {
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	mu := sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (float64(x) - mu) * (float64(x) - mu)
	}
	return time.Duration(mu), time.Duration(math.Sqrt(ss / float64(len(xs)))), nearestRankUnsorted(xs, 0.99)
}

// nearestRankUnsorted is NearestRank of xs sorted. When at most
// len(top)−1 values rank above p it keeps the largest values seen in a
// small array instead of sorting; otherwise it sorts xs in place.
func nearestRankUnsorted(xs []time.Duration, p float64) time.Duration {
	n := len(xs)
	if n == 0 {
		return 0
	}
	rank := min(max(int(math.Ceil(p*float64(n)))-1, 0), n-1)
	above := n - 1 - rank
	var top [4]time.Duration // the largest so far, descending
	if above >= len(top) {
		slices.Sort(xs)
		return xs[rank]
	}
	kept := 0
	for _, x := range xs {
		if kept <= above {
			kept++
		} else if x <= top[above] {
			continue
		}
		j := kept - 1
		for j > 0 && top[j-1] < x {
			top[j] = top[j-1]
			j--
		}
		top[j] = x
	}
	return top[above]
}

// NearestRank is the nearest-rank p-quantile (0 < p ≤ 1) of sorted: the
// smallest value that at least a share p of the values do not exceed. It
// is the one percentile every table, floor and report of the project
// uses; the zero value for no values.
func NearestRank[T cmp.Ordered](sorted []T, p float64) T {
	if len(sorted) == 0 {
		var zero T
		return zero
	}
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
