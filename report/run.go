package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/policy"
	"github.com/nsraft/nsraft/refcluster"
	"github.com/nsraft/nsraft/sim"
)

// This file runs the benchmarks `ns-agent sim` and `bench` ask for: it
// resolves their scenarios and strategies, runs them (sim.Bench,
// refcluster.RunLive, refcluster.RunEtcdLive) and renders the results.
// Usage problems come back as exitcode.Usagef errors, a file's problems
// as its diagnostics. Now reads the wall clock, for the elapsed times
// printed (nil: time.Now).

// SimOptions is one `ns-agent sim` run.
type SimOptions struct {
	Scenario    string // built-in scenario name or file
	Recommender string
	Seed        uint64
	JSON        bool
	Host        string // host model; "": the scenario's
	Now         func() time.Time
}

// BenchOptions is one `ns-agent bench` in the simulator.
type BenchOptions struct {
	Suite      string
	Files      []string // scenario files or built-in scenario names
	Seeds      int
	SeedBase   uint64
	Strategies string // comma-separated; "": every strategy
	JSON       bool
	PlotDir    string // "": no charts
	Workers    int
	PolicyFile string // "": the embedded policy
	Host       string // host model; "": each scenario's
	Now        func() time.Time
}

// LiveOptions is one `ns-agent bench -live` on the reference cluster
// (Etcd empty) or on real etcd members.
type LiveOptions struct {
	Binary     string // the ns-agent binary that runs nodes and agents
	Suite      string // "" without Files: ballast
	Files      []string
	Seeds      int
	SeedBase   uint64
	Strategies string
	JSON       bool
	OutDir     string // table, JSON and (hashicorp) charts; "": none
	Quick      bool
	Duration   time.Duration
	Nodes      int
	Keep       string // keep each run's logs here; "": a temporary dir
	Etcd       string // etcd server binary: run on etcd members
	Learn      time.Duration
	Log        io.Writer // progress lines
	Now        func() time.Time
}

func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, n := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(n))
	}
	return out
}

func seedList(n int, base uint64) []uint64 {
	var seeds []uint64
	for i := 0; i < n; i++ {
		seeds = append(seeds, base+uint64(i))
	}
	return seeds
}

func parseHost(s string) (sim.HostKind, error) {
	if s == "" {
		return "", nil
	}
	h, err := sim.ParseHostKind(s)
	if err != nil {
		return "", exitcode.Usagef("%w", err)
	}
	return h, nil
}

// Sim runs one scenario with one strategy and one seed and writes the
// result to w (one JSON object with o.JSON).
func Sim(w io.Writer, o SimOptions) error {
	now := clock(o.Now)
	host, err := parseHost(o.Host)
	if err != nil {
		return err
	}
	scs, err := sim.Resolve(configs.Scenarios, "", []string{o.Scenario})
	if err != nil {
		return err
	}
	scs = sim.WithHost(scs, host)
	st, err := sim.NewStrategy(o.Recommender, nil)
	if err != nil {
		return exitcode.Usagef("%w", err)
	}
	start := now()
	rows := sim.Bench(scs[:1], []sim.Strategy{st}, []uint64{o.Seed}, 1)
	if o.JSON {
		return json.NewEncoder(w).Encode(rows[0])
	}
	WriteRun(w, scs[0], rows[0], o.Seed, now().Sub(start))
	return nil
}

// Bench runs every chosen strategy on every scenario and seed in the
// simulator and writes the table (or one JSON object {"rows", "totals"})
// to w, and the charts to o.PlotDir.
func Bench(w io.Writer, o BenchOptions) error {
	now := clock(o.Now)
	if o.Suite == "" && len(o.Files) == 0 {
		return exitcode.Usagef("give -suite NAME and/or -scenario FILE")
	}
	if o.Seeds < 1 {
		return exitcode.Usagef("-seeds must be at least 1")
	}
	host, err := parseHost(o.Host)
	if err != nil {
		return err
	}
	scs, err := sim.Resolve(configs.Scenarios, o.Suite, o.Files)
	if err != nil {
		return err
	}
	scs = sim.WithHost(scs, host)
	var pol *policy.Policy
	if o.PolicyFile != "" {
		p, diags := policy.ParseFile(o.PolicyFile)
		if err := exitcode.Diagnostics(diags); err != nil {
			return err
		}
		pol = p
	}
	names := sim.StrategyNames()
	if o.Strategies != "" {
		names = splitList(o.Strategies)
	}
	var strategies []sim.Strategy
	for _, n := range names {
		st, err := sim.NewStrategy(n, pol)
		if err != nil {
			return exitcode.Usagef("%w", err)
		}
		strategies = append(strategies, st)
	}
	seeds := seedList(o.Seeds, o.SeedBase)
	start := now()
	rows := sim.Bench(scs, strategies, seeds, o.Workers)
	wall := now().Sub(start)

	if o.PlotDir != "" {
		if err := PlotBench(o.PlotDir, scs[0], rows, strategies, seeds[0]); err != nil {
			return fmt.Errorf("plots: %w", err)
		}
	}
	if o.JSON {
		return json.NewEncoder(w).Encode(struct {
			Rows   []sim.Row `json:"rows"`
			Totals []sim.Row `json:"totals"`
		}{rows, sim.Totals(rows, names)})
	}
	polName := "the default policy"
	if o.PolicyFile != "" {
		polName = o.PolicyFile
	}
	WriteBench(w, rows, names, seeds, polName)
	fmt.Fprintf(w, "\n%d scenarios × %d strategies × %d seeds in %s\n", len(scs), len(strategies), len(seeds), wall.Round(10*time.Millisecond))
	return nil
}

