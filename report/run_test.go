package report

import (
	"context"
	"encoding/json"
	"github.com/nsraft/nsraft/internal/testbin"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/exitcode"
)

func TestMain(m *testing.M) { testbin.Main(m) }

func simOut(t *testing.T, o SimOptions) string {
	t.Helper()
	var b strings.Builder
	if err := Sim(&b, o); err != nil {
		t.Fatalf("%+v: %v", o, err)
	}
	return b.String()
}

func benchOut(t *testing.T, o BenchOptions) string {
	t.Helper()
	var b strings.Builder
	if err := Bench(&b, o); err != nil {
		t.Fatalf("%+v: %v", o, err)
	}
	return b.String()
}

func TestSimAndBenchAreDeterministic(t *testing.T) {
	run := func(seed uint64) string {
		return simOut(t, SimOptions{Scenario: "stable-wan", Recommender: "linucb", Seed: seed, JSON: true})
	}
	a, b, c := run(3), run(3), run(4)
	if a != b {
		t.Fatalf("same seed, different output:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatal("different seeds, same output")
	}
	o := BenchOptions{Files: []string{"leader-crash-lan", "asymmetric-link"}, Seeds: 2, SeedBase: 1000, Strategies: "random,static,oracle", JSON: true}
	x, y := benchOut(t, o), benchOut(t, o)
	if x != y {
		t.Fatal("bench JSON differs between identical runs")
	}
	var out struct {
		Rows   []map[string]any `json:"rows"`
		Totals []map[string]any `json:"totals"`
	}
	if err := json.Unmarshal([]byte(x), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Rows) != 6 {
		t.Fatalf("%d rows, want 2 scenarios × 3 strategies", len(out.Rows))
	}
	for _, k := range []string{"scenario", "recommender", "unavailability_ms", "elections", "unnecessary_elections", "detection_ms_p50", "detection_ms_p99", "commit_ms_mean", "commit_ms_p99", "commit_ms_p999", "commit_ms_max", "gap_closed"} {
		if _, ok := out.Rows[0][k]; !ok {
			t.Errorf("row lacks %q: %v", k, out.Rows[0])
		}
	}
	if len(out.Totals) != 3 || out.Totals[0]["recommender"] != "random" || out.Totals[0]["gap_closed"] != 0.0 || out.Totals[2]["gap_closed"] != 1.0 {
		t.Errorf("totals: %v", out.Totals)
	}
}

func TestBenchTableAndPlots(t *testing.T) {
	dir := t.TempDir()
	out := benchOut(t, BenchOptions{Files: []string{"leader-crash-lan"}, Seeds: 1, SeedBase: 1000, Strategies: "random,linucb,linucb-raw,oracle", PlotDir: dir})
	for _, want := range []string{"×random", "TOTAL", "linucb-raw", "oracle", "X = through the default policy, X-raw = the recommender's own proposal", "p99.9", "gap"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"unavailability.png", "timeline-leader-crash-lan-linucb.png", "timeline-leader-crash-lan-oracle.png"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
			t.Errorf("%s: %d bytes, %v", f, len(b), err)
		}
	}
}

// Bad options are usage errors (exit 2), bad files and suites failures.
func TestBenchBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    BenchOptions
		code int
		want string
	}{
		{BenchOptions{Seeds: 1}, exitcode.Usage, "give -suite NAME and/or -scenario FILE"},
		{BenchOptions{Suite: "ballast"}, exitcode.Usage, "-seeds must be at least 1"},
		{BenchOptions{Suite: "ballast", Seeds: 1, Host: "raft"}, exitcode.Usage, `unknown host "raft"`},
		{BenchOptions{Suite: "ballast", Seeds: 1, Strategies: "psychic"}, exitcode.Usage, "unknown strategy"},
		{BenchOptions{Suite: "nope", Seeds: 1}, exitcode.Failure, "unknown suite"},
	} {
		err := Bench(nil, tc.o)
		if exitcode.Code(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v (exit %d), want %q (exit %d)", tc.o, err, exitcode.Code(err), tc.want, tc.code)
		}
	}
}

func TestSimHost(t *testing.T) {
	o := SimOptions{Scenario: "leader-crash-lan", Recommender: "random", Seed: 1, Host: "etcd"}
	if out := simOut(t, o); !strings.Contains(out, "etcd host") {
		t.Fatalf("-host etcd: %s", out)
	}
	o.JSON, o.Host = true, "generic"
	gen := simOut(t, o)
	o.Host = "hashicorp"
	if hc := simOut(t, o); gen == hc {
		t.Fatalf("hashicorp's rules changed nothing: %s", gen)
	}
	o.Host = "raft"
	if err := Sim(nil, o); exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), `unknown host "raft": have generic, hashicorp, etcd`) {
		t.Fatalf("-host raft: %v", err)
	}
}

// TestLiveQuick runs the live benchmark's quick mode as CI does: real
// node and agent processes under toxiproxy faults, each history checked
// with porcupine; any violation fails the run.
func TestLiveQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two real clusters")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, log strings.Builder
	err := Live(ctx, &out, LiveOptions{Binary: testbin.Path(t), Quick: true, Seeds: 1, SeedBase: 1000, Duration: 20 * time.Second, Nodes: 5, Log: &log})
	if err != nil { // a failed run or history comes back as an exitcode.List
		t.Fatalf("%v\n%s\n%s", err, out.String(), log.String())
	}
	// What a user sees: the table on stdout, each run's verdict in the log.
	if s := out.String() + log.String(); strings.Count(s, " linearizable") < 2 || strings.Count(s, "| yes |") != 2 || !strings.Contains(s, "| wan-bursty | lstm |") {
		t.Fatalf("output:\n%s", s)
	}
}

// With lstm and two seeds or more, the table ends with lstm against every
// other strategy run by run; with one seed there is no interval to give.
func TestBenchPairedSection(t *testing.T) {
	out := benchOut(t, BenchOptions{Files: []string{"leader-crash-lan"}, Seeds: 3, SeedBase: 1000, Strategies: "random,lstm,oracle"})
	i := strings.Index(out, "lstm against each strategy, run by run")
	if i < 0 {
		t.Fatalf("no paired section:\n%s", out)
	}
	for _, want := range []string{"random", "oracle", "95% interval"} {
		if !strings.Contains(out[i:], want) {
			t.Errorf("paired section lacks %q:\n%s", want, out[i:])
		}
	}
	if one := benchOut(t, BenchOptions{Files: []string{"leader-crash-lan"}, Seeds: 1, SeedBase: 1000, Strategies: "random,lstm"}); strings.Contains(one, "run by run") {
		t.Errorf("paired section with one seed:\n%s", one)
	}
}
