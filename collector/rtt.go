package collector

import (
	"math"
	"sort"
	"sync"
	"time"
)

// RTTWindow keeps the most recent round-trip times of a node's RPCs or
// probes (Size of them, default 128) and counts the ones that failed. It
// is safe for concurrent use: transports and probers record, the sampler
// reads.
type RTTWindow struct {
	// Size is how many round trips are kept; set it before first use.
	Size int

	mu       sync.Mutex
	ring     []time.Duration
	n, next  int
	failures int
}

// Record adds one round trip, or a failure when err is not nil.
func (m *RTTWindow) Record(d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.failures++
		return
	}
	if m.ring == nil {
		if m.Size <= 0 {
			m.Size = 128
		}
		m.ring = make([]time.Duration, m.Size)
	}
	m.ring[m.next] = d
	m.next = (m.next + 1) % len(m.ring)
	m.n = min(m.n+1, len(m.ring))
}

// Stats returns mean, standard deviation and p99 of the remembered round
// trips (ok is false when there are none) and the failures since the
// last call.
func (m *RTTWindow) Stats() (mean, sd, p99 time.Duration, ok bool, failures int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	failures, m.failures = m.failures, 0
	if m.n == 0 {
		return 0, 0, 0, false, failures
	}
	xs := make([]float64, m.n)
	var sum float64
	for i := 0; i < m.n; i++ {
		xs[i] = float64(m.ring[i])
		sum += xs[i]
	}
	mu := sum / float64(m.n)
	var ss float64
	for _, x := range xs {
		ss += (x - mu) * (x - mu)
	}
	sort.Float64s(xs)
	idx := int(math.Ceil(0.99*float64(len(xs)))) - 1
	return time.Duration(mu), time.Duration(math.Sqrt(ss / float64(m.n))), time.Duration(xs[max(idx, 0)]), true, failures
}
