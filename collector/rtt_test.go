package collector

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestRTTWindowKeepsTheLastSize(t *testing.T) {
	w := newRTTWindow(128, -1)
	now := time.Unix(1000, 0)
	if _, _, _, ok := w.stats(now); ok {
		t.Fatal("stats of an empty window")
	}
	for i := 1; i <= 200; i++ { // only the last 128 stay: 73..200ms
		w.add(now, time.Duration(i)*time.Millisecond)
	}
	mean, sd, p99, ok := w.stats(now)
	if !ok || mean != 136500*time.Microsecond || p99 != 199*time.Millisecond {
		t.Fatalf("mean %v p99 %v", mean, p99)
	}
	if sd < 36*time.Millisecond || sd > 38*time.Millisecond { // uniform over 128ms: 128/√12 ≈ 36.9ms
		t.Fatalf("sd %v", sd)
	}
}

// TestNearestRankAgainstNaive checks NearestRank against its definition
// (the smallest value that at least a share p of the values do not
// exceed) on seeded random input.
func TestNearestRankAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 1))
	for trial := 0; trial < 500; trial++ {
		xs := make([]int, 1+r.IntN(60))
		for i := range xs {
			xs[i] = r.IntN(40)
		}
		slices.Sort(xs)
		p := []float64{0.5, 0.9, 0.99, 0.999, 1, r.Float64()}[trial%6]
		var naive int
		for _, c := range xs {
			atMost := 0
			for _, x := range xs {
				if x <= c {
					atMost++
				}
			}
			if float64(atMost) >= p*float64(len(xs))-1e-9 {
				naive = c
				break
			}
		}
		if got := NearestRank(xs, p); got != naive {
			t.Fatalf("p%v of %v: %d, want %d", p, xs, got, naive)
		}
	}
	if NearestRank([]float64(nil), 0.99) != 0 {
		t.Fatal("no values gave a value")
	}
}

// TestSummarizeP99AgainstSorting checks Summarize's p99, which sorts only
// when many values rank above it, against the nearest rank of the sorted
// values, on seeded random windows of every size up to past the switch.
func TestSummarizeP99AgainstSorting(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 2))
	for n := 1; n <= 520; n++ {
		for trial := 0; trial < 4; trial++ {
			xs := make([]time.Duration, n)
			for i := range xs {
				xs[i] = time.Duration(r.IntN(1 + 40*trial)) // trial 0: all equal; later: ties and spread
			}
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			want := NearestRank(sorted, 0.99)
			if _, _, got := Summarize(slices.Clone(xs)); got != want {
				t.Fatalf("n=%d trial %d: p99 %v, want %v", n, trial, got, want)
			}
			for _, p := range []float64{0.5, 0.999, 1, r.Float64()} {
				if got := nearestRankUnsorted(slices.Clone(xs), p); got != NearestRank(sorted, p) {
					t.Fatalf("n=%d p=%v: %v, want %v", n, p, got, NearestRank(sorted, p))
				}
			}
		}
	}
}
