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

	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/refcluster/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demo.Options
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "how long to run the workload under faults; 0: until interrupted, with faults only from the dashboard")
	fs.StringVar(&o.Dashboard, "dashboard", "127.0.0.1:0", "serve the live dashboard, with fault controls, on this `address`; off: none")
	fs.IntVar(&o.Nodes, "nodes", 5, "cluster size, 3 to 9")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the fault schedule and the workload")
	fs.StringVar(&o.ScenarioFile, "scenario", "", "scenario `file` to inject instead of the built-in demo scenario")
	fs.DurationVar(&o.Heartbeat, "heartbeat-timeout", 0, "Raft HeartbeatTimeout of every node (default hashicorp/raft's 1s)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the cluster's data dir and logs after the run")
	fs.StringVar(&o.Strategy, "strategy", "lstm", "recommender of the agent beside each node (lstm, linucb, …); none: no agents, the host's own timing")
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
	cfg, err := o.Config()
	if err != nil {
		return exitcode.Report(stderr, "ns-agent demo", err)
	}
	if cfg.Binary, err = os.Executable(); err != nil {
		return exitcode.Report(stderr, "ns-agent demo", fmt.Errorf("locate own binary: %w", err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = demo.Run(ctx, cfg, stdout)
	if errors.Is(err, demo.ErrNotLinearizable) {
		return 1 // the summary said so
	}
	return exitcode.Report(stderr, "ns-agent demo", err)
}
