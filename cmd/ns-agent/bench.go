//go:build !sidecar

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/policy"
	"github.com/nsraft/nsraft/report"
	"github.com/nsraft/nsraft/sim"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// loadScenarios resolves a suite and scenario files (or names of scenarios
// in the embedded suites).
func loadScenarios(suite string, files []string) ([]*sim.Scenario, error) {
	return sim.Resolve(configs.Scenarios, suite, files)
}

// parseHost reads a -host flag; "" keeps each scenario's host.
func parseHost(s string) (sim.HostKind, error) {
	if s == "" {
		return "", nil
	}
	return sim.ParseHostKind(s)
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files multiFlag
	var (
		suite    = fs.String("suite", "", "built-in scenario suite: "+strings.Join(sim.Suites(configs.Scenarios), ", "))
		seeds    = fs.Int("seeds", 5, "seeds per scenario")
		seedBase = fs.Uint64("seed-base", 1000, "first seed (evaluation seeds start at 1000; training uses others)")
		recs     = fs.String("recommenders", "", "comma-separated strategies (default all: "+strings.Join(sim.StrategyNames(), ", ")+")")
		asJSON   = fs.Bool("json", false, "print one JSON object {\"rows\": […]}")
		plotDir  = fs.String("plot", "", "write PNG charts into `dir`")
		workers  = fs.Int("workers", 0, "parallel runs (default GOMAXPROCS)")
		polFile  = fs.String("policy", "", "policy `file` the adaptive strategies run through (default: the embedded policy)")
		live     = fs.Bool("live", false, "run the real reference cluster (hashicorp/raft processes, toxiproxy faults, agents) instead of the simulator")
		quick    = fs.Bool("quick", false, "with -live: one short scenario, 3 nodes, host defaults and lstm; checks safety (for CI)")
		liveDur  = fs.Duration("live-duration", 20*time.Second, "with -live: length of each run (scenarios are compressed to it)")
		nodes    = fs.Int("nodes", 5, "with -live: cluster size")
		keep     = fs.String("keep", "", "with -live: keep each run's node logs and agent decision logs under `dir`")
		hostName = fs.String("host", "", "host model whose timing rules every run plays: generic, hashicorp, etcd (default: each scenario's); with -live: hashicorp (the reference cluster, default) or etcd (real etcd servers, -etcd BIN)")
		learn    = fs.Duration("learn", 90*time.Second, "with -live -host etcd: the learning phase before the agents' advice is rolled out (etcd samples each peer's round trip into its histogram every 30s)")
		etcdBin  = fs.String("etcd", os.Getenv("NSRAFT_ETCD"), "with -live -host etcd: etcd server `binary` (scripts/etcd-build.sh prints one; default $NSRAFT_ETCD)")
	)
	fs.Var(&files, "scenario", "scenario `file` or built-in scenario name (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent bench -suite NAME [-scenario FILE…] [-seeds N] [-json] [-plot DIR]")
		fmt.Fprintln(stderr, "\nRuns every timeout strategy on every scenario in the deterministic simulator, side by")
		fmt.Fprintln(stderr, "side, and prints each one's ratio to the Raft paper's random 150-300ms.")
		fmt.Fprintln(stderr, "\nWith -live it runs the real reference cluster under the same scenarios instead,")
		fmt.Fprintln(stderr, "each strategy through the same agent and adapter, and checks every history with porcupine.")
		fmt.Fprintln(stderr, "\nExamples:\n  ns-agent bench -suite ballast -seeds 5\n  ns-agent bench -scenario my-network.hcl -json\n  ns-agent bench -live -suite ballast -seeds 3 -plot docs/results/live\n  ns-agent bench -live -host etcd -etcd $(scripts/etcd-build.sh | tail -1) -seeds 1 -plot docs/results/live-etcd")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *live && *hostName == "etcd" {
		return runBenchLiveEtcd(etcdBenchOptions{suite: *suite, files: files, seeds: *seeds, seedBase: *seedBase, strategies: *recs,
			asJSON: *asJSON, outDir: *plotDir, quick: *quick, duration: *liveDur, members: *nodes, keep: *keep, etcd: *etcdBin, learn: *learn}, stdout, stderr)
	}
	if *live && *hostName != "" && *hostName != "hashicorp" {
		fmt.Fprintf(stderr, "ns-agent bench: -host %q: with -live, want hashicorp or etcd\n", *hostName)
		return 2
	}
	if *live {
		return runBenchLive(liveOptions{suite: *suite, files: files, seeds: *seeds, seedBase: *seedBase, strategies: *recs,
			asJSON: *asJSON, plotDir: *plotDir, quick: *quick, duration: *liveDur, nodes: *nodes, keep: *keep}, stdout, stderr)
	}
	if *suite == "" && len(files) == 0 {
		fmt.Fprintln(stderr, "ns-agent bench: give -suite NAME and/or -scenario FILE")
		return 2
	}
	if *seeds < 1 {
		fmt.Fprintln(stderr, "ns-agent bench: -seeds must be at least 1")
		return 2
	}
	host, err := parseHost(*hostName)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent bench: %v\n", err)
		return 2
	}
	scs, err := loadScenarios(*suite, files)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent bench: %v\n", err)
		return 1
	}
	scs = sim.WithHost(scs, host)
	var pol *policy.Policy
	if *polFile != "" {
		p, diags := policy.ParseFile(*polFile)
		if diags.HasErrors() {
			fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
			return 1
		}
		pol = p
	}
	names := sim.StrategyNames()
	if *recs != "" {
		names = strings.Split(*recs, ",")
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
		}
	}
	var strategies []sim.Strategy
	for _, n := range names {
		st, err := sim.NewStrategy(n, pol)
		if err != nil {
			fmt.Fprintf(stderr, "ns-agent bench: %v\n", err)
			return 2
		}
		strategies = append(strategies, st)
	}
	var seedList []uint64
	for i := 0; i < *seeds; i++ {
		seedList = append(seedList, *seedBase+uint64(i))
	}
	start := time.Now()
	rows := sim.Bench(scs, strategies, seedList, *workers)
	wall := time.Since(start)

	if *plotDir != "" {
		if err := report.PlotBench(*plotDir, scs[0], rows, strategies, seedList[0]); err != nil {
			fmt.Fprintf(stderr, "ns-agent bench: plots: %v\n", err)
			return 1
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(struct {
			Rows   []sim.Row `json:"rows"`
			Totals []sim.Row `json:"totals"`
		}{rows, sim.Totals(rows, names)}); err != nil {
			fmt.Fprintf(stderr, "ns-agent bench: %v\n", err)
			return 1
		}
		return 0
	}
	polName := "the default policy"
	if *polFile != "" {
		polName = *polFile
	}
	report.WriteBench(stdout, rows, names, seedList, polName)
	fmt.Fprintf(stdout, "\n%d scenarios × %d strategies × %d seeds in %s\n", len(scs), len(strategies), len(seedList), wall.Round(10*time.Millisecond))
	return 0
}
