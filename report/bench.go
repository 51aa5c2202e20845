package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/nsraft/nsraft/sim"
)

// ratio renders x/base; a zero base is 1.00 for a zero x, else ∞.
func ratio(x, base float64) string {
	if base == 0 {
		if x == 0 {
			return "1.00"
		}
		return "  ∞"
	}
	return fmt.Sprintf("%.2f", x/base)
}

func gap(g *float64) string {
	if g == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100**g)
}

// WriteBench writes the simulated bench's table: one line per scenario and
// strategy with its ratio to random and the gap it closes to the oracle,
// then the totals per strategy in the order of names. polName says which
// policy the adaptive strategies ran through.
func WriteBench(w io.Writer, rows []sim.Row, names []string, seeds []uint64, polName string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "seeds %d…%d; times in ms; ×random = ratio of unavailability to random's; gap = (random − X)/(random − oracle)\n", seeds[0], seeds[len(seeds)-1])
	fmt.Fprintf(w, "X = through %s, X-raw = the recommender's own proposal; static and random run as they are\n\n", polName)
	fmt.Fprintln(tw, "scenario\trecommender\tunavail\t×random\tgap\telections\tunneeded\tdetect p50\tdetect p99\tcommit mean\tcommit p99\tp99.9\tmax\t")
	base := map[string]float64{}
	for _, r := range rows {
		if r.Recommender == "random" {
			base[r.Scenario] = r.UnavailabilityMS
		}
	}
	for _, r := range rows {
		name := r.Recommender
		if r.ChosenTimeoutMS > 0 {
			name = fmt.Sprintf("%s (%gms)", name, r.ChosenTimeoutMS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%.0f\t\n", r.Scenario, name, r.UnavailabilityMS, ratio(r.UnavailabilityMS, base[r.Scenario]),
			gap(r.GapClosed), r.Elections, r.UnnecessaryElections, r.DetectionMSP50, r.DetectionMSP99, r.CommitMSMean, r.CommitMSP99, r.CommitMSP999, r.CommitMSMax)
	}
	randomTotal := sim.Total(rows, "random")
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t\t\t")
	for _, t := range sim.Totals(rows, names) {
		fmt.Fprintf(tw, "TOTAL\t%s\t%.0f\t%s\t%s\t%d\t%d\t%.0f\t\t%.1f\t\t\t%.0f\t\n", t.Recommender, t.UnavailabilityMS, ratio(t.UnavailabilityMS, randomTotal.UnavailabilityMS),
			gap(t.GapClosed), t.Elections, t.UnnecessaryElections, t.DetectionMSP50, t.CommitMSMean, t.CommitMSMax)
	}
	tw.Flush()
	writePaired(w, rows, names, "lstm")
}

// writePaired prints ref's total against every other strategy's, seed by
// seed: the mean difference per seed and its 95% interval, and whether the
// interval excludes zero.
func writePaired(w io.Writer, rows []sim.Row, names []string, ref string) {
	if !slices.Contains(names, ref) {
		return
	}
	r := sim.Total(rows, ref)
	if len(r.PerSeedMS) < 2 {
		return
	}
	fmt.Fprintf(w, "\n%s against each strategy, run by run (same seed: same faults and clients, paired network and timer draws), TOTAL per seed in ms:\n", ref)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "strategy\t%s − strategy\t95%% interval\t\t\n", ref)
	for _, n := range names {
		if n == ref {
			continue
		}
		mean, half, ok := sim.Paired(r, sim.Total(rows, n))
		if !ok {
			continue
		}
		verdict := "not resolved"
		switch {
		case mean+half < 0:
			verdict = ref + " lower"
		case mean-half > 0:
			verdict = ref + " higher"
		}
		fmt.Fprintf(tw, "%s\t%+.0f\t±%.0f\t%s\t\n", n, mean, half, verdict)
	}
	tw.Flush()
}

// WriteRun writes one simulated run's figures, as `ns-agent sim` prints
// them.
func WriteRun(w io.Writer, sc *sim.Scenario, r sim.Row, seed uint64, wall time.Duration) {
	host := sc.Host
	if host == "" {
		host = sim.HostGeneric
	}
	fmt.Fprintf(w, "scenario %s (%d nodes, %s simulated, %s host), %s, seed %d, %s wall\n", sc.Name, sc.Nodes, sc.Duration, host, r.Recommender, seed, wall.Round(time.Millisecond))
	if r.ChosenTimeoutMS > 0 {
		fmt.Fprintf(w, "  best fixed timeout    %gms\n", r.ChosenTimeoutMS)
	}
	fmt.Fprintf(w, "  unavailability        %.0f ms\n", r.UnavailabilityMS)
	fmt.Fprintf(w, "  elections             %d (%d unnecessary)\n", r.Elections, r.UnnecessaryElections)
	fmt.Fprintf(w, "  detection p50 / p99   %.0f / %.0f ms\n", r.DetectionMSP50, r.DetectionMSP99)
	fmt.Fprintf(w, "  commit mean / p99     %.1f / %.0f ms (p99.9 %.0f, max %.0f)\n", r.CommitMSMean, r.CommitMSP99, r.CommitMSP999, r.CommitMSMax)
	if sim.ThroughPolicy(r.Recommender) {
		fmt.Fprintln(w, "  (through the default policy; -recommender "+r.Recommender+"-raw shows the recommender's own proposal)")
	}
}

// PlotBench saves the unavailability chart of a bench and the timeline of
// one run of the first scenario per recommender-driven strategy.
func PlotBench(dir string, first *sim.Scenario, rows []sim.Row, strategies []sim.Strategy, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var names []string
	for _, st := range strategies {
		names = append(names, st.Name)
	}
	if err := sim.PlotUnavailability(rows, names, filepath.Join(dir, "unavailability.png")); err != nil {
		return err
	}
	for _, st := range strategies {
		if st.NewRecommender == nil && !st.Oracle {
			continue
		}
		o := st.Options(seed)
		o.Timeline = true
		r := sim.Run(first, o)
		path := filepath.Join(dir, fmt.Sprintf("timeline-%s-%s.png", first.Name, st.Name))
		if err := sim.PlotTimeline(r, first.Nodes, path); err != nil {
			return err
		}
	}
	return nil
}
