package sim

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

// Strategy is one way of choosing timeouts in a bench: a recommender
// (optionally bounded by a governor), the oracle, or a sweep of fixed
// timeouts of which the best in hindsight is reported (best-static).
type Strategy struct {
	Name string
	// NewRecommender builds node's recommender for a run with seed.
	NewRecommender func(node string, seed uint64) model.Recommender
	// NewGovernor, when set, bounds the recommender's proposals.
	NewGovernor func(node string) Governor
	Oracle      bool
	Ceiling     bool // the oracle with a real lease and heartbeat (Options.Ceiling)
	// Sweep lists fixed timeouts; the bench runs each on every seed and
	// keeps the one with the least total unavailability per scenario.
	Sweep []time.Duration
}

// Options are the run options of strategy st on seed: the oracle or
// ceiling, or each node's recommender built for that seed with its
// governor. A sweep's fixed timeout is the caller's to set.
func (st Strategy) Options(seed uint64) Options {
	o := Options{Seed: seed, Oracle: st.Oracle, Ceiling: st.Ceiling, NewGovernor: st.NewGovernor}
	if st.NewRecommender != nil {
		o.NewRecommender = func(node string) model.Recommender { return st.NewRecommender(node, seed) }
	}
	return o
}

// BestStaticSweep is the grid best-static searches: log-spaced from 50ms
// to 3s, the range any operator would consider.
func BestStaticSweep() []time.Duration {
	var out []time.Duration
	for _, ms := range []int{50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000} {
		out = append(out, time.Duration(ms)*time.Millisecond)
	}
	return out
}

// Row is one (scenario, strategy) cell of a bench: counts and times summed
// over seeds, means and percentiles over the pooled samples of all seeds.
type Row struct {
	Scenario             string  `json:"scenario"`
	Recommender          string  `json:"recommender"`
	UnavailabilityMS     float64 `json:"unavailability_ms"`
	Elections            int     `json:"elections"`
	UnnecessaryElections int     `json:"unnecessary_elections"`
	DetectionMSP50       float64 `json:"detection_ms_p50"`
	DetectionMSP99       float64 `json:"detection_ms_p99"`
	CommitMSMean         float64 `json:"commit_ms_mean"`
	CommitMSP99          float64 `json:"commit_ms_p99"`
	CommitMSP999         float64 `json:"commit_ms_p999"`
	CommitMSMax          float64 `json:"commit_ms_max"`
	// GapClosed is (random − X) / (random − oracle) on unavailability:
	// the share of what clairvoyance wins over random that X wins. Set
	// only when the bench ran both references and they differ.
	GapClosed *float64 `json:"gap_closed,omitempty"`
	// ChosenTimeoutMS is best-static's pick for the scenario.
	ChosenTimeoutMS float64 `json:"chosen_timeout_ms,omitempty"`
	// PerSeedMS is the unavailability of each seed's run, in seed order:
	// what a paired comparison of two strategies needs (Paired).
	PerSeedMS []float64 `json:"unavailability_ms_per_seed,omitempty"`

	detections, commits []float64
}

type job struct {
	sc    int
	st    int
	seed  uint64
	fixed time.Duration
	slot  int // index of the sweep value, or 0
}

