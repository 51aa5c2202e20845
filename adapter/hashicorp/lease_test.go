package hashicorp

import (
	"strings"
	"testing"
	"time"
)

func TestRecommendLease(t *testing.T) {
	for _, tc := range []struct {
		tail, min time.Duration
		lease     time.Duration
		mult      int
	}{
		{0, 0, 50 * time.Millisecond, 1},
		{3 * time.Millisecond, 150 * time.Millisecond, 50 * time.Millisecond, 1},
		{3 * time.Millisecond, time.Second, 250 * time.Millisecond, 1},
		{250 * time.Millisecond, 150 * time.Millisecond, 450 * time.Millisecond, 2},
		{600 * time.Millisecond, time.Second, 1100 * time.Millisecond, 3},
		{time.Minute, 0, 90 * time.Second, 10},
		{-time.Second, 0, 50 * time.Millisecond, 1},
	} {
		a := RecommendLease(tc.tail, tc.min)
		if a.Lease != tc.lease || a.Multiplier != tc.mult {
			t.Errorf("tail %v min %v: lease %v multiplier %d, want %v %d", tc.tail, tc.min, a.Lease, a.Multiplier, tc.lease, tc.mult)
		}
		// The lease always covers the heartbeat wait at the least timeout
		// and the tail; Consul's multiplier leaves room for the tail.
		if tc.tail > 0 && (a.Lease < tc.min/5+tc.tail || (a.Multiplier < 10 && time.Duration(a.Multiplier)*300*time.Millisecond < tc.tail)) {
			t.Errorf("tail %v: %+v does not cover it", tc.tail, a)
		}
	}
	if s := RecommendLease(3*time.Millisecond, 0).ConsulText(5); !strings.Contains(s, "raft_multiplier 1 (now 5)") || !strings.Contains(s, "down to 1s live") {
		t.Errorf("lower: %q", s)
	}
	if s := RecommendLease(600*time.Millisecond, 0).ConsulText(1); !strings.Contains(s, "raft_multiplier 3 (now 1)") || !strings.Contains(s, "steps down") {
		t.Errorf("higher: %q", s)
	}
	if s := RecommendLease(3*time.Millisecond, 0).ConsulText(1); s != "" {
		t.Errorf("same: %q", s)
	}
}
