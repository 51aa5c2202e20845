package etcd

import (
	"math"
	"time"
)

// interval is every member's figures between two consecutive readings
// of the cluster that the agent beside the leader takes (every
// ReadEvery while it leads).
type interval struct {
	from, to time.Time
	by       map[uint64]memberFigures
}

// memberFigures are one member's own figures over an interval or a
// window of them.
type memberFigures struct {
	fsync    Histogram // WAL fsyncs in the interval
	fsyncP99 time.Duration
	fsyncOK  bool // at least one fsync
	cpuCores float64
	cpuOK    bool
}

func intervalBetween(prev, cur Reading) interval {
	iv := interval{from: prev.At, to: cur.At, by: map[uint64]memberFigures{}}
	dt := cur.At.Sub(prev.At)
	for id, c := range cur.ByMember {
		o, ok := prev.ByMember[id]
		if !ok || restarted(o, c) {
			continue
		}
		var f memberFigures
		f.fsync = c.WALFsync.Sub(o.WALFsync)
		f.fsyncP99, f.fsyncOK = f.fsync.Quantile(0.99)
		if dt > 0 && !c.ProcessStart.IsZero() {
			f.cpuCores, f.cpuOK = float64(c.ProcessCPU-o.ProcessCPU)/float64(dt), true
		}
		iv.by[id] = f
	}
	return iv
}

// leadLog is the run of consecutive intervals since this member began
// to lead (or since the last gap in the readings).
type leadLog struct {
	last *Reading
	ivs  []interval
}

// add takes a reading: an interval from the last one when it is at most
// gap old (else the run starts again), keeping the intervals that end
// within keep of it.
func (l *leadLog) add(rd Reading, gap, keep time.Duration) {
	if l.last != nil && rd.At.After(l.last.At) && rd.At.Sub(l.last.At) <= gap {
		l.ivs = append(l.ivs, intervalBetween(*l.last, rd))
	} else {
		l.ivs = nil
	}
	l.last = &rd
	for len(l.ivs) > 0 && rd.At.Sub(l.ivs[0].to) > keep {
		l.ivs = l.ivs[1:]
	}
}

// persistRule is when a leader's own figures count as evidence that it
// degrades: every interval of a window of consecutive readings shows it.
type persistRule struct {
	span  time.Duration // the window spans at least this
	reads int           // and holds at least this many intervals
	// Fsync: the leader's WAL fsync p99 exceeds bar and, for certain,
	// factor × another member's (see certainlySlower); over the window
	// both have at least minSamples fsyncs.
	bar        time.Duration
	factor     float64
	minSamples float64
	// CPU: the leader's process uses more than maxCores.
	maxCores float64
}

// trailing is the shortest run of consecutive intervals at the end of
// ivs that spans at least span and holds at least reads intervals; nil
// when there is no such run.
func trailing(ivs []interval, span time.Duration, reads int) []interval {
	n := len(ivs)
	for i := n - 1; i >= 0; i-- {
		if i < n-1 && !ivs[i].to.Equal(ivs[i+1].from) {
			return nil // a gap in the readings
		}
		if n-i >= max(reads, 1) && ivs[n-1].to.Sub(ivs[i].from) >= span {
			return ivs[i:]
		}
	}
	return nil
}

// window merges each member's figures over ivs (fsyncs summed, CPU
// averaged over the intervals that have it).
func window(ivs []interval) map[uint64]memberFigures {
	out := map[uint64]memberFigures{}
	cpuN := map[uint64]int{}
	for _, iv := range ivs {
		for id, f := range iv.by {
			w := out[id]
			w.fsync.add(f.fsync)
			if f.cpuOK {
				w.cpuCores += f.cpuCores
				cpuN[id]++
			}
			out[id] = w
		}
	}
	for id, w := range out {
		w.fsyncP99, w.fsyncOK = w.fsync.Quantile(0.99)
		if n := cpuN[id]; n > 0 {
			w.cpuCores, w.cpuOK = w.cpuCores/float64(n), true
		}
		out[id] = w
	}
	return out
}

