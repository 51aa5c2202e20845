package etcd

import (
	"math"
	"os"
	"testing"
	"time"
)

// testdata/leader-metrics.prom is the /metrics output of the leader of a
// real 3-member etcd v3.5.35 cluster on loopback, one member's peer
// traffic delayed 20ms through toxiproxy.
func TestParseMetricsOfARealLeader(t *testing.T) {
	b, err := os.ReadFile("testdata/leader-metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMetrics(string(b), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsLeader || !m.HasLeader || m.LeaderChanges != 1 {
		t.Fatalf("leader %v has %v changes %v", m.IsLeader, m.HasLeader, m.LeaderChanges)
	}
	if len(m.PeerRTTByPeer) != 2 || m.PeerRTT.Count != 4 {
		t.Fatalf("peer rtt: %d peers, %v observations", len(m.PeerRTTByPeer), m.PeerRTT.Count)
	}
	if mean, ok := m.PeerRTT.Mean(); !ok || mean < time.Millisecond || mean > 10*time.Millisecond {
		t.Fatalf("peer rtt mean %v", mean)
	}
	if m.WALFsync.Count != 58 {
		t.Fatalf("wal fsync count %v", m.WALFsync.Count)
	}
	if _, err := ParseMetrics("etcd_server_is_leader{ 1\n", time.Now()); err == nil {
		t.Fatal("garbage parsed")
	}
	if _, err := ParseMetrics("<html>login</html>\n", time.Now()); err == nil {
		t.Fatal("an HTML page parsed as metrics")
	}
}

func TestHistogramQuantileAndWindow(t *testing.T) {
	// 100 observations: 50 ≤ 1ms, 40 in (1ms, 10ms], 10 in (10ms, 100ms].
	h := Histogram{Bounds: []float64{0.001, 0.01, 0.1, math.Inf(1)}, Counts: []float64{50, 90, 100, 100}, Sum: 0.9, Count: 100}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, time.Millisecond}, {0.7, 5500 * time.Microsecond}, {0.99, 91 * time.Millisecond}} {
		got, ok := h.Quantile(tc.q)
		if !ok || (got-tc.want).Abs() > 10*time.Microsecond {
			t.Errorf("q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	old := Histogram{Bounds: h.Bounds, Counts: []float64{50, 90, 90, 90}, Sum: 0.4, Count: 90}
	w := h.Sub(old) // the last 10 observations, all in (10ms, 100ms]
	if p, _ := w.Quantile(0.5); p != 55*time.Millisecond {
		t.Fatalf("windowed median %v", p)
	}
	if mean, _ := w.Mean(); mean != 50*time.Millisecond {
		t.Fatalf("windowed mean %v", mean)
	}
	if _, ok := (Histogram{}).Quantile(0.5); ok {
		t.Fatal("quantile of an empty histogram")
	}
	// A restarted member's counters fall: the window starts over.
	if got := old.Sub(h); got.Count != old.Count {
		t.Fatalf("counter reset: %v", got.Count)
	}
}