// Bench runs every strategy on every scenario and seed, in parallel on
// workers goroutines (0: GOMAXPROCS), and returns rows in scenario-major,
// strategy order. Results do not depend on scheduling.
func Bench(scs []*Scenario, strategies []Strategy, seeds []uint64, workers int) []Row {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var jobs []job
	for si := range scs {
		for ti, st := range strategies {
			for _, seed := range seeds {
				if len(st.Sweep) > 0 {
					for k, t := range st.Sweep {
						jobs = append(jobs, job{sc: si, st: ti, seed: seed, fixed: t, slot: k})
					}
				} else {
					jobs = append(jobs, job{sc: si, st: ti, seed: seed})
				}
			}
		}
	}
	results := make([]Metrics, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				o := strategies[j.st].Options(j.seed)
				o.FixedTimeout = j.fixed
				results[i] = Run(scs[j.sc], o).Metrics
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()

	var rows []Row
	for si, sc := range scs {
		for ti, st := range strategies {
			slots := max(1, len(st.Sweep))
			cand := make([]Row, slots)
			for k := range cand {
				cand[k] = Row{Scenario: sc.Name, Recommender: st.Name}
				if len(st.Sweep) > 0 {
					cand[k].ChosenTimeoutMS = ms(st.Sweep[k])
				}
			}
			for i, j := range jobs {
				if j.sc == si && j.st == ti {
					cand[j.slot].add(results[i])
				}
			}
			best := 0
			for k := range cand {
				if cand[k].UnavailabilityMS < cand[best].UnavailabilityMS ||
					(cand[k].UnavailabilityMS == cand[best].UnavailabilityMS && cand[k].Elections < cand[best].Elections) {
					best = k
				}
			}
			r := cand[best]
			r.finish()
			rows = append(rows, r)
		}
	}
	setGapClosed(rows)
	return rows
}

// setGapClosed fills GapClosed of every row whose scenario has both a
// random and an oracle row with different unavailability.
func setGapClosed(rows []Row) {
	type refs struct{ random, oracle *float64 }
	by := map[string]*refs{}
	for i := range rows {
		r := &rows[i]
		if by[r.Scenario] == nil {
			by[r.Scenario] = &refs{}
		}
		switch r.Recommender {
		case "random":
			by[r.Scenario].random = &r.UnavailabilityMS
		case "oracle":
			by[r.Scenario].oracle = &r.UnavailabilityMS
		}
	}
	for i := range rows {
		ref := by[rows[i].Scenario]
		rows[i].GapClosed = gapClosed(rows[i].UnavailabilityMS, ref.random, ref.oracle)
	}
}

func gapClosed(x float64, random, oracle *float64) *float64 {
	if random == nil || oracle == nil || *random == *oracle {
		return nil
	}
	g := round3((*random - x) / (*random - *oracle))
	return &g
}

func (r *Row) add(m Metrics) {
	r.UnavailabilityMS += m.UnavailableMS
	r.PerSeedMS = append(r.PerSeedMS, round3(m.UnavailableMS))
	r.Elections += m.Elections
	r.UnnecessaryElections += m.UnnecessaryElections
	r.detections = append(r.detections, m.Detections...)
	r.commits = append(r.commits, m.Commits...)
}

// finish computes the pooled figures. Every percentile is a nearest rank
// of the same sorted samples and the maximum is their last, so
// p50 ≤ p99 ≤ p99.9 ≤ max and mean ≤ max hold by construction.
func (r *Row) finish() {
	r.UnavailabilityMS = round3(r.UnavailabilityMS)
	slices.Sort(r.detections)
	slices.Sort(r.commits)
	r.DetectionMSP50 = round3(collector.NearestRank(r.detections, 0.50))
	r.DetectionMSP99 = round3(collector.NearestRank(r.detections, 0.99))
	r.CommitMSP99 = round3(collector.NearestRank(r.commits, 0.99))
	r.CommitMSP999 = round3(collector.NearestRank(r.commits, 0.999))
	r.CommitMSMax = round3(collector.NearestRank(r.commits, 1))
	if len(r.commits) > 0 {
		var s float64
		for _, c := range r.commits {
			s += c
		}
		r.CommitMSMean = round3(min(s/float64(len(r.commits)), r.commits[len(r.commits)-1]))
	}
}

// round3 keeps JSON output short and free of float noise.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// percentile is the nearest-rank percentile; 0 for no samples.
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return collector.NearestRank(s, p)
}

// Totals returns one Total row per strategy, in names' order, with the
// gap closed on the summed unavailability when random and oracle are
// among the rows.
func Totals(rows []Row, names []string) []Row {
	var out []Row
	for _, n := range names {
		out = append(out, Total(rows, n))
	}
	random, oracle := Total(rows, "random"), Total(rows, "oracle")
	var rp, op *float64
	if slices.ContainsFunc(rows, func(r Row) bool { return r.Recommender == "random" }) {
		rp = &random.UnavailabilityMS
	}
	if slices.ContainsFunc(rows, func(r Row) bool { return r.Recommender == "oracle" }) {
		op = &oracle.UnavailabilityMS
	}
	for i := range out {
		out[i].GapClosed = gapClosed(out[i].UnavailabilityMS, rp, op)
	}
	return out
}

