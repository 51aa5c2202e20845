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
