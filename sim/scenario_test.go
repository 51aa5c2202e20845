package sim

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/configs"
)

func TestParseDesignGrammar(t *testing.T) {
	src := `
scenario "wan-bursty" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay      = "40ms"
    jitter     = "5ms"
    tail_prob  = 0.01
    tail_delay = "300ms"
    loss       = 0.01
    burst {
      mean_interval = "30s"
      mean_length   = "2s"
      extra_delay   = "250ms"
      loss          = 0.3
    }
  }
  link "n1" "n2" { delay = "80ms" }
  node "n3" {
    slowdown    = 3.0
    pause_every = "20s"
    pause       = "0.4ms"
  }
  partition {
    at       = "5m"
    duration = "20s"
    isolate  = ["n1"]
  }
}`
	scs, diags := Parse([]byte(src), "wan.hcl")
	if diags.HasErrors() {
		t.Fatal(configs.FormatDiagnostics(diags))
	}
	s := scs[0]
	if s.Name != "wan-bursty" || s.Nodes != 5 || s.Duration != 10*time.Minute || s.Heartbeat != 50*time.Millisecond || !s.PreVote {
		t.Fatalf("header: %+v", s)
	}
	if s.Crash == nil || s.Crash.MeanInterval != time.Minute || s.Crash.Downtime != 10*time.Second {
		t.Fatalf("crash: %+v", s.Crash)
	}
	n := s.Network
	if n.Delay != 40*time.Millisecond || n.Jitter != 5*time.Millisecond || n.TailProb != 0.01 || n.TailDelay != 300*time.Millisecond || n.Loss != 0.01 {
		t.Fatalf("network: %+v", n)
	}
	if b := n.Burst; b == nil || b.MeanInterval != 30*time.Second || b.MeanLength != 2*time.Second || b.ExtraDelay != 250*time.Millisecond || b.Loss != 0.3 {
		t.Fatalf("burst: %+v", n.Burst)
	}
	// The link overrides only delay; everything else comes from network.
	l := s.LinkNetwork("n1", "n2")
	if l.Delay != 80*time.Millisecond || l.Jitter != 5*time.Millisecond || l.Loss != 0.01 {
		t.Fatalf("link n1→n2: %+v", l)
	}
	if r := s.LinkNetwork("n2", "n1"); r.Delay != 40*time.Millisecond {
		t.Fatalf("reverse link must keep the default delay: %+v", r)
	}
	if ns := s.Node("n3"); ns.Slowdown != 3 || ns.PauseEvery != 20*time.Second || ns.Pause != 400*time.Microsecond {
		t.Fatalf("node n3: %+v", ns)
	}
	if ns := s.Node("n2"); ns.Slowdown != 1 {
		t.Fatalf("default node spec: %+v", ns)
	}
	if p := s.Partitions; len(p) != 1 || p[0].At != 5*time.Minute || p[0].Duration != 20*time.Second || p[0].Isolate[0] != "n1" {
		t.Fatalf("partition: %+v", p)
	}
}

func TestParseDefaults(t *testing.T) {
	scs, diags := Parse([]byte(`scenario "min" {}`), "min.hcl")
	if diags.HasErrors() {
		t.Fatal(configs.FormatDiagnostics(diags))
	}
	s := scs[0]
	if s.Nodes != 5 || s.Duration != 10*time.Minute || s.Heartbeat != 50*time.Millisecond || !s.PreVote || s.Crash != nil || s.ClientRate != DefaultClientRate {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestParseErrorsCarryPositions(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"unknown field", "scenario \"x\" {\n  colour = 2\n}\n", []string{"bad.hcl:2,3: Unsupported argument"}},
		{"negative delay", "scenario \"x\" {\n  network {\n    delay = \"-5ms\"\n  }\n}\n", []string{"bad.hcl:3,13: delay must not be negative"}},
		{"loss above 1", "scenario \"x\" {\n  network {\n    loss = 1.5\n  }\n}\n", []string{"bad.hcl:3,12: loss must be within [0, 1]"}},
		{"unknown node", "scenario \"x\" {\n  nodes = 3\n  link \"n1\" \"n7\" { delay = \"1ms\" }\n}\n", []string{"bad.hcl:3,3: unknown node \"n7\""}},
		{"bad duration", "scenario \"x\" {\n  heartbeat = \"soon\"\n}\n", []string{"bad.hcl:2,15: heartbeat: \"soon\" is not a duration"}},
		{"too many nodes", "scenario \"x\" {\n  nodes = 12\n}\n", []string{"bad.hcl:2,11: nodes must be within [3, 9]"}},
		{"client rate", "scenario \"x\" {\n  client_rate = 0\n}\n", []string{"bad.hcl:2,17: client_rate must be within [0.1, 10000]"}},
		{"isolate unknown", "scenario \"x\" {\n  partition {\n    at = \"1s\"\n    duration = \"1s\"\n    isolate = [\"n9\"]\n  }\n}\n", []string{"bad.hcl:5,15: unknown node \"n9\""}},
		{"syntax error", "scenario \"x\" {\n  nodes = \n}\n", []string{"bad.hcl:2,"}},
		{"several at once", "scenario \"x\" {\n  network {\n    delay = \"-1ms\"\n    loss = 2\n  }\n}\n", []string{"bad.hcl:3,13:", "bad.hcl:4,12:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "bad.hcl")
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			got := configs.FormatDiagnostics(diags)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("want %q in:\n%s", w, got)
				}
			}
		})
	}
}

