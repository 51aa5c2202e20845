package collector

import (
	"errors"
	"testing"
	"time"
)

func TestRTTWindow(t *testing.T) {
	var w RTTWindow
	if _, _, _, ok, _ := w.Stats(); ok {
		t.Fatal("stats of an empty window")
	}
	for i := 1; i <= 200; i++ { // only the last 128 stay: 73..200ms
		w.Record(time.Duration(i)*time.Millisecond, nil)
	}
	w.Record(0, errors.New("refused"))
	w.Record(0, errors.New("refused"))
	mean, sd, p99, ok, failures := w.Stats()
	if !ok || mean != 136500*time.Microsecond || p99 != 199*time.Millisecond || failures != 2 {
		t.Fatalf("mean %v p99 %v failures %d", mean, p99, failures)
	}
	if sd < 36*time.Millisecond || sd > 38*time.Millisecond { // uniform over 128ms: 128/√12 ≈ 36.9ms
		t.Fatalf("sd %v", sd)
	}
	if _, _, _, _, failures = w.Stats(); failures != 0 {
		t.Fatal("failures not reset by Stats")
	}
}

// TestRTTWindowHorizon: statistics forget round trips older than the
// horizon, so a floor built on them follows the network as it is now.
func TestRTTWindowHorizon(t *testing.T) {
	now := time.Unix(1000, 0)
	w := RTTWindow{Now: func() time.Time { return now }}
	for i := 0; i < 10; i++ { // a burst: 500ms round trips
		w.Record(500*time.Millisecond, nil)
		now = now.Add(100 * time.Millisecond)
	}
	for i := 0; i < 10; i++ { // then calm: 80ms
		w.Record(80*time.Millisecond, nil)
		now = now.Add(100 * time.Millisecond)
	}
	if _, _, p99, ok, _ := w.Stats(); !ok || p99 != 500*time.Millisecond {
		t.Fatalf("burst 1-2s ago, inside the 2s horizon: p99 %v ok %v, want 500ms", p99, ok)
	}
	now = now.Add(time.Second) // the burst is now 2.1-3s old
	if mean, _, p99, ok, _ := w.Stats(); !ok || p99 != 80*time.Millisecond || mean != 80*time.Millisecond {
		t.Fatalf("burst past the horizon: mean %v p99 %v ok %v, want 80ms", mean, p99, ok)
	}
	now = now.Add(5 * time.Second)
	if _, _, _, ok, _ := w.Stats(); ok {
		t.Fatal("nothing in the last 2s, yet stats")
	}
	w.Horizon = -1 // every kept round trip
	if _, _, p99, ok, _ := w.Stats(); !ok || p99 != 500*time.Millisecond {
		t.Fatalf("no horizon: p99 %v ok %v", p99, ok)
	}
}
