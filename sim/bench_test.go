package sim

import (
	"testing"
	"time"

	"github.com/nsraft/nsraft/configs"
)

// BenchmarkSimulatedSecondsPerWallSecond runs each ballast scenario with a
// fixed timeout and reports simulated seconds per wall-clock second.
func BenchmarkSimulatedSecondsPerWallSecond(b *testing.B) {
	scs, err := LoadSuite(configs.Scenarios, "ballast")
	if err != nil {
		b.Fatal(err)
	}
	for _, sc := range scs {
		b.Run(sc.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Run(sc, Options{Seed: uint64(i), NewRecommender: fixedRec(200 * time.Millisecond)})
			}
			b.ReportMetric(sc.Duration.Seconds()*float64(b.N)/b.Elapsed().Seconds(), "sim-s/s")
		})
	}
}

func TestBenchRowsAreOrderedAndPooled(t *testing.T) {
	scs, err := LoadSuite(configs.Scenarios, "faults")
	if err != nil {
		t.Fatal(err)
	}
	scs = cutUnderRace(scs[:2])
	sts := []Strategy{{Name: "oracle", Oracle: true}, {Name: "sweep", Sweep: []time.Duration{100 * time.Millisecond, 2 * time.Second}}}
	rows := Bench(scs, sts, []uint64{1, 2}, 2)
	if len(rows) != 4 || rows[0].Scenario != scs[0].Name || rows[0].Recommender != "oracle" || rows[1].Recommender != "sweep" || rows[2].Scenario != scs[1].Name {
		t.Fatalf("row order: %+v", rows)
	}
	// The sweep keeps the fixed timeout with the least unavailability:
	// recompute both by hand.
	for i, sc := range scs {
		var u [2]float64
		for k, T := range sts[1].Sweep {
			for _, seed := range []uint64{1, 2} {
				u[k] += Run(sc, Options{Seed: seed, FixedTimeout: T}).Metrics.UnavailableMS
			}
		}
		want := 100.0
		if u[1] < u[0] {
			want = 2000
		}
		if got := rows[2*i+1].ChosenTimeoutMS; got != want {
			t.Fatalf("%s: sweep chose %vms, want %vms (%v)", sc.Name, got, want, u)
		}
		if rows[2*i+1].UnavailabilityMS != round3(min(u[0], u[1])) {
			t.Fatalf("%s: unavailability %v, want %v", sc.Name, rows[2*i+1].UnavailabilityMS, min(u[0], u[1]))
		}
	}
	if p := percentile([]float64{5, 1, 4, 2, 3}, 0.5); p != 3 {
		t.Fatalf("median %v", p)
	}
}
