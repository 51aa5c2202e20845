package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nsraft/nsraft/policy"
	"github.com/nsraft/nsraft/refcluster"
	"github.com/nsraft/nsraft/sim"
)

// LiveSummary aggregates one strategy on one scenario over its seeds.
type LiveSummary struct {
	Scenario             string  `json:"scenario"`
	Strategy             string  `json:"strategy"`
	Runs                 int     `json:"runs"`
	UnavailabilityMS     float64 `json:"unavailability_ms_mean"`
	UnavailabilityMinMS  float64 `json:"unavailability_ms_min"`
	UnavailabilityMaxMS  float64 `json:"unavailability_ms_max"`
	LongestMS            float64 `json:"longest_unavailability_ms_max"`
	Elections            int     `json:"elections"`
	UnnecessaryElections int     `json:"unnecessary_elections"`
	WriteMSP50           float64 `json:"write_ms_p50_mean"`
	WriteMSP99           float64 `json:"write_ms_p99_mean"`
	WriteMSP999          float64 `json:"write_ms_p999_mean"`
	WritesPerSec         float64 `json:"writes_per_s_mean"`
	Linearizable         bool    `json:"all_linearizable"`
	LiveRatio            float64 `json:"live_ratio_to_random,omitempty"`
	SimRatio             float64 `json:"sim_ratio_to_random,omitempty"`
}

// LiveHeader describes a live bench for the table's first line.
type LiveHeader struct {
	Nodes    int
	Duration time.Duration // of each run
	Seeds    int
	SeedBase uint64
	Took     time.Duration // wall time of the whole bench
}

// Summarize aggregates runs per scenario and strategy, in the order they
// first appear, with each one's ratio to random's mean unavailability on
// the same scenario. Failed runs are left out (Failures reports them).
func Summarize(runs []refcluster.LiveRun) []*LiveSummary {
	var out []*LiveSummary
	idx := map[[2]string]*LiveSummary{}
	for _, r := range runs {
		if r.Error != "" {
			continue // reported on its own
		}
		k := [2]string{r.Scenario, r.Strategy}
		s := idx[k]
		if s == nil {
			s = &LiveSummary{Scenario: r.Scenario, Strategy: r.Strategy, Linearizable: true, UnavailabilityMinMS: math.Inf(1)}
			idx[k] = s
			out = append(out, s)
		}
		s.Runs++
		s.UnavailabilityMS += r.UnavailabilityMS
		s.UnavailabilityMinMS = math.Min(s.UnavailabilityMinMS, r.UnavailabilityMS)
		s.UnavailabilityMaxMS = math.Max(s.UnavailabilityMaxMS, r.UnavailabilityMS)
		s.LongestMS = math.Max(s.LongestMS, r.LongestMS)
		s.Elections += r.Elections
		s.UnnecessaryElections += r.UnnecessaryElections
		s.WriteMSP50 += r.WriteMSP50
		s.WriteMSP99 += r.WriteMSP99
		s.WriteMSP999 += r.WriteMSP999
		s.WritesPerSec += r.WritesPerSec
		s.Linearizable = s.Linearizable && r.Linearizable == string(refcluster.Linearizable)
	}
	for _, s := range out {
		n := float64(s.Runs)
		s.UnavailabilityMS /= n
		s.WriteMSP50 /= n
		s.WriteMSP99 /= n
		s.WriteMSP999 /= n
		s.WritesPerSec /= n
	}
	for _, s := range out {
		if r := idx[[2]string{s.Scenario, "random"}]; r != nil && r.UnavailabilityMS > 0 {
			s.LiveRatio = s.UnavailabilityMS / r.UnavailabilityMS
		}
	}
	return out
}

// TwinSeeds is how many simulated runs AddSimRatios makes of each
// scenario and strategy: a 20s twin is as noisy as the live run it
// mirrors, so the simulator's side averages many more of them.
const TwinSeeds = 30