func TestEmbeddedSuitesParse(t *testing.T) {
	suites := Suites(configs.Scenarios)
	if len(suites) == 0 {
		t.Fatal("no embedded suites")
	}
	for _, suite := range suites {
		scs, err := LoadSuite(configs.Scenarios, suite)
		if err != nil {
			t.Fatalf("suite %s: %v", suite, err)
		}
		if len(scs) == 0 {
			t.Fatalf("suite %s is empty", suite)
		}
	}
	if _, err := LoadSuite(configs.Scenarios, "nope"); err == nil || !strings.Contains(err.Error(), "unknown suite") {
		t.Fatalf("unknown suite: %v", err)
	}
}

func TestParseFileMissing(t *testing.T) {
	_, diags := ParseFile(filepath.Join(t.TempDir(), "absent.hcl"))
	if !diags.HasErrors() || !strings.Contains(configs.FormatDiagnostics(diags), "no such file") {
		t.Fatalf("missing file: %v", diags)
	}
}

// TestJitterSuiteMirrorsBallast: each jitter scenario is its ballast twin
// with the crashes taken out, nothing else, so the two suites cannot drift.
func TestJitterSuiteMirrorsBallast(t *testing.T) {
	ballast, err := LoadSuite(configs.Scenarios, "ballast")
	if err != nil {
		t.Fatal(err)
	}
	jitter, err := LoadSuite(configs.Scenarios, "jitter")
	if err != nil {
		t.Fatal(err)
	}
	twins := map[string]*Scenario{}
	for _, s := range ballast {
		twins[s.Name+"-nocrash"] = s
	}
	for _, j := range jitter {
		b, ok := twins[j.Name]
		if !ok {
			t.Errorf("jitter scenario %s has no ballast twin", j.Name)
			continue
		}
		if j.Crash != nil {
			t.Errorf("%s crashes its leader", j.Name)
		}
		want := *b
		want.Name, want.Crash = j.Name, nil
		if !reflect.DeepEqual(*j, want) {
			t.Errorf("%s differs from %s beyond its crashes:\n got %+v\nwant %+v", j.Name, b.Name, *j, want)
		}
	}
	if len(jitter) != len(ballast)-1 { // stable-lan without crashes has no election at all
		t.Errorf("%d jitter scenarios for %d ballast ones", len(jitter), len(ballast))
	}
}

// A scenario's client_rate is the rate of the requests whose commits the
// run measures.
func TestClientRate(t *testing.T) {
	src := "scenario \"x\" {\n  duration = \"60s\"\n  client_rate = %s\n}\n"
	commits := map[string]int{}
	for _, rate := range []string{"10", "100"} {
		scs, diags := Parse([]byte(fmt.Sprintf(src, rate)), "rate.hcl")
		if diags.HasErrors() {
			t.Fatal(configs.FormatDiagnostics(diags))
		}
		commits[rate] = len(Run(scs[0], Options{Seed: 1}).Metrics.Commits)
	}
	// Poisson arrivals over about 60s: 600 ± 75 and 6000 ± 240 at 3σ.
	if c := commits["10"]; c < 450 || c > 750 {
		t.Errorf("client_rate 10: %d commits in 60s", c)
	}
	if c := commits["100"]; c < 5500 || c > 6500 {
		t.Errorf("client_rate 100: %d commits in 60s", c)
	}
}
