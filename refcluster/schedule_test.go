package refcluster

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/sim"
)

const scheduleSrc = `
scenario "s" {
  nodes    = 5
  duration = "10m"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay     = "40ms"
    jitter    = "5ms"
    loss      = 0.01
    tail_prob = 0.01
    tail_delay = "300ms"
    burst {
      mean_interval = "30s"
      mean_length   = "2s"
      extra_delay   = "250ms"
    }
  }
  node "n3" {
    pause_every = "20s"
    pause       = "400ms"
  }
  partition {
    at       = "5m"
    duration = "20s"
    isolate  = ["n1"]
  }
}`

func parseOne(t *testing.T, src string) *sim.Scenario {
	t.Helper()
	scs, diags := sim.Parse([]byte(src), "s.hcl")
	if diags.HasErrors() {
		t.Fatal(configs.FormatDiagnostics(diags))
	}
	return scs[0]
}

func TestBuildScheduleIsDeterministicBySeed(t *testing.T) {
	s := parseOne(t, scheduleSrc)
	a, b, c := BuildSchedule(s, 1), BuildSchedule(s, 1), BuildSchedule(s, 2)
	if !reflect.DeepEqual(a.Events, b.Events) {
		t.Fatal("same seed gave different schedules")
	}
	if reflect.DeepEqual(a.Events, c.Events) {
		t.Fatal("different seeds gave the same schedule")
	}
}

func TestBuildScheduleMapsEveryFault(t *testing.T) {
	s := parseOne(t, scheduleSrc)
	sch := BuildSchedule(s, 42)
	count := map[FaultKind]int{}
	var last time.Duration
	crashAt := map[int]time.Duration{}
	for _, e := range sch.Events {
		if e.At < last {
			t.Fatalf("events out of order at %v", e)
		}
		last = e.At
		if e.At >= s.Duration {
			t.Fatalf("event after the end: %v", e)
		}
		count[e.Kind]++
		switch e.Kind {
		case FaultCrash:
			crashAt[e.Crash] = e.At
		case FaultRestart:
			if got := e.At - crashAt[e.Crash]; got != 10*time.Second {
				t.Fatalf("restart %d comes %v after its crash, want the 10s downtime", e.Crash, got)
			}
		case FaultPause:
			if e.Node != "n3" {
				t.Fatalf("pause of %s; only n3 pauses", e.Node)
			}
		}
	}
	// 10 minutes: ~30 pauses of n3 (every 20s), ~10 crashes (mean 60s),
	// ~20 bursts (mean 30s), one partition.
	if count[FaultPause] < 29 || count[FaultPause] != count[FaultResume] {
		t.Fatalf("pauses %d resumes %d", count[FaultPause], count[FaultResume])
	}
	if count[FaultCrash] < 4 || count[FaultCrash] > 20 {
		t.Fatalf("%d crashes for a 60s mean over 10m", count[FaultCrash])
	}
	if count[FaultBurstStart] < 8 || count[FaultBurstStart] != count[FaultBurstEnd] {
		t.Fatalf("bursts %d/%d", count[FaultBurstStart], count[FaultBurstEnd])
	}
	if count[FaultPartition] != 1 || count[FaultHeal] != 1 || count[FaultNetwork] != 1 {
		t.Fatalf("counts %v", count)
	}
	joined := strings.Join(sch.NotInjected, "; ")
	for _, want := range []string{"loss", "heavy-tail"} {
		if !strings.Contains(joined, want) {
			t.Errorf("NotInjected %q does not mention %s", joined, want)
		}
	}
}

