package sim

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// fixed proposes a constant timeout: the simplest recommender.
type fixed time.Duration

func (fixed) Name() string             { return "fixed" }
func (fixed) Observe(collector.Sample) {}
func (f fixed) Propose() model.Proposal {
	return model.Proposal{Timeout: time.Duration(f), Confidence: 1}
}
func fixedRec(d time.Duration) func(string) model.Recommender {
	return func(string) model.Recommender { return fixed(d) }
}

func scenario(t *testing.T, src string) *Scenario {
	t.Helper()
	scs, diags := Parse([]byte(src), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return scs[0]
}

func TestSmoke(t *testing.T) {
	s := scenario(t, `scenario "lan" {
  nodes = 5
  duration = "60s"
  heartbeat = "50ms"
  network { delay = "1ms" }
}`)
	r := Run(s, Options{Seed: 1, NewRecommender: fixedRec(300 * time.Millisecond)})
	t.Logf("%+v", r.Metrics.Elections)
	if r.Metrics.Elections < 1 {
		t.Fatal("no election at all")
	}
	if len(r.Metrics.Commits) < 1000 {
		t.Fatalf("only %d commits", len(r.Metrics.Commits))
	}
}

func TestDetectionOfKnownCrashLiesWithinTheTimerRange(t *testing.T) {
	const T, hb = 300 * time.Millisecond, 10 * time.Millisecond
	for seed := uint64(1); seed <= 20; seed++ {
		s := scenario(t, `scenario "zero" {
  nodes     = 5
  duration  = "20s"
  heartbeat = "10ms"
  crash {
    at       = "10s"
    downtime = "5s"
  }
}`)
		r := Run(s, Options{Seed: seed, NewRecommender: fixedRec(T)})
		if len(r.Metrics.Detections) != 1 {
			t.Fatalf("seed %d: %d detections, want 1", seed, len(r.Metrics.Detections))
		}
		// The last contact came at most one heartbeat before the crash,
		// and timers fire in [T, 2T) after it.
		d := time.Duration(r.Metrics.Detections[0] * float64(time.Millisecond))
		if d < T-hb || d >= 2*T {
			t.Fatalf("seed %d: detection %v outside [T-hb, 2T) = [%v, %v)", seed, d, T-hb, 2*T)
		}
		if r.Metrics.UnnecessaryElections != 0 {
			t.Fatalf("seed %d: %d unnecessary elections on a zero-delay network", seed, r.Metrics.UnnecessaryElections)
		}
	}
}

func TestConstantDelayWithLongTimeoutHasNoUnnecessaryElections(t *testing.T) {
	s := scenario(t, `scenario "const" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  network { delay = "20ms" }
}`)
	for seed := uint64(1); seed <= 5; seed++ {
		r := Run(s, Options{Seed: seed, NewRecommender: fixedRec(time.Second)})
		// Only the start-up election (a split vote there can take a
		// second round); none after a leader exists.
		if r.Metrics.UnnecessaryElections != 0 || r.Metrics.Elections > 2 {
			t.Fatalf("seed %d: %d elections, %d unnecessary; want only the start-up election", seed, r.Metrics.Elections, r.Metrics.UnnecessaryElections)
		}
	}
	// The same network with a timeout below the heartbeat interval and no
	// pre-vote to absorb it is all needless elections: the metric can fail.
	// (With pre-vote, voters that just heard the leader refuse, and the
	// cluster stays put: pre-vote earns its keep.)
	s.PreVote = false
	r := Run(s, Options{Seed: 1, NewRecommender: fixedRec(30 * time.Millisecond)})
	if r.Metrics.UnnecessaryElections == 0 {
		t.Fatal("a 30ms timeout under 50ms heartbeats caused no unnecessary election")
	}
}

func TestLeaderPartitionCausesExactlyOneNecessaryElection(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		src := `scenario "part" {
  nodes     = 5
  duration  = "60s"
  heartbeat = "50ms"
  network { delay = "2ms" }
  partition {
    at       = "20s"
    duration = "10s"
    isolate  = ["LEADER"]
  }
}`
		// Find who leads at 20s with the same seed, then isolate it.
		leader := leaderAt(t, src, seed, 20*time.Second)
		r := Run(scenario(t, strings.Replace(src, "LEADER", leader, 1)), Options{Seed: seed, NewRecommender: fixedRec(500 * time.Millisecond)})
		// The start-up election(s), then exactly one after the partition.
		if r.Metrics.Elections-startup(t, src, seed) != 1 || r.Metrics.UnnecessaryElections != 0 || len(r.Metrics.Detections) != 1 {
			t.Fatalf("seed %d (isolating %s): elections %d, unnecessary %d, detections %v", seed, leader, r.Metrics.Elections, r.Metrics.UnnecessaryElections, r.Metrics.Detections)
		}
	}
}

// startup counts the elections of the run before any partition.
func startup(t *testing.T, src string, seed uint64) int {
	s := scenario(t, strings.Replace(src, "LEADER", "n1", 1))
	s.Partitions = nil
	s.Duration = 20 * time.Second
	return Run(s, Options{Seed: seed, NewRecommender: fixedRec(500 * time.Millisecond)}).Metrics.Elections
}

