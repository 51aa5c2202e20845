package refcluster

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// EtcdSummary is one strategy on one scenario over its seeds.
type EtcdSummary struct {
	Scenario             string  `json:"scenario"`
	Strategy             string  `json:"strategy"`
	Runs                 int     `json:"runs"`
	UnavailabilityMS     float64 `json:"unavailability_ms_sum"`
	UnavailabilityMinMS  float64 `json:"unavailability_ms_min"`
	UnavailabilityMaxMS  float64 `json:"unavailability_ms_max"`
	Elections            int     `json:"elections"`
	UnnecessaryElections int     `json:"unnecessary_elections"`
	Handoffs             int     `json:"handoffs"`
	Linearizable         bool    `json:"all_linearizable"`
}

// SummarizeEtcd sums each scenario and strategy over its seeds (failed
// runs are left out and reported on their own), in the order first seen.
func SummarizeEtcd(runs []EtcdRun) []*EtcdSummary {
	var out []*EtcdSummary
	idx := map[[2]string]*EtcdSummary{}
	for _, r := range runs {
		if r.Error != "" {
			continue
		}
		k := [2]string{r.Scenario, r.Strategy}
		s := idx[k]
		if s == nil {
			s = &EtcdSummary{Scenario: r.Scenario, Strategy: r.Strategy, Linearizable: true, UnavailabilityMinMS: math.Inf(1)}
			idx[k] = s
			out = append(out, s)
		}
		s.Runs++
		s.UnavailabilityMS += r.UnavailabilityMS
		s.UnavailabilityMinMS = math.Min(s.UnavailabilityMinMS, r.UnavailabilityMS)
		s.UnavailabilityMaxMS = math.Max(s.UnavailabilityMaxMS, r.UnavailabilityMS)
		s.Elections += r.Elections
		s.UnnecessaryElections += r.UnnecessaryElections
		s.Handoffs += len(r.Handoffs)
		s.Linearizable = s.Linearizable && r.Linearizable == string(Linearizable)
	}
	return out
}

// WriteEtcdReport writes the runs as Markdown: one row per scenario,
// strategy and seed, the totals per strategy, and how the advice fared
// against etcd's defaults scenario by scenario.
func WriteEtcdReport(w io.Writer, runs []EtcdRun, strategies []EtcdStrategy) {
	ran := map[string]bool{}
	for _, r := range runs {
		ran[r.Strategy] = true
	}
	if len(strategies) > 0 {
		fmt.Fprintln(w, "| strategy | flags |")
		fmt.Fprintln(w, "|---|---|")
		for _, st := range strategies {
			if ran[st.Name] {
				fmt.Fprintf(w, "| %s | %s |\n", st.Name, st.Why)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| scenario | strategy | seed | flags in force | unavailability | longest | elections | unnecessary | hand-offs | write p99 | writes/s | linearizable |")
	fmt.Fprintln(w, "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range runs {
		if r.Error != "" {
			continue
		}
		lin := "yes"
		if r.Linearizable != string(Linearizable) {
			lin = "**NO** (" + r.Linearizable + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %.0f ms | %.0f ms | %d | %d | %d | %.1f ms | %.0f | %s |\n",
			r.Scenario, r.Strategy, r.Seed, strings.TrimPrefix(r.Flags, "--"), r.UnavailabilityMS, r.LongestMS, r.Elections,
			r.UnnecessaryElections, len(r.Handoffs), r.WriteMSP99, r.WritesPerSec, lin)
	}
	sums := SummarizeEtcd(runs)
	tot := map[string]*EtcdSummary{}
	var order []string
	for _, s := range sums {
		t := tot[s.Strategy]
		if t == nil {
			t = &EtcdSummary{Strategy: s.Strategy, Linearizable: true}
			tot[s.Strategy] = t
			order = append(order, s.Strategy)
		}
		t.Runs += s.Runs
		t.UnavailabilityMS += s.UnavailabilityMS
		t.Elections += s.Elections
		t.UnnecessaryElections += s.UnnecessaryElections
		t.Handoffs += s.Handoffs
		t.Linearizable = t.Linearizable && s.Linearizable
	}
	fmt.Fprintln(w, "\n| strategy | runs | unavailability, summed | elections | unnecessary | hand-offs | all linearizable |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|")
	for _, n := range order {
		t := tot[n]
		lin := "yes"
		if !t.Linearizable {
			lin = "**NO**"
		}
		fmt.Fprintf(w, "| %s | %d | %.1f s | %d | %d | %d | %s |\n", n, t.Runs, t.UnavailabilityMS/1000, t.Elections, t.UnnecessaryElections, t.Handoffs, lin)
	}
	// The advice against the defaults, scenario by scenario.
	by := map[[2]string]*EtcdSummary{}
	var scenarios []string
	for _, s := range sums {
		by[[2]string{s.Scenario, s.Strategy}] = s
		if len(scenarios) == 0 || scenarios[len(scenarios)-1] != s.Scenario {
			scenarios = append(scenarios, s.Scenario)
		}
	}
	var cmp []string
	for _, sc := range scenarios {
		d := by[[2]string{sc, "etcd-default"}]
		for _, n := range []string{"advice", "advice+handoff"} {
			a := by[[2]string{sc, n}]
			if d == nil || a == nil {
				continue
			}
			cmp = append(cmp, fmt.Sprintf("| %s | %s | %.0f ms | %.0f ms | %s | %d | %d | %s |", sc, n, a.UnavailabilityMS, d.UnavailabilityMS,
				verdict(a.UnavailabilityMS, d.UnavailabilityMS), a.UnnecessaryElections, d.UnnecessaryElections,
				verdict(float64(a.UnnecessaryElections), float64(d.UnnecessaryElections))))
		}
	}
	if len(cmp) > 0 {
		fmt.Fprintln(w, "\n| scenario | strategy | unavailability | etcd-default's | | unnecessary elections | etcd-default's | |")
		fmt.Fprintln(w, "|---|---|---:|---:|---|---:|---:|---|")
		for _, l := range cmp {
			fmt.Fprintln(w, l)
		}
	}
	var notes []string
	seen := map[string]bool{}
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(w, "\nrun failed, not counted: %s / %s / seed %d: %s\n", r.Scenario, r.Strategy, r.Seed, r.Error)
		}
		for _, n := range r.NotInjected {
			if !seen[n] {
				seen[n] = true
				notes = append(notes, n)
			}
		}
	}
	if len(notes) > 0 {
		sort.Strings(notes)
		fmt.Fprintln(w, "\nnot injected, or only approximately:")
		for _, n := range notes {
			fmt.Fprintln(w, "  - "+n)
		}
	}
}

func verdict(a, b float64) string {
	switch {
	case a < b:
		return "less"
	case a > b:
		return "more"
	}
	return "same"
}