// bucketOf is the bucket of h that holds its q-quantile: its lower and
// upper bound in seconds (the upper +Inf for the last).
func (h Histogram) bucketOf(q float64) (lower, upper float64, ok bool) {
	if h.Count <= 0 || len(h.Bounds) == 0 {
		return 0, 0, false
	}
	rank := q * h.Count
	for i, ub := range h.Bounds {
		if h.Counts[i] >= rank {
			return lower, ub, true
		}
		if !math.IsInf(ub, 1) {
			lower = ub
		}
	}
	return lower, math.Inf(1), true
}

// certainlySlower says a's p99 is more than factor × b's whatever the
// observations inside their buckets: the lower bound of a's p99 bucket
// is at least factor × the upper bound of b's. etcd's fsync buckets are
// powers of two (1ms·2^n), so two adjacent buckets never count, however
// their quantiles interpolate.
func certainlySlower(a, b Histogram, factor float64) bool {
	la, _, okA := a.bucketOf(0.99)
	_, ub, okB := b.bucketOf(0.99)
	return okA && okB && !math.IsInf(ub, 1) && la > 0 && la >= factor*ub
}

// certainlyAbove says h's p99 exceeds bar whatever the observations
// inside its bucket: the bucket's lower bound is at least bar.
func certainlyAbove(h Histogram, bar time.Duration) bool {
	l, _, ok := h.bucketOf(0.99)
	return ok && l > 0 && l >= bar.Seconds()
}

// fsyncDegraded judges the leader's WAL fsyncs over the trailing window
// of ivs. It holds when, in every interval of the window, the leader
// fsynced, its p99 certainly exceeds r.bar (certainlyAbove) and it is certainly slower than another
// member that fsynced; and over the whole window the leader and that
// member have at least r.minSamples fsyncs each and the same holds. It
// gives the leader's window figures and the fastest such member's p99.
func fsyncDegraded(ivs []interval, self uint64, r persistRule) (mine memberFigures, best time.Duration, ok bool) {
	w := trailing(ivs, r.span, r.reads)
	if w == nil {
		return mine, 0, false
	}
	for _, iv := range w {
		f, ok := iv.by[self]
		if !ok || !certainlyAbove(f.fsync, r.bar) || !slowerThanAny(f.fsync, iv.by, self, r.factor, 1) {
			return mine, 0, false
		}
	}
	all := window(w)
	mine = all[self]
	if mine.fsync.Count < r.minSamples || !certainlyAbove(mine.fsync, r.bar) {
		return mine, 0, false
	}
	best = time.Duration(math.MaxInt64)
	for id, o := range all {
		if id != self && o.fsync.Count >= r.minSamples && certainlySlower(mine.fsync, o.fsync, r.factor) {
			best = min(best, o.fsyncP99)
		}
	}
	if best == math.MaxInt64 {
		return mine, 0, false
	}
	return mine, best, true
}

func slowerThanAny(h Histogram, by map[uint64]memberFigures, self uint64, factor, least float64) bool {
	for id, o := range by {
		if id != self && o.fsync.Count >= least && certainlySlower(h, o.fsync, factor) {
			return true
		}
	}
	return false
}

// cpuDegraded holds when the leader's process used more than r.maxCores
// in every interval of the trailing window; it gives the window's mean.
func cpuDegraded(ivs []interval, self uint64, r persistRule) (float64, bool) {
	w := trailing(ivs, r.span, r.reads)
	if w == nil {
		return 0, false
	}
	var sum float64
	for _, iv := range w {
		f, ok := iv.by[self]
		if !ok || !f.cpuOK || f.cpuCores <= r.maxCores {
			return 0, false
		}
		sum += f.cpuCores
	}
	return sum / float64(len(w)), true
}