// leaderAt runs the scenario without its partition and reports the leader
// at time at.
func leaderAt(t *testing.T, src string, seed uint64, at time.Duration) string {
	t.Helper()
	s := scenario(t, strings.Replace(src, "LEADER", "n1", 1))
	s.Partitions = nil
	s.Duration = at
	var who string
	Run(s, Options{Seed: seed, NewRecommender: fixedRec(500 * time.Millisecond), OnSample: func(node string, smp collector.Sample, _ Truth) {
		if smp.Role == collector.RoleLeader {
			who = node
		}
	}})
	return who
}

func TestRunIsDeterministicBySeed(t *testing.T) {
	s := scenario(t, `scenario "wan" {
  nodes = 5
  duration = "2m"
  heartbeat = "50ms"
  crash {
    mean_interval = "20s"
    downtime = "5s"
  }
  network {
    delay = "40ms"
    jitter = "10ms"
    tail_prob = 0.02
    tail_delay = "200ms"
    loss = 0.01
    burst {
      mean_interval = "15s"
      mean_length = "1s"
      extra_delay = "200ms"
      loss = 0.2
    }
  }
  node "n2" {
    slowdown = 3
    pause_every = "10s"
    pause = "300ms"
  }
}`)
	a := Run(s, Options{Seed: 7, NewRecommender: fixedRec(200 * time.Millisecond)})
	b := Run(s, Options{Seed: 7, NewRecommender: fixedRec(200 * time.Millisecond)})
	c := Run(s, Options{Seed: 8, NewRecommender: fixedRec(200 * time.Millisecond)})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different runs")
	}
	if reflect.DeepEqual(a.Metrics, c.Metrics) {
		t.Fatal("different seeds, identical metrics")
	}
	if a.Metrics.Elections == 0 || len(a.Metrics.Detections) == 0 || len(a.Metrics.Commits) == 0 || a.Metrics.UnavailableMS == 0 {
		t.Fatalf("a faulty WAN run measured nothing: %+v", a.Metrics.Elections)
	}
}

// Requests that waited for the first leader measure the bootstrap, which
// DESIGN.md excludes: on a calm LAN every counted commit takes a round trip
// or two, never the initial election's second.
func TestBootstrapWaitIsNotCommitLatency(t *testing.T) {
	s := scenario(t, `scenario "calm" {
  nodes     = 5
  duration  = "20s"
  heartbeat = "50ms"
  network { delay = "1ms" }
}`)
	r := Run(s, Options{Seed: 1, NewRecommender: fixedRec(300 * time.Millisecond), ClientRate: 200})
	if len(r.Metrics.Commits) < 3000 {
		t.Fatalf("only %d commits", len(r.Metrics.Commits))
	}
	if m := slices.Max(r.Metrics.Commits); m > 50 {
		t.Fatalf("a commit took %.1fms on a calm 1ms LAN: the bootstrap was counted", m)
	}
}

// A request is never kept waiting longer than the cluster is unavailable:
// what a stepped-down or crashed leader took but did not commit goes to the
// next leader, and a leader elected while an old one was paused serves the
// old one's requests as soon as it steps down.
func TestNoRequestWaitsPastTheOutage(t *testing.T) {
	s := scenario(t, `scenario "gc" {
  nodes     = 5
  duration  = "2m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "20s"
    downtime      = "5s"
  }
  network { delay = "0.4ms" }
  node "n1" {
    pause_every = "3s"
    pause       = "600ms"
  }
  node "n2" {
    pause_every = "4s"
    pause       = "300ms"
  }
}`)
	for seed := uint64(1); seed <= 5; seed++ {
		m := Run(s, Options{Seed: seed, NewRecommender: func(string) model.Recommender { return model.Random{} }}).Metrics
		if len(m.Commits) == 0 {
			t.Fatalf("seed %d: no commits", seed)
		}
		// The longest any request can wait is every outage back to back
		// plus a heartbeat or two to replicate it.
		if worst := slices.Max(m.Commits); worst > m.UnavailableMS+200 {
			t.Errorf("seed %d: a request waited %.0fms, longer than all %.0fms of unavailability", seed, worst, m.UnavailableMS)
		}
	}
}

// A probe or append that reaches a paused peer is answered only when it
// resumes; the reply says how long it was held, so round trips measure the
// network and an RTT floor is not lifted by a peer's GC pause.
func TestPausedPeersDoNotInflateRTT(t *testing.T) {
	s := scenario(t, `scenario "gc" {
  nodes     = 3
  duration  = "30s"
  heartbeat = "50ms"
  network {
    delay  = "1ms"
    jitter = "0.2ms"
  }
  node "n2" {
    pause_every = "2s"
    pause       = "400ms"
  }
}`)
	var worst time.Duration
	samples := 0
	Run(s, Options{Seed: 3, NewRecommender: fixedRec(time.Second), OnSample: func(node string, smp collector.Sample, _ Truth) {
		if smp.Has(collector.FieldRTT) {
			samples++
			worst = max(worst, smp.RTTP99)
		}
	}})
	if samples < 500 {
		t.Fatalf("only %d samples with RTT", samples)
	}
	// 2 × (1ms + 0.2ms) and processing: anything near the 400ms pause is
	// the pause counted as network.
	if worst > 5*time.Millisecond {
		t.Fatalf("p99 RTT reached %s on a 1ms network with a pausing peer", worst)
	}
}