// AddSimRatios puts the simulator's ratio to random beside each live one,
// for the strategies both have: live runs every recommender, random
// included, through the agent's policy, and so does the simulator here
// (sim.AgentStrategy).
// host-default and hand-tuned have no counterpart: their nodes run their
// own timing and lease, which the simulator's static does not share.
//
// The simulator runs each scenario's live twin (refcluster.LiveTwin: the
// same cluster size and compression to the run length, the agents' compressed election window, less what
// toxiproxy cannot inject) under the hashicorp host model, at the write
// rate the live runs of those strategies reached, on TwinSeeds seeds from
// the live runs' first. The write rate matters under hashicorp/raft's short
// lease: the replication answers between heartbeats decide whether a
// leader keeps its lease, so a simulated client slower than the live one
// makes leaders step down that live do not.
func AddSimRatios(sums []*LiveSummary, scs []*sim.Scenario, h LiveHeader) {
	var names []string
	for _, s := range sums {
		if _, err := sim.AgentStrategy(s.Strategy, nil); err == nil && !slices.Contains(names, s.Strategy) {
			names = append(names, s.Strategy)
		}
	}
	rate, runs := map[string]float64{}, map[string]float64{}
	for _, s := range sums {
		if slices.Contains(names, s.Strategy) && s.WritesPerSec > 0 {
			rate[s.Scenario] += s.WritesPerSec
			runs[s.Scenario]++
		}
	}
	at := make([]*sim.Scenario, len(scs))
	for i, sc := range scs {
		sized := *sc
		if h.Nodes > 0 {
			sized.Nodes = h.Nodes
		}
		at[i] = refcluster.LiveTwin(&sized, h.Duration)
		if runs[sc.Name] > 0 {
			at[i].ClientRate = rate[sc.Name] / runs[sc.Name]
		}
	}
	twin := make([]uint64, TwinSeeds)
	for i := range twin {
		twin[i] = h.SeedBase + uint64(i)
	}
	ratios, err := sim.RatiosToRandom(at, names, policy.Default(), twin, sim.HostHashicorp)
	if err != nil {
		return
	}
	for _, s := range sums {
		s.SimRatio = ratios[s.Scenario][s.Strategy]
	}
}

// WriteLive writes the live bench's Markdown report: one row per scenario
// and strategy, the totals per strategy with the paired comparison to
// random, failed runs and the faults toxiproxy could not inject.
func WriteLive(w io.Writer, sums []*LiveSummary, runs []refcluster.LiveRun, h LiveHeader) {
	fmt.Fprintf(w, "live benchmark: %d-node hashicorp/raft clusters, %s per run (scenarios compressed), %d seed(s) from %d, %d runs in %s\n\n",
		h.Nodes, h.Duration, h.Seeds, h.SeedBase, len(runs), h.Took.Round(time.Second))
	fmt.Fprint(w, "Every recommender runs in an agent beside each node, through the default policy (the simulator's X, not X-raw); host-default and hand-tuned are the nodes' own timing. ")
	fmt.Fprintf(w, "The sim twin column is the simulator's ratio on each run's twin: the same compressed scenario less what toxiproxy cannot inject, the agents' election window, the live write rate, the hashicorp host model, %d seeds.\n\n", TwinSeeds)
	fmt.Fprintln(w, "| scenario | strategy | unavailability (mean, min–max) | longest | elections | unnecessary | write p50 / p99 / p99.9 | writes/s | linearizable | ×random live | ×random sim twin |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
	ratio := func(v float64) string {
		if v == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", v)
	}
	for _, s := range sums {
		lin := "yes"
		if !s.Linearizable {
			lin = "**NO**"
		}
		fmt.Fprintf(w, "| %s | %s | %.0f ms (%.0f–%.0f) | %.0f ms | %d | %d | %.1f / %.1f / %.1f ms | %.0f | %s | %s | %s |\n",
			s.Scenario, s.Strategy, s.UnavailabilityMS, s.UnavailabilityMinMS, s.UnavailabilityMaxMS, s.LongestMS, s.Elections,
			s.UnnecessaryElections, s.WriteMSP50, s.WriteMSP99, s.WriteMSP999, s.WritesPerSec, lin, ratio(s.LiveRatio), ratio(s.SimRatio))
	}
	tot := map[string]*LiveSummary{}
	var order []string
	for _, s := range sums {
		t := tot[s.Strategy]
		if t == nil {
			t = &LiveSummary{Strategy: s.Strategy}
			tot[s.Strategy] = t
			order = append(order, s.Strategy)
		}
		t.UnavailabilityMS += s.UnavailabilityMS
		t.Elections += s.Elections
		t.UnnecessaryElections += s.UnnecessaryElections
	}
	sort.SliceStable(order, func(i, j int) bool { return tot[order[i]].UnavailabilityMS < tot[order[j]].UnavailabilityMS })
	paired := PairedVsRandom(runs)
	fmt.Fprintln(w, "\n| strategy | unavailability, sum of means | elections | unnecessary | runs below / above / equal to random's (same scenario and seed) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, n := range order {
		t, p := tot[n], paired[n]
		vs := "–"
		if n != "random" && p[0]+p[1]+p[2] > 0 {
			vs = fmt.Sprintf("%d / %d / %d", p[0], p[1], p[2])
		}
		fmt.Fprintf(w, "| %s | %.1f s | %d | %d | %s |\n", n, t.UnavailabilityMS/1000, t.Elections, t.UnnecessaryElections, vs)
	}
	var notes []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, n := range r.NotInjected {
			if !seen[n] {
				seen[n] = true
				notes = append(notes, n)
			}
		}
	}
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(w, "\nrun failed, not counted: %s / %s / seed %d: %s\n", r.Scenario, r.Strategy, r.Seed, r.Error)
		}
	}
	var leases []string
	for _, r := range runs {
		l := fmt.Sprintf("%s %gms", r.Scenario, r.LeaseMS)
		if r.Strategy == "lstm" && r.LeaseMS > 0 && !slices.Contains(leases, l) {
			leases = append(leases, l)
		}
	}
	if len(leases) > 0 {
		fmt.Fprintf(w, "\nagent-steered nodes' LeaderLeaseTimeout (the lease the agent recommends for the network, refcluster.AgentTiming): %s\n", strings.Join(leases, ", "))
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nnot injected (toxiproxy works on TCP streams):")
		for _, n := range notes {
			fmt.Fprintln(w, "  - "+n)
		}
	}
}

