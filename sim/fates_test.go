package sim

import (
	"math"
	"testing"
	"time"
)

// A message's fate depends on its link, kind, interval and place in the
// interval, not on what else was sent before it: a run that also sent
// pre-votes and probes sees the same heartbeat fates as one that did not.
func TestFatesArePairedAcrossRuns(t *testing.T) {
	const hb = 50 * time.Millisecond
	quiet, busy := newFates(7, 3, hb), newFates(7, 3, hb)
	for i := 0; i < 200; i++ {
		now := time.Duration(i) * hb
		if i%3 == 0 {
			// Only the busy run campaigns and probes, on the same link
			// and on others.
			busy.of(0, 1, msgPreVote, now).Float64()
			busy.of(0, 1, msgProbe, now).Float64()
			busy.of(2, 1, msgAppend, now).Float64()
		}
		for k := 0; k < 2; k++ { // a heartbeat and a client append
			a := quiet.of(0, 1, msgAppend, now+time.Duration(k)*time.Millisecond).Float64()
			b := busy.of(0, 1, msgAppend, now+time.Duration(k)*time.Millisecond).Float64()
			if a != b {
				t.Fatalf("interval %d, append %d: fate %v in one run, %v in the other", i, k, a, b)
			}
		}
	}
	other := newFates(8, 3, hb)
	if quiet.of(0, 1, msgAppend, 1000*hb).Float64() == other.of(0, 1, msgAppend, 1000*hb).Float64() {
		t.Fatal("two seeds drew the same fate")
	}
}

// Within a run every message still gets its own draws: the network is the
// random model the scenario describes, whatever the keying.
func TestFatesAreIndependentWithinARun(t *testing.T) {
	s := scenario(t, `scenario "x" {
  nodes = 3
  duration = "1m"
  heartbeat = "50ms"
  network {
    delay  = "20ms"
    jitter = "10ms"
    loss   = 0.3
  }
}`)
	nw := newNetwork(s, 1)
	f := newFates(1, s.Nodes, s.Heartbeat)
	const n = 40000
	lost, prev, hasPrev := 0, 0.0, false
	var sum, sumsq, lag float64
	kept, pairs := 0, 0
	for i := 0; i < n; i++ {
		// Two messages per interval on the link, as a heartbeat and an
		// append would be, and traffic on another link between them.
		now := time.Duration(i/2) * s.Heartbeat
		f.of(1, 0, msgAppendResp, now)
		d, ok := nw.delay(f.of(0, 1, msgAppend, now), 0, 1, now)
		if !ok {
			lost++
			hasPrev = false
			continue
		}
		x := float64(d-nw.procDelay[1]-20*time.Millisecond) / float64(10*time.Millisecond)
		sum += x
		sumsq += x * x
		if hasPrev {
			lag += x * prev
			pairs++
		}
		prev, hasPrev = x, true
		kept++
	}
	if p := float64(lost) / n; math.Abs(p-0.3) > 0.01 {
		t.Errorf("lost %.3f of messages, want 0.30", p)
	}
	mean, varx := sum/float64(kept), sumsq/float64(kept)-(sum/float64(kept))*(sum/float64(kept))
	if math.Abs(mean) > 0.02 || math.Abs(varx-1.0/3) > 0.02 {
		t.Errorf("jitter mean %.3f, variance %.3f; want 0 and 1/3 (uniform in ±jitter)", mean, varx)
	}
	if c := lag / float64(pairs) / varx; math.Abs(c) > 0.03 {
		t.Errorf("consecutive messages' jitter correlated: %.3f", c)
	}
}

// Election timers are paired too: a follower that restarts its timer in
// the same interval of two runs draws the same point of [T, 2T), however
// many pre-votes, elections and other timers the runs went through
// before. Within a run the draws stay uniform and independent.
func TestTimerDrawsArePairedAcrossRuns(t *testing.T) {
	s := scenario(t, `scenario "x" {
  nodes = 3
  heartbeat = "50ms"
}`)
	const T = 100 * time.Millisecond
	for _, host := range HostKinds() {
		quiet, busy := hostSim(t, s, host, T), hostSim(t, s, host, T)
		draw := func(sm *simulation) float64 {
			n := sm.nodes[1]
			switch host {
			case HostHashicorp:
				sm.hcArm(n)
				// The armed timer is the queue's only event of n's
				// current generation; drain the rest.
				var at time.Duration
				for len(sm.q.keys) > 0 {
					if e := sm.q.pop(); e.kind == evTimer && e.node == n.id && e.gen == n.timerGen {
						at = e.at
					}
				}
				return float64(at-sm.now-T) / float64(T)
			case HostEtcd:
				sm.etcdReset(n)
				return float64(n.randomized)
			}
			sm.resetTimer(n)
			return n.timerU
		}
		var sum, sumsq, lag, prev float64
		const rounds = 4000
		for i := 0; i < rounds; i++ {
			now := time.Duration(i) * 37 * time.Millisecond
			quiet.now, busy.now = now, now
			if i%3 == 0 {
				// Only the busy run campaigns and restarts other timers.
				busy.broadcast(busy.nodes[0], message{kind: msgPreVote, term: 1})
				switch host {
				case HostHashicorp:
					busy.hcArm(busy.nodes[2])
				case HostEtcd:
					busy.etcdReset(busy.nodes[2])
				default:
					busy.resetTimer(busy.nodes[2])
				}
			}
			a, b := draw(quiet), draw(busy)
			if a != b {
				t.Fatalf("%s host, round %d: timer draw %v in one run, %v in the other", host, i, a, b)
			}
			if host == HostGeneric {
				sum += a
				sumsq += a * a
				if i > 0 {
					lag += (a - 0.5) * (prev - 0.5)
				}
				prev = a
			}
		}
		if host == HostGeneric {
			mean := sum / rounds
			v := sumsq/rounds - mean*mean
			if math.Abs(mean-0.5) > 0.02 || math.Abs(v-1.0/12) > 0.01 || math.Abs(lag/(rounds-1)/v) > 0.05 {
				t.Errorf("timer draws: mean %.3f (want 0.5), variance %.4f (want %.4f), lag-1 correlation %.3f", mean, v, 1.0/12, lag/(rounds-1)/v)
			}
		}
	}
}
