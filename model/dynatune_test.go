package model

import (
	"math"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// dynaSample is a follower sample at tick i (100ms apart) with the given
// RTT statistics and closed heartbeat gap.
func dynaSample(i int, mean, std, gap time.Duration) collector.Sample {
	s := follower(gap)
	s.At = time.Unix(0, 0).Add(time.Duration(i) * 100 * msec)
	s.RTTMean, s.RTTStdDev = mean, std
	s.Set(collector.FieldRTT)
	return s
}

func TestDynatuneHeartbeatsPerTimeout(t *testing.T) {
	// K = ⌈log(1−r)/log(p) + 1⌉: at r = 0.999 and p = 0.1, three losses in a
	// row have probability 0.001, so K = ⌈3 + 1⌉ = 4.
	for _, c := range []struct {
		p, r, want float64
	}{{0, 0.999, 1}, {0.1, 0.999, 4}, {0.01, 0.999, 3}, {0.5, 0.99, 8}} {
		if got := heartbeatsPerTimeout(c.p, c.r); got != c.want {
			t.Errorf("K(p=%g, r=%g) = %g, want %g", c.p, c.r, got, c.want)
		}
	}
}

func TestDynatuneWaitsForMeasurements(t *testing.T) {
	d := NewDynatune(0)
	for i := 0; i < 9; i++ {
		d.Observe(dynaSample(i, 200*msec, 10*msec, 50*msec))
	}
	if p := d.Propose(); p.Timeout != time.Second {
		t.Fatalf("after 9 samples: %v, want the host default 1s", p.Timeout)
	}
	d.Observe(dynaSample(9, 200*msec, 10*msec, 50*msec))
	// Et = 200 + 2·10 = 220ms; no loss: K = 1, h = 110ms; two host
	// intervals (100ms) fit.
	p := d.Propose()
	if p.Timeout != 220*msec || p.Heartbeat != 110*msec {
		t.Fatalf("tuned: %+v, want 220ms / 110ms", p)
	}
	// A new leader resets the measurements, as the method does on every
	// role change.
	s := dynaSample(10, 200*msec, 10*msec, 50*msec)
	s.Leader, s.Term = "n2", 3
	d.Observe(s)
	if p := d.Propose(); p.Timeout != time.Second {
		t.Fatalf("after a leader change: %v, want the host default", p.Timeout)
	}
}

func TestDynatuneLossNeedsMoreHeartbeats(t *testing.T) {
	// A 1ms LAN: μ + 2σ is far below the 50ms heartbeat interval, so the
	// timeout is (K+1) host intervals. One missed heartbeat in twelve
	// (a 100ms gap every sixth tick, two expected per tick) gives
	// p ≈ 0.083, K = ⌈2.78 + 1⌉ = 4: five intervals, 250ms.
	d := NewDynatune(0)
	for i := 0; i < 200; i++ {
		gap := 50 * msec
		if i%6 == 0 {
			gap = 100 * msec
		}
		d.Observe(dynaSample(i, msec, 100*time.Microsecond, gap))
	}
	if p := d.LossRate(); math.Abs(p-1.0/12) > 0.005 {
		t.Fatalf("loss rate %v, want 1/12", p)
	}
	if p := d.Propose(); p.Timeout != 250*msec {
		t.Fatalf("lossy LAN: %v, want 250ms", p.Timeout)
	}
	clean := NewDynatune(0)
	for i := 0; i < 200; i++ {
		clean.Observe(dynaSample(i, msec, 100*time.Microsecond, 50*msec))
	}
	if p := clean.Propose(); p.Timeout != 100*msec {
		t.Fatalf("clean LAN: %v, want two 50ms intervals", p.Timeout)
	}
}

func TestDynatuneIgnoresLeaderAndBadInput(t *testing.T) {
	d := NewDynatune(0)
	for i := 0; i < 50; i++ {
		s := dynaSample(i, 200*msec, 10*msec, 50*msec)
		if i%2 == 0 {
			s.Role = collector.RoleLeader
		} else {
			s.RTTMean = -msec
		}
		d.Observe(s)
	}
	if p := d.Propose(); p.Timeout != time.Second {
		t.Fatalf("tuned from a leader's samples or negative RTTs: %v", p.Timeout)
	}
}

func TestDynatuneStepAllocatesNothing(t *testing.T) {
	d := NewDynatune(0)
	s := dynaSample(1, msec, 0, 50*msec)
	if a := testing.AllocsPerRun(100, func() { d.Observe(s); _ = d.Propose() }); a != 0 {
		t.Fatalf("%v allocations per step", a)
	}
}