// PairedVsRandom compares each run with random's run of the same scenario
// and seed (the same fault schedule): per strategy, how many had less,
// more and the same write unavailability. Pairs cancel most of the
// seed-to-seed spread that the per-scenario min–max shows.
func PairedVsRandom(runs []refcluster.LiveRun) map[string][3]int {
	type key struct {
		scenario string
		seed     uint64
	}
	base := map[key]float64{}
	for _, r := range runs {
		if r.Strategy == "random" && r.Error == "" {
			base[key{r.Scenario, r.Seed}] = r.UnavailabilityMS
		}
	}
	out := map[string][3]int{}
	for _, r := range runs {
		b, ok := base[key{r.Scenario, r.Seed}]
		if !ok || r.Error != "" || r.Strategy == "random" {
			continue
		}
		c := out[r.Strategy]
		switch {
		case r.UnavailabilityMS < b:
			c[0]++
		case r.UnavailabilityMS > b:
			c[1]++
		default:
			c[2]++
		}
		out[r.Strategy] = c
	}
	return out
}

// Failures lists the runs that count against the bench: those that could
// not be made and those whose history is not linearizable.
func Failures(runs []refcluster.LiveRun) []string {
	var out []string
	for _, r := range runs {
		switch {
		case r.Error != "":
			out = append(out, fmt.Sprintf("%s/%s seed %d: %s", r.Scenario, r.Strategy, r.Seed, r.Error))
		case r.Linearizable != string(refcluster.Linearizable):
			out = append(out, fmt.Sprintf("%s/%s seed %d: history %s", r.Scenario, r.Strategy, r.Seed, r.Linearizable))
		}
	}
	return out
}

// WriteLiveJSON writes the runs and their summaries as one JSON object
// {"runs": […], "summary": […]}; indent "" writes one line.
func WriteLiveJSON(w io.Writer, sums []*LiveSummary, runs []refcluster.LiveRun, indent string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", indent)
	return enc.Encode(map[string]any{"runs": runs, "summary": sums})
}

// SaveLive fills a results directory: the charts (PlotLive), the Markdown
// table (live.md) and the JSON (live.json).
func SaveLive(dir string, sums []*LiveSummary, runs []refcluster.LiveRun, h LiveHeader) error {
	if err := PlotLive(dir, sums, runs); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	var md, js strings.Builder
	WriteLive(&md, sums, runs, h)
	if err := WriteLiveJSON(&js, sums, runs, "  "); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "live.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "live.json"), []byte(js.String()), 0o644)
}

// PlotLive writes the live bench's charts into dir: unavailability and
// unnecessary elections per scenario and strategy, and one timeline per
// scenario and strategy (its first seed's).
func PlotLive(dir string, sums []*LiveSummary, runs []refcluster.LiveRun) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var rows []sim.Row
	var names []string
	seen := map[string]bool{}
	for _, s := range sums {
		rows = append(rows, sim.Row{Scenario: s.Scenario, Recommender: s.Strategy, UnavailabilityMS: s.UnavailabilityMS, UnnecessaryElections: s.UnnecessaryElections})
		if !seen[s.Strategy] {
			seen[s.Strategy] = true
			names = append(names, s.Strategy)
		}
	}
	if err := sim.PlotMetric(rows, names, filepath.Join(dir, "unavailability.png"), "Live: write unavailability (s, mean over seeds)", "seconds without a successful write",
		func(r sim.Row) float64 { return r.UnavailabilityMS / 1000 }); err != nil {
		return err
	}
	if err := sim.PlotMetric(rows, names, filepath.Join(dir, "unnecessary-elections.png"), "Live: unnecessary elections (summed over seeds)", "elections while the leader was alive and reachable",
		func(r sim.Row) float64 { return float64(r.UnnecessaryElections) }); err != nil {
		return err
	}
	done := map[[2]string]bool{}
	for _, r := range runs {
		k := [2]string{r.Scenario, r.Strategy}
		if done[k] {
			continue // one timeline per scenario and strategy: the first seed's
		}
		done[k] = true
		res := sim.Result{Scenario: r.Scenario + " / " + r.Strategy + " (live)", Timeline: r.Timeline, Elections: r.ElectAt, Faults: r.FaultsAt}
		if err := sim.PlotTimeline(res, r.NodeCount, filepath.Join(dir, fmt.Sprintf("timeline-%s-%s.png", r.Scenario, r.Strategy))); err != nil {
			return err
		}
	}
	return nil
}
