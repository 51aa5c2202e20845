package model

import (
	"slices"
	"testing"
	"time"
)

func TestLinUCBArms(t *testing.T) {
	l := NewLinUCB(1)
	if n := len(l.Arms); n < 8 || n > 16 {
		t.Fatalf("%d arms, want 8–16", n)
	}
	if !slices.IsSorted(l.Arms) || l.Arms[0] != 100*msec || l.Arms[len(l.Arms)-1] < time.Second {
		t.Fatalf("arms %v, want sorted from 100ms to at least 1s", l.Arms)
	}
	if got := l.Propose().Timeout; got != linucbInitial {
		t.Fatalf("first proposal %v, want %v", got, linucbInitial)
	}
}

// With no data, the prior ranks arms by their timeout cost alone: the
// shortest arm is the best guess and a 1s arm is not worth exploring.
func TestLinUCBPriorIsTheTimeoutCost(t *testing.T) {
	l := NewLinUCB(3)
	x := [linucbDim]float64{1, 0.2, 0.1, 0, 0.5}
	for k, arm := range l.Arms {
		m, _ := l.score(k, x)
		if want := -l.TimeoutCost * arm.Seconds(); m != want {
			t.Fatalf("arm %v: prior mean %g, want %g", arm, m, want)
		}
	}
	if k := l.choose(x); l.Arms[k] > 200*msec {
		t.Fatalf("untrained bandit chose %v", l.Arms[k])
	}
}

// A long calm run, with no term change and a leader always in contact,
// settles on the shortest arms: nothing there costs more than the wait.
func TestLinUCBCalmPrefersShortArms(t *testing.T) {
	l := NewLinUCB(5)
	short := 0
	for i := 0; i < 3000; i++ {
		l.Observe(follower(50 * msec))
		if i >= 2000 && l.Propose().Timeout <= 150*msec {
			short++
		}
	}
	if short < 900 {
		t.Fatalf("%d of the last 1000 proposals at most 150ms, want ≥ 900", short)
	}
}
