package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/configs"
)

func TestParseDriftNoisyAndDiskStalls(t *testing.T) {
	s := scenario(t, `scenario "x" {
  nodes = 3
  network {
    delay = "10ms"
    drift = "40ms"
  }
  link "n1" "n2" { drift = "0ms" }
  node "n2" {
    noisy_every  = "20s"
    noisy_length = "4s"
  }
  node "n3" {
    noisy_every      = "30s"
    noisy_length     = "5s"
    noisy_slowdown   = 8
    noisy_busy       = 70
    disk_stall_every = "15s"
    disk_stall       = "400ms"
  }
}`)
	if s.Network.Drift != 40*time.Millisecond || s.LinkNetwork("n2", "n1").Drift != 40*time.Millisecond || s.LinkNetwork("n1", "n2").Drift != 0 {
		t.Fatalf("drift: %+v %+v", s.Network, s.Links)
	}
	if n := s.Node("n2"); n.NoisyEvery != 20*time.Second || n.NoisyLength != 4*time.Second || n.NoisySlowdown != 4 || n.NoisyBusy != 50 {
		t.Fatalf("noisy defaults: %+v", n)
	}
	if n := s.Node("n3"); n.NoisySlowdown != 8 || n.NoisyBusy != 70 || n.DiskStallEvery != 15*time.Second || n.DiskStall != 400*time.Millisecond {
		t.Fatalf("n3: %+v", n)
	}
	if n := s.Node("n1"); n.NoisyEvery != 0 || n.DiskStall != 0 {
		t.Fatalf("n1: %+v", n)
	}
}

func TestParseEpisodeErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"scenario \"x\" {\n  node \"n1\" {\n    noisy_every = \"10s\"\n  }\n}\n", "bad.hcl:2,3: node \"n1\": noisy_every and noisy_length go together"},
		{"scenario \"x\" {\n  node \"n1\" {\n    disk_stall_every = \"1s\"\n    disk_stall = \"2s\"\n  }\n}\n", "bad.hcl:2,3: node \"n1\": disk_stall (2s) must be shorter than disk_stall_every (1s)"},
		{"scenario \"x\" {\n  node \"n1\" {\n    noisy_busy = 20\n  }\n}\n", "bad.hcl:2,3: node \"n1\": noisy_slowdown and noisy_busy need noisy_every"},
		{"scenario \"x\" {\n  node \"n1\" {\n    noisy_every = \"10s\"\n    noisy_length = \"1s\"\n    noisy_busy = 120\n  }\n}\n", "bad.hcl:5,18: noisy_busy must be within [0, 100]"},
		{"scenario \"x\" {\n  network {\n    drift = \"-3ms\"\n  }\n}\n", "bad.hcl:3,13: drift must not be negative"},
	} {
		_, diags := Parse([]byte(c.src), "bad.hcl")
		if got := configs.FormatDiagnostics(diags); !strings.Contains(got, c.want) {
			t.Errorf("want %q in:\n%s", c.want, got)
		}
	}
}

func TestScheduleIsSortedDisjointAndSeeded(t *testing.T) {
	a := schedule(1, 6, 0, 10*time.Second, 2*time.Second, time.Hour)
	b := schedule(1, 6, 0, 10*time.Second, 2*time.Second, time.Hour)
	c := schedule(2, 6, 0, 10*time.Second, 2*time.Second, time.Hour)
	if len(a) < 200 || len(a) > 400 || len(a) != len(b) || a[0] != b[0] || a[0] == c[0] {
		t.Fatalf("%d episodes in an hour at one per ~12s; seeded: %v %v %v", len(a), a[0], b[0], c[0])
	}
	var busy time.Duration
	for i, sp := range a {
		if sp.end <= sp.start || (i > 0 && sp.start < a[i-1].end) {
			t.Fatalf("episode %d %v overlaps or is empty", i, sp)
		}
		busy += sp.end - sp.start
		if got, ok := active(a, sp.start); !ok || got != sp {
			t.Fatalf("active at start of %v: %v %v", sp, got, ok)
		}
		if got, ok := active(a, sp.end); ok && got == sp {
			t.Fatalf("active at end of %v", sp)
		}
	}
	// Mean length 2s of a 12s cycle: about a sixth of the time.
	if share := busy.Seconds() / 3600; share < 0.12 || share > 0.22 {
		t.Fatalf("busy share %.2f", share)
	}
	if schedule(1, 6, 0, 0, 0, time.Hour) != nil {
		t.Fatal("episodes without a spec")
	}
}

