//go:build !sidecar

package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/report"
	"github.com/nsraft/nsraft/sim"
)

func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := report.SimOptions{Now: time.Now}
	fs.StringVar(&o.Scenario, "scenario", "", "built-in scenario name or scenario `file`")
	fs.StringVar(&o.Recommender, "recommender", "random", "strategy: "+strings.Join(sim.StrategyNames(), ", "))
	fs.Uint64Var(&o.Seed, "seed", 1, "seed")
	fs.BoolVar(&o.JSON, "json", false, "print the result as one JSON object")
	fs.StringVar(&o.Host, "host", "", "host model whose timing rules the run plays: generic, hashicorp, etcd (default: the scenario's)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent sim -scenario NAME|FILE -recommender NAME -seed N [-json]")
		fmt.Fprintln(stderr, "\nOne deterministic simulated run: the same flags always print the same result.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent sim -scenario wan-bursty -recommender linucb -seed 7")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Scenario == "" {
		fmt.Fprintln(stderr, "ns-agent sim: -scenario is required")
		return 2
	}
	return exitcode.Report(stderr, "ns-agent sim", report.Sim(stdout, o))
}
