package collector

import (
	"math"
	"slices"
	"sync"
	"time"
)

// DefaultRTTHorizon is how far back RTTWindow's statistics look by
// default. The policy's RTT floor is about the network as it is now: a
// 250ms burst that ended ten seconds ago is the forecaster's business
// (it remembers), not a floor's. In the simulator, floors that remembered
// the last 128 round trips (up to 13s at one probe per tick) held
// timeouts at a past burst's RTT and cost 10% more unavailability than
// a 2s horizon.
const DefaultRTTHorizon = 2 * time.Second

// RTTWindow keeps the most recent round-trip times of a node's RPCs or
// probes (Size of them, default 128) and counts the ones that failed;
// statistics cover those of the last Horizon. It is safe for concurrent
// use: transports and probers record, the sampler reads.
type RTTWindow struct {
	// Size is how many round trips are kept; set it before first use.
	Size int
	// Horizon: statistics use only round trips recorded this recently.
	// 0 means DefaultRTTHorizon; negative means every kept one.
	Horizon time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu       sync.Mutex
	ring     []time.Duration
	at       []time.Time
	n, next  int
	failures int
}

func (m *RTTWindow) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
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
		m.at = make([]time.Time, m.Size)
	}
	m.ring[m.next], m.at[m.next] = d, m.now()
	m.next = (m.next + 1) % len(m.ring)
	m.n = min(m.n+1, len(m.ring))
}

// Stats returns mean, standard deviation and p99 of the round trips of the
// horizon (ok is false when there are none) and the failures since the
// last call.
func (m *RTTWindow) Stats() (mean, sd, p99 time.Duration, ok bool, failures int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	failures, m.failures = m.failures, 0
	h := m.Horizon
	if h == 0 {
		h = DefaultRTTHorizon
	}
	var since time.Time
	if h > 0 && m.n > 0 {
		since = m.now().Add(-h)
	}
	xs := make([]time.Duration, 0, m.n)
	for i := 0; i < m.n; i++ {
		if since.IsZero() || !m.at[i].Before(since) {
			xs = append(xs, m.ring[i])
		}
	}
	if len(xs) == 0 {
		return 0, 0, 0, false, failures
	}
	mean, sd, p99 = Summarize(xs)
	return mean, sd, p99, true, failures
}

// Summarize returns the mean, the standard deviation and the p99 (nearest
// rank) of xs, which it sorts in place; xs must not be empty. RTTWindow and
// the simulator's windows share it, so live and simulated floors are
// computed alike.
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
	slices.Sort(xs)
	rank := int(math.Ceil(0.99*float64(len(xs)))) - 1
	return time.Duration(mu), time.Duration(math.Sqrt(ss / float64(len(xs)))), xs[max(rank, 0)]
}
