//go:build !sidecar

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/refcluster/demo"
	"github.com/nsraft/nsraft/sim"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		duration = fs.Duration("duration", 60*time.Second, "how long to run the workload under faults; 0: until interrupted, with faults only from the dashboard")
		dashAddr = fs.String("dashboard", "127.0.0.1:0", "serve the live dashboard, with fault controls, on this `address`; off: none")
		nodes    = fs.Int("nodes", 5, "cluster size, 3 to 9")
		seed     = fs.Uint64("seed", 1, "seed of the fault schedule and the workload")
		scenFile = fs.String("scenario", "", "scenario `file` to inject instead of the built-in demo scenario")
		hbTO     = fs.Duration("heartbeat-timeout", 0, "Raft HeartbeatTimeout of every node (default hashicorp/raft's 1s)")
		keep     = fs.Bool("keep", false, "keep the cluster's data dir and logs after the run")
		strategy = fs.String("strategy", "lstm", "recommender of the agent beside each node (lstm, linucb, …); none: no agents, the host's own timing")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent demo [flags]")
		fmt.Fprintln(stderr, "\nStarts a local hashicorp/raft key-value cluster (one process per node), routes every")
		fmt.Fprintln(stderr, "Raft link through its own toxiproxy proxy, injects the faults of a scenario while a")
		fmt.Fprintln(stderr, "client writes continuously, prints leader changes and faults as they happen, and")
		fmt.Fprintln(stderr, "closes with a summary checked for linearizability.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent demo -duration 30s -nodes 3")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes < 3 || *nodes > 9 {
		fmt.Fprintf(stderr, "ns-agent demo: -nodes %d: want 3 to 9\n", *nodes)
		return 2
	}
	if *strategy == "none" {
		*strategy = ""
	}
	if *strategy != "" {
		if _, err := model.New(*strategy, model.Options{}); err != nil {
			fmt.Fprintf(stderr, "ns-agent demo: -strategy: %v\n", err)
			return 2
		}
	}
	if *duration < 0 {
		fmt.Fprintf(stderr, "ns-agent demo: -duration must not be negative\n")
		return 2
	}

	var scen *sim.Scenario
	if *scenFile != "" {
		scs, diags := sim.ParseFile(*scenFile)
		if diags.HasErrors() {
			fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
			return 1
		}
		scen = scs[0]
	} else {
		scs, err := sim.LoadSuite(configs.Scenarios, "demo")
		if err != nil {
			fmt.Fprintf(stderr, "ns-agent demo: %v\n", err)
			return 1
		}
		scen = scs[0]
	}
	// The cluster size and length come from the flags; faults that name
	// nodes beyond the cluster are dropped.
	scen.Nodes, scen.Duration = *nodes, *duration
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent demo: locate own binary: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = demo.Run(ctx, demo.Config{Binary: self, Scenario: scen, Nodes: *nodes, Seed: *seed, Heartbeat: *hbTO,
		Dashboard: *dashAddr, Strategy: *strategy, Keep: *keep}, stdout)
	switch {
	case errors.Is(err, demo.ErrNotLinearizable):
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "ns-agent demo: %v\n", err)
		return 1
	}
	return 0
}
