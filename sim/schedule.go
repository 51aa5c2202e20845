package sim

import (
	"math/rand/v2"
	"sort"
	"time"
)

// span is a half-open interval [start, end) of simulated time.
type span struct{ start, end time.Duration }

// schedule draws a node's episodes of one kind (noisy neighbour, disk
// stall) for a whole run: gaps between episodes are exponential with mean
// every, lengths exponential with mean length. Each kind and node has its
// own random stream, so a scenario without such episodes draws nothing and
// adding them perturbs neither the network nor the fault schedule.
func schedule(seed, kind uint64, node int, every, length, until time.Duration) []span {
	if every <= 0 || length <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, kind<<32|uint64(node)))
	var out []span
	for t := expDur(r, every); t < until; t += expDur(r, every) {
		sp := span{start: t, end: t + max(time.Millisecond, expDur(r, length))}
		out = append(out, sp)
		t = sp.end
	}
	return out
}

// active returns the span of spans (sorted, disjoint) that holds now.
func active(spans []span, now time.Duration) (span, bool) {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].end > now })
	if i < len(spans) && spans[i].start <= now {
		return spans[i], true
	}
	return span{}, false
}
