//go:build !sidecar

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/report"
	"github.com/nsraft/nsraft/sim"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		files    multiFlag
		o        = report.BenchOptions{Now: time.Now}
		lo       = report.LiveOptions{Log: stderr, Now: time.Now}
		live     = fs.Bool("live", false, "run the real reference cluster (hashicorp/raft processes, toxiproxy faults, agents) instead of the simulator")
		plotDir  = fs.String("plot", "", "write PNG charts into `dir`")
		hostName = fs.String("host", "", "host model whose timing rules every run plays: generic, hashicorp, etcd (default: each scenario's); with -live: hashicorp (the reference cluster, default) or etcd (real etcd servers, -etcd BIN)")
	)
	fs.StringVar(&o.Suite, "suite", "", "built-in scenario suite: "+strings.Join(sim.Suites(configs.Scenarios), ", "))
	fs.IntVar(&o.Seeds, "seeds", 5, "seeds per scenario")
	fs.Uint64Var(&o.SeedBase, "seed-base", 1000, "first seed (evaluation seeds start at 1000; training uses others)")
	fs.StringVar(&o.Strategies, "recommenders", "", "comma-separated strategies (default all: "+strings.Join(sim.StrategyNames(), ", ")+")")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object {\"rows\": […]}")
	fs.IntVar(&o.Workers, "workers", 0, "parallel runs (default GOMAXPROCS)")
	fs.StringVar(&o.PolicyFile, "policy", "", "policy `file` the adaptive strategies run through (default: the embedded policy)")
	fs.BoolVar(&lo.Quick, "quick", false, "with -live: one short scenario, 3 nodes, host defaults and lstm; checks safety (for CI)")
	fs.DurationVar(&lo.Duration, "live-duration", 20*time.Second, "with -live: length of each run (scenarios are compressed to it)")
	fs.IntVar(&lo.Nodes, "nodes", 5, "with -live: cluster size")
	fs.StringVar(&lo.Keep, "keep", "", "with -live: keep each run's node logs and agent decision logs under `dir`")
	fs.DurationVar(&lo.Learn, "learn", 90*time.Second, "with -live -host etcd: the learning phase before the agents' advice is rolled out (etcd samples each peer's round trip into its histogram every 30s)")
	fs.StringVar(&lo.Etcd, "etcd", os.Getenv("NSRAFT_ETCD"), "with -live -host etcd: etcd server `binary` (scripts/etcd-build.sh prints one; default $NSRAFT_ETCD)")
	fs.Var(&files, "scenario", "scenario `file` or built-in scenario name (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent bench -suite NAME [-scenario FILE…] [-seeds N] [-json] [-plot DIR]")
		fmt.Fprintln(stderr, "\nRuns every timeout strategy on every scenario in the deterministic simulator, side by")
		fmt.Fprintln(stderr, "side, and prints each one's ratio to the Raft paper's random 150-300ms. With lstm among")
		fmt.Fprintln(stderr, "them and two seeds or more, it ends with lstm against each strategy run by run (one seed")
		fmt.Fprintln(stderr, "is one fault schedule, client load and set of network and timer draws for all): the mean")
		fmt.Fprintln(stderr, "difference per seed and its 95% interval.")
		fmt.Fprintln(stderr, "\nWith -live it runs the real reference cluster under the same scenarios instead,")
		fmt.Fprintln(stderr, "each strategy through the same agent and adapter, and checks every history with porcupine.")
		fmt.Fprintln(stderr, "\nExamples:\n  ns-agent bench -suite ballast -seeds 5\n  ns-agent bench -scenario my-network.hcl -json\n  ns-agent bench -live -suite ballast -seeds 3 -plot docs/results/live\n  ns-agent bench -live -host etcd -etcd $(scripts/etcd-build.sh | tail -1) -seeds 1 -plot docs/results/live-etcd")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.Files, o.PlotDir, o.Host = files, *plotDir, *hostName
	if !*live {
		return exitcode.Report(stderr, "ns-agent bench", report.Bench(stdout, o))
	}
	prefix := "ns-agent bench -live"
	switch *hostName {
	case "", "hashicorp":
		lo.Etcd = ""
	case "etcd":
		prefix += " -host etcd"
		if lo.Etcd == "" {
			fmt.Fprintln(stderr, "ns-agent bench -live -host etcd: no etcd binary: give -etcd BIN or set NSRAFT_ETCD (scripts/etcd-build.sh prints one)")
			return 2
		}
	default:
		fmt.Fprintf(stderr, "ns-agent bench: -host %q: with -live, want hashicorp or etcd\n", *hostName)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		return exitcode.Report(stderr, prefix, err)
	}
	lo.Binary, lo.Suite, lo.Files, lo.Seeds, lo.SeedBase, lo.Strategies, lo.JSON, lo.OutDir = self, o.Suite, files, o.Seeds, o.SeedBase, o.Strategies, o.JSON, *plotDir
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return exitcode.Report(stderr, prefix, report.Live(ctx, stdout, lo))
}
