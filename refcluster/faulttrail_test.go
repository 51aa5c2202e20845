package refcluster

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestFaultTrailWindows(t *testing.T) {
	var f faultTrail
	s := time.Second
	f.record(1*s, FaultEvent{Kind: FaultCrash}, "n1", nil)
	f.record(2*s, FaultEvent{Kind: FaultCrash}, "n2", errors.New("not running"))
	f.record(3*s, FaultEvent{Kind: FaultRestart}, "n1", nil)
	f.record(4*s, FaultEvent{Kind: FaultPartition, Nodes: []string{"n3", "n4"}}, "", nil)
	f.record(5*s, FaultEvent{Kind: FaultPause, Node: "n5"}, "n5", nil)
	f.record(6*s, FaultEvent{Kind: FaultHeal}, "", nil)
	f.record(7*s, FaultEvent{Kind: FaultCrash}, "n5", nil)

	want := []faultWindow{{1 * s, 3 * s, "n1"}, {7 * s, math.MaxInt64, "n5"}, {4 * s, 6 * s, "n3"}, {4 * s, 6 * s, "n4"}}
	got := f.windows()
	if len(got) != len(want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("window %d: %v, want %v", i, got[i], want[i])
		}
	}
	// A failed crash opens no window and is no fault; the pause is one.
	if wantAt := []time.Duration{1 * s, 4 * s, 5 * s, 7 * s}; len(f.faultsAt) != len(wantAt) {
		t.Fatalf("faults at %v, want %v", f.faultsAt, wantAt)
	}
	if len(f.events) != 7 {
		t.Fatalf("%d event lines, want 7: %q", len(f.events), f.events)
	}
	if !necessaryElection(2*s, "n1", got) || necessaryElection(10*s, "n1", got) || !necessaryElection(30*s, "n5", got) {
		t.Error("necessaryElection does not follow the recorded windows")
	}
}