// observe runs s with a fixed timeout and returns every sample by node.
func observe(s *Scenario, timeout time.Duration) map[string][]collector.Sample {
	out := map[string][]collector.Sample{}
	Run(s, Options{Seed: 3, NewRecommender: fixedRec(timeout), OnSample: func(node string, smp collector.Sample, _ Truth) {
		out[node] = append(out[node], smp)
	}})
	return out
}

func TestDriftRaisesDelayOverTheRun(t *testing.T) {
	s := scenario(t, `scenario "drift" {
  nodes = 3
  duration = "60s"
  network {
    delay = "1ms"
    drift = "100ms"
  }
}`)
	smp := observe(s, 5*time.Second)["n2"]
	early, late := smp[50], smp[len(smp)-1] // 5s in, and at the end
	if !early.Has(collector.FieldRTT) || early.RTTMean > 30*time.Millisecond || late.RTTMean < 150*time.Millisecond {
		t.Fatalf("RTT mean at 5s %v, at the end %v; want about 2×(1+8)ms and 2×(1+~95)ms", early.RTTMean, late.RTTMean)
	}
}

func TestDiskStallsHoldALeadersHeartbeats(t *testing.T) {
	src := `scenario "disk" {
  nodes = 3
  duration = "120s"
  network { delay = "1ms" }
  %s
}`
	stalls := `node "n1" {
    disk_stall_every = "10s"
    disk_stall       = "500ms"
  }
  node "n2" {
    disk_stall_every = "10s"
    disk_stall       = "500ms"
  }
  node "n3" {
    disk_stall_every = "10s"
    disk_stall       = "500ms"
  }`
	maxGap := func(s *Scenario) (g time.Duration) {
		for _, smp := range observe(s, 10*time.Second) {
			for _, x := range smp {
				if x.Role == collector.RoleFollower && x.Leader != "" {
					g = max(g, x.HeartbeatGap)
				}
			}
		}
		return g
	}
	calm := maxGap(scenario(t, strings.Replace(src, "%s", "", 1)))
	stalled := maxGap(scenario(t, strings.Replace(src, "%s", stalls, 1)))
	if calm > 100*time.Millisecond || stalled < 500*time.Millisecond {
		t.Fatalf("longest heartbeat gap %v without stalls, %v with 500ms-mean stalls", calm, stalled)
	}
	short := Run(scenario(t, strings.Replace(src, "%s", stalls, 1)), Options{Seed: 3, NewRecommender: fixedRec(150 * time.Millisecond)})
	if short.Metrics.UnnecessaryElections == 0 {
		t.Fatal("150ms timers never fired during leader disk stalls")
	}
}

func TestNoisyNeighbourTakesCPU(t *testing.T) {
	src := `scenario "noisy" {
  nodes = 3
  duration = "120s"
  network { delay = "1ms" }
  node "n2" {
    slowdown = 1
    %s
  }
}`
	meanIdle := func(s *Scenario) float64 {
		var sum float64
		smp := observe(s, time.Second)["n2"]
		for _, x := range smp {
			sum += x.CPUIdlePct
		}
		return sum / float64(len(smp))
	}
	calm := meanIdle(scenario(t, strings.Replace(src, "%s", "", 1)))
	noisy := meanIdle(scenario(t, strings.Replace(src, "%s", "noisy_every = \"10s\"\n    noisy_length = \"5s\"\n    noisy_busy = 60", 1)))
	// Busy a third of the time, 60 points and 4× slower then.
	if calm-noisy < 10 {
		t.Fatalf("mean CPU idle %.1f%% calm, %.1f%% with a noisy neighbour", calm, noisy)
	}
}
