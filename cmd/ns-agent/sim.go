//go:build !sidecar

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nsraft/nsraft/report"
	"github.com/nsraft/nsraft/sim"
)

func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		scenario = fs.String("scenario", "", "built-in scenario name or scenario `file`")
		rec      = fs.String("recommender", "random", "strategy: "+strings.Join(sim.StrategyNames(), ", "))
		seed     = fs.Uint64("seed", 1, "seed")
		asJSON   = fs.Bool("json", false, "print the result as one JSON object")
		hostName = fs.String("host", "", "host model whose timing rules the run plays: generic, hashicorp, etcd (default: the scenario's)")
	)
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
	if *scenario == "" {
		fmt.Fprintln(stderr, "ns-agent sim: -scenario is required")
		return 2
	}
	host, err := parseHost(*hostName)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent sim: %v\n", err)
		return 2
	}
	scs, err := loadScenarios("", []string{*scenario})
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent sim: %v\n", err)
		return 1
	}
	scs = sim.WithHost(scs, host)
	st, err := sim.NewStrategy(*rec, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent sim: %v\n", err)
		return 2
	}
	start := time.Now()
	rows := sim.Bench(scs[:1], []sim.Strategy{st}, []uint64{*seed}, 1)
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(rows[0]); err != nil {
			fmt.Fprintf(stderr, "ns-agent sim: %v\n", err)
			return 1
		}
		return 0
	}
	report.WriteRun(stdout, scs[0], rows[0], *seed, time.Since(start))
	return 0
}