// Live runs the scenarios on real clusters with an agent beside every
// node and writes the summary (or JSON) to w; every run that failed or
// whose history was not linearizable comes back in an exitcode.List.
func Live(ctx context.Context, w io.Writer, o LiveOptions) error {
	if o.Suite == "" && len(o.Files) == 0 {
		o.Suite = "ballast"
	}
	scs, err := sim.Resolve(configs.Scenarios, o.Suite, o.Files)
	if err != nil {
		return err
	}
	dir := o.Keep
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	} else {
		prefix := "ns-agent-live-"
		if o.Etcd != "" {
			prefix = "ns-agent-live-etcd-"
		}
		d, err := os.MkdirTemp("", prefix)
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	now := clock(o.Now)
	start := now()
	logf := func(f string, a ...any) {
		fmt.Fprintf(o.Log, "[%5.0fs] %s\n", now().Sub(start).Seconds(), fmt.Sprintf(f, a...))
	}
	if o.Etcd != "" {
		return liveEtcd(ctx, w, o, scs, dir, logf, func() time.Duration { return now().Sub(start) })
	}
	strategies := splitList(o.Strategies)
	if o.Quick {
		// One scenario with crashes and bursts, kept short: the safety
		// properties, not the ratios.
		for _, s := range scs {
			if s.Name == "wan-bursty" {
				scs = []*sim.Scenario{s}
			}
		}
		scs = scs[:1]
		o.Nodes, o.Seeds, o.Duration = 3, 1, 12*time.Second
		if strategies == nil {
			strategies = []string{"host-default", "lstm"}
		}
	}
	seeds := seedList(o.Seeds, o.SeedBase)
	runs, err := refcluster.RunLive(ctx, refcluster.LiveConfig{Binary: o.Binary, Dir: dir, Keep: o.Keep != "", Nodes: o.Nodes, Duration: o.Duration,
		Seeds: seeds, Scenarios: scs, Strategies: strategies, Log: logf})
	if err != nil {
		return err
	}
	sums := Summarize(runs)
	head := LiveHeader{Nodes: o.Nodes, Duration: o.Duration, Seeds: o.Seeds, SeedBase: o.SeedBase, Took: now().Sub(start)}
	if !o.Quick {
		AddSimRatios(sums, scs, head)
	}
	if o.JSON {
		WriteLiveJSON(w, sums, runs, "")
	} else {
		WriteLive(w, sums, runs, head)
	}
	if o.OutDir != "" {
		// The results directory gets the table, the JSON and the charts.
		if err := SaveLive(o.OutDir, sums, runs, head); err != nil {
			return err
		}
	}
	var bad []error
	for _, f := range Failures(runs) {
		bad = append(bad, fmt.Errorf("%s", f))
	}
	return exitcode.List(bad)
}

// liveEtcd is Live on real etcd members (refcluster.RunEtcdLive).
func liveEtcd(ctx context.Context, w io.Writer, o LiveOptions, scs []*sim.Scenario, dir string, logf func(string, ...any), took func() time.Duration) error {
	cfg := refcluster.EtcdLiveConfig{Etcd: o.Etcd, Agent: o.Binary, Dir: dir, Keep: o.Keep != "", Members: o.Nodes, Duration: o.Duration, Learn: o.Learn,
		Seeds: seedList(o.Seeds, o.SeedBase), Scenarios: scs, Strategies: splitList(o.Strategies), Log: logf}
	if o.Quick {
		cfg = refcluster.EtcdQuick(cfg)
	}
	runs, err := refcluster.RunEtcdLive(ctx, cfg)
	if err != nil {
		return err
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "live benchmark on etcd: %d-member clusters of real etcd servers behind toxiproxy, %s per run (scenarios compressed), a %s learning phase per scenario and seed, %d seed(s) from %d, %d runs in %s\n\n",
		cfg.Members, cfg.Duration, cfg.Learn, len(cfg.Seeds), o.SeedBase, len(runs), took().Round(time.Second))
	var strategies []refcluster.EtcdStrategy
	if len(cfg.Scenarios) > 0 {
		strategies = refcluster.EtcdStrategies(cfg.Scenarios[0])
	}
	refcluster.WriteEtcdReport(&md, runs, strategies)
	js, _ := json.MarshalIndent(map[string]any{"runs": runs, "summary": refcluster.SummarizeEtcd(runs)}, "", "  ")
	if o.JSON {
		w.Write(append(js, '\n'))
	} else {
		w.Write(md.Bytes())
	}
	if o.OutDir != "" {
		if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(o.OutDir, "live.md"), md.Bytes(), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(o.OutDir, "live.json"), append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	var bad []error
	for _, r := range runs {
		switch {
		case r.Error != "":
			bad = append(bad, fmt.Errorf("%s/%s seed %d: %s", r.Scenario, r.Strategy, r.Seed, r.Error))
		case r.Linearizable != string(refcluster.Linearizable):
			bad = append(bad, fmt.Errorf("%s/%s seed %d: history %s", r.Scenario, r.Strategy, r.Seed, r.Linearizable))
		}
	}
	return exitcode.List(bad)
}
