package report

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nsraft/nsraft/refcluster"
)

func run(sc, st string, seed uint64, ms float64, err string) refcluster.LiveRun {
	return refcluster.LiveRun{Scenario: sc, Strategy: st, Seed: seed, UnavailabilityMS: ms, Error: err, Linearizable: string(refcluster.Linearizable)}
}

// Each run is compared with random's run of the same scenario and seed, and
// only with that one; failed runs and unmatched runs are left out.
func TestPairedVsRandom(t *testing.T) {
	runs := []refcluster.LiveRun{
		run("a", "random", 1, 500, ""), run("a", "lstm", 1, 400, ""), run("a", "linucb", 1, 500, ""),
		run("a", "random", 2, 100, ""), run("a", "lstm", 2, 300, ""), run("a", "linucb", 2, 50, ""),
		run("b", "random", 1, 900, ""), run("b", "lstm", 1, 100, ""), run("b", "linucb", 1, 0, "cluster did not come up"),
		run("b", "lstm", 2, 0, ""), // random has no run of b/2
		run("c", "random", 1, 0, "no leader"), run("c", "lstm", 1, 0, ""),
	}
	got := PairedVsRandom(runs)
	want := map[string][3]int{"lstm": {2, 1, 0}, "linucb": {1, 0, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// Summaries are means over seeds with min–max, ratios to random's mean on
// the same scenario, and one non-linearizable run marks its summary.
func TestSummarize(t *testing.T) {
	bad := run("a", "lstm", 2, 300, "")
	bad.Linearizable = string(refcluster.NotLinearizable)
	runs := []refcluster.LiveRun{
		run("a", "random", 1, 400, ""), run("a", "random", 2, 600, ""),
		run("a", "lstm", 1, 100, ""), bad, run("a", "lstm", 3, 0, "cluster did not come up"),
	}
	sums := Summarize(runs)
	if len(sums) != 2 {
		t.Fatalf("%d summaries, want 2", len(sums))
	}
	r, l := sums[0], sums[1]
	if r.Strategy != "random" || r.Runs != 2 || r.UnavailabilityMS != 500 || r.UnavailabilityMinMS != 400 || r.UnavailabilityMaxMS != 600 || r.LiveRatio != 1 || !r.Linearizable {
		t.Fatalf("random: %+v", r)
	}
	if l.Strategy != "lstm" || l.Runs != 2 || l.UnavailabilityMS != 200 || l.LiveRatio != 0.4 || l.Linearizable {
		t.Fatalf("lstm: %+v", l)
	}
	var b strings.Builder
	WriteLive(&b, sums, runs, LiveHeader{Nodes: 3, Seeds: 3})
	for _, want := range []string{"| a | lstm | 200 ms (100–300) |", "| **NO** | 0.40 |", "run failed, not counted: a / lstm / seed 3", "| lstm | 0.2 s | 0 | 0 | 2 / 0 / 0 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if f := Failures(runs); len(f) != 2 || !strings.Contains(f[0], "history") || !strings.Contains(f[1], "did not come up") {
		t.Fatalf("failures: %q", f)
	}
}