func TestDemoScenarioBuilds(t *testing.T) {
	scs, err := sim.LoadSuite(configs.Scenarios, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(BuildSchedule(scs[0], 1).Events) < 5 {
		t.Fatal("demo schedule has almost no faults")
	}
}

// The agents' election window shrinks with the time between crashes, so an
// election is "recent" for the same share of a compressed run as of the
// scenario it came from.
func TestElectionWindowFollowsCompression(t *testing.T) {
	s := parseOne(t, scheduleSrc) // 10m, a crash every 60s
	c := Compress(s, 20*time.Second)
	// Crashes every 20s/3 instead of 60s: 30s × (6.67/60) = 3.33s.
	if w := ElectionWindow(s, c); w < 3300*time.Millisecond || w > 3400*time.Millisecond {
		t.Fatalf("window %v, want about 3.33s", w)
	}
	if w := ElectionWindow(s, s); w != 30*time.Second {
		t.Fatalf("uncompressed: window %v, want 30s", w)
	}
	// Without periodic crashes the run's own compression applies (1/30),
	// but never below 1s: ten agent ticks.
	s.Crash = nil
	if w := ElectionWindow(s, Compress(s, 20*time.Second)); w != time.Second {
		t.Fatalf("no crashes, 30× compressed: window %v, want the 1s floor", w)
	}
	if w := ElectionWindow(s, Compress(s, 5*time.Minute)); w != 15*time.Second {
		t.Fatalf("no crashes, 2× compressed: window %v, want 15s", w)
	}
}

// An election replacing a leader that was killed or cut off is necessary
// while the fault lasts and for 2s after it ends, also when the fault is
// still open at the end of the run (an open window once overflowed and
// counted the elections after a run's last crash as unnecessary).
func TestNecessaryElection(t *testing.T) {
	s := time.Second
	ws := []faultWindow{
		{from: 2 * s, to: 5 * s, node: "n1"},          // killed, restarted at 5s
		{from: 10 * s, to: math.MaxInt64, node: "n2"}, // killed, never restarted
	}
	for _, c := range []struct {
		at     time.Duration
		leader string
		want   bool
	}{
		{1 * s, "n1", false},                  // before the kill
		{2500 * time.Millisecond, "n1", true}, // the failover
		{6 * s, "n1", true},                   // within 2s of the restart
		{8 * s, "n1", false},                  // long after it
		{3 * s, "n3", false},                  // another leader
		{10200 * time.Millisecond, "n2", true},
		{19 * s, "n2", true},
		{9 * s, "n2", false},
	} {
		if got := necessaryElection(c.at, c.leader, ws); got != c.want {
			t.Errorf("election at %v replacing %s: necessary %v, want %v", c.at, c.leader, got, c.want)
		}
	}
}

// TestRunScheduleDoesNotPauseAKilledNode: a pause that falls inside a
// crash's downtime is skipped, not reported as a failed fault ("pause
// n2: node is not running").
func TestRunScheduleDoesNotPauseAKilledNode(t *testing.T) {
	c := startCluster(t, 3, nil)
	waitLeader(t, c)
	if err := c.Kill("n2"); err != nil {
		t.Fatal(err)
	}
	m := NewMesh()
	defer m.Close()
	sch := Schedule{Scenario: parseOne(t, `scenario "s" {
  nodes    = 3
  duration = "1s"
}`), Events: []FaultEvent{{At: 0, Kind: FaultPause, Node: "n2"}, {At: 10 * time.Millisecond, Kind: FaultResume, Node: "n2"}}}
	var seen []string
	RunSchedule(context.Background(), c, m, sch, func(ev FaultEvent, target string, err error) {
		seen = append(seen, fmt.Sprintf("%s %s: %v", ev.Kind, target, err))
	})
	if len(seen) != 0 {
		t.Fatalf("the schedule acted on a killed node: %v", seen)
	}
}

// The simulator's twin of a live run keeps what the schedule injects and
// drops exactly what it lists as not injected, with the agents' window.
func TestLiveTwinDropsWhatIsNotInjected(t *testing.T) {
	src := `scenario "t" {
  duration = "10m"
  network {
    delay = "40ms"
    jitter = "5ms"
    loss = 0.01
    tail_prob = 0.01
    tail_delay = "100ms"
    drift = "20ms"
    burst {
      mean_interval = "60s"
      mean_length = "2s"
      extra_delay = "200ms"
      loss = 0.3
    }
  }
  link "n1" "n2" {
    delay = "90ms"
    loss = 0.05
  }
  node "n3" {
    slowdown = 3
    pause_every = "30s"
    pause = "400ms"
    disk_stall_every = "20s"
    disk_stall = "300ms"
  }
  crash {
    mean_interval = "60s"
    downtime = "10s"
  }
}`
	s := parseOne(t, src)
	if len(BuildSchedule(Compress(s, 20*time.Second), 1).NotInjected) == 0 {
		t.Fatal("the schedule lists nothing as not injected; the test needs a scenario it cannot fully inject")
	}
	tw := LiveTwin(s, 20*time.Second)
	if len(BuildSchedule(tw, 1).NotInjected) != 0 {
		t.Fatalf("the twin still has what toxiproxy cannot inject: %v", BuildSchedule(tw, 1).NotInjected)
	}
	if tw.Duration != 20*time.Second || tw.ElectionWindow != ElectionWindow(s, Compress(s, 20*time.Second)) {
		t.Fatalf("twin: duration %v window %v, want the compressed run's", tw.Duration, tw.ElectionWindow)
	}
	n12 := tw.LinkNetwork("n1", "n2")
	if n12.Delay != 90*time.Millisecond || n12.Loss != 0 || tw.Network.Jitter != 5*time.Millisecond || tw.Network.Burst.ExtraDelay != 200*time.Millisecond {
		t.Fatalf("twin network: link n1→n2 %+v, default %+v: delays and jitter must stay", n12, tw.Network)
	}
	if n3 := tw.Node("n3"); n3.Pause != 400*time.Millisecond || n3.PauseEvery == 0 || n3.Slowdown != 1 {
		t.Fatalf("twin n3 %+v: pauses stay, the slowdown goes", n3)
	}
	if s.Network.Loss != 0.01 || s.Network.Burst.Loss != 0.3 || s.Links[0].Network.Loss != 0.05 {
		t.Fatal("LiveTwin changed the scenario it was given")
	}
}