// Total sums a strategy's rows over scenarios into one row (pooled
// percentiles are not recomputed: the means of the rows are used; the
// maximum is the rows' largest).
func Total(rows []Row, strategy string) Row {
	t := Row{Scenario: "TOTAL", Recommender: strategy}
	var n float64
	for _, r := range rows {
		if r.Recommender != strategy {
			continue
		}
		t.UnavailabilityMS += r.UnavailabilityMS
		if t.PerSeedMS == nil {
			t.PerSeedMS = make([]float64, len(r.PerSeedMS))
		}
		for i := range min(len(t.PerSeedMS), len(r.PerSeedMS)) {
			t.PerSeedMS[i] += r.PerSeedMS[i]
		}
		t.Elections += r.Elections
		t.UnnecessaryElections += r.UnnecessaryElections
		t.CommitMSMean += r.CommitMSMean
		t.DetectionMSP50 += r.DetectionMSP50
		t.CommitMSMax = max(t.CommitMSMax, r.CommitMSMax)
		n++
	}
	if n > 0 {
		t.CommitMSMean = round3(t.CommitMSMean / n)
		t.DetectionMSP50 = round3(t.DetectionMSP50 / n)
	}
	t.UnavailabilityMS = round3(t.UnavailabilityMS)
	for i := range t.PerSeedMS {
		t.PerSeedMS[i] = round3(t.PerSeedMS[i])
	}
	return t
}

// Paired compares two rows of the same scenarios and seeds run by run:
// the mean over seeds of a's unavailability less b's, and the half-width
// of its 95% confidence interval (Student's t on the per-seed
// differences). Each seed's faults and clients are the same for both and
// their network and timer draws are paired (fates), so the differences
// are free of most of the seed-to-seed spread that comparing two totals
// carries. ok is false with fewer than two seeds or rows of different
// seeds.
func Paired(a, b Row) (mean, half float64, ok bool) {
	n := len(a.PerSeedMS)
	if n < 2 || len(b.PerSeedMS) != n {
		return 0, 0, false
	}
	var s, ss float64
	for i := range n {
		d := a.PerSeedMS[i] - b.PerSeedMS[i]
		s += d
		ss += d * d
	}
	mean = s / float64(n)
	v := max(0, (ss-s*mean)/float64(n-1))
	return mean, tQuantile975(n-1) * math.Sqrt(v/float64(n)), true
}

// tQuantile975 is Student's t 0.975 quantile for df degrees of freedom:
// exact to three decimals up to 30; from 31 to 120 the value at the start
// of each band (30, 40, 60), so an interval there is never narrower than
// the exact one; beyond 120 the normal's 1.960.
func tQuantile975(df int) float64 {
	table := []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	switch {
	case df < 1:
		return math.Inf(1)
	case df <= len(table):
		return table[df-1]
	case df <= 40:
		return table[len(table)-1]
	case df <= 60:
		return 2.021
	case df <= 120:
		return 2.000
	}
	return 1.960
}

// RatiosToRandom runs random and the named recommenders as live agents
// run them (AgentStrategy: all through pol) on every scenario and seed
// under host,
// and returns each strategy's summed unavailability over random's, by
// scenario and strategy name. A scenario where random was never
// unavailable has no ratios.
func RatiosToRandom(scs []*Scenario, names []string, pol *policy.Policy, seeds []uint64, host HostKind) (map[string]map[string]float64, error) {
	want := []string{"random"}
	for _, n := range names {
		if !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	var strategies []Strategy
	for _, n := range want {
		st, err := AgentStrategy(n, pol)
		if err != nil {
			return nil, err
		}
		strategies = append(strategies, st)
	}
	base := map[string]float64{}
	rows := Bench(WithHost(scs, host), strategies, seeds, 0)
	for _, r := range rows {
		if r.Recommender == "random" {
			base[r.Scenario] = r.UnavailabilityMS
		}
	}
	out := map[string]map[string]float64{}
	for _, r := range rows {
		if base[r.Scenario] <= 0 {
			continue
		}
		if out[r.Scenario] == nil {
			out[r.Scenario] = map[string]float64{}
		}
		out[r.Scenario][r.Recommender] = r.UnavailabilityMS / base[r.Scenario]
	}
	return out, nil
}
