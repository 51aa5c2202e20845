package sim

import (
	"math"
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
		// Per seed, in seed order, the chosen timeout's runs.
		T := time.Duration(rows[2*i+1].ChosenTimeoutMS) * time.Millisecond
		for k, seed := range []uint64{1, 2} {
			want := round3(Run(sc, Options{Seed: seed, FixedTimeout: T}).Metrics.UnavailableMS)
			if got := rows[2*i+1].PerSeedMS; len(got) != 2 || got[k] != want {
				t.Fatalf("%s: per seed %v, want seed %d at %v", sc.Name, got, seed, want)
			}
		}
	}
	tot := Total(rows, "sweep")
	if len(tot.PerSeedMS) != 2 || math.Abs(tot.PerSeedMS[0]+tot.PerSeedMS[1]-tot.UnavailabilityMS) > 0.01 {
		t.Fatalf("total per seed %v does not add up to %v", tot.PerSeedMS, tot.UnavailabilityMS)
	}
	if p := percentile([]float64{5, 1, 4, 2, 3}, 0.5); p != 3 {
		t.Fatalf("median %v", p)
	}
}

// Paired is the mean per-seed difference with Student's t interval.
func TestPaired(t *testing.T) {
	a := Row{PerSeedMS: []float64{10, 20, 30, 40}}
	b := Row{PerSeedMS: []float64{9, 17, 29, 35}} // differences 1, 3, 1, 5
	mean, half, ok := Paired(a, b)
	// mean 2.5, sample sd sqrt(11/3), t(3) = 3.182
	if !ok || mean != 2.5 || math.Abs(half-3.182*math.Sqrt(11.0/3/4)) > 1e-9 {
		t.Fatalf("Paired = %v ± %v (%v)", mean, half, ok)
	}
	if _, _, ok := Paired(a, Row{PerSeedMS: []float64{1, 2, 3}}); ok {
		t.Fatal("rows of different seeds compared")
	}
	if _, _, ok := Paired(Row{PerSeedMS: []float64{1}}, Row{PerSeedMS: []float64{2}}); ok {
		t.Fatal("one seed has no interval")
	}
	if tQuantile975(200) != 1.960 || tQuantile975(4) != 2.776 {
		t.Fatal("t quantiles")
	}
	// Between tabulated values the quantile is never below the exact one
	// (t 0.975 at 35 degrees of freedom is 2.030, at 50 2.009).
	if tQuantile975(35) < 2.030 || tQuantile975(50) < 2.009 {
		t.Fatalf("t quantiles at 35 and 50: %v, %v", tQuantile975(35), tQuantile975(50))
	}
}
