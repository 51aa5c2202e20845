//go:build !sidecar

package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/sim"
)

func runTrain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		suite  = fs.String("suite", "train", "scenario suite to train on (disjoint from the evaluation suites)")
		out    = fs.String("out", "", "weights `file` to write (required)")
		seeds  = fs.Int("seeds", 3, "simulated runs per scenario, seeds 1…N (evaluation uses 1000 and up)")
		epochs = fs.Int("epochs", 6, "passes over the traces")
		seed   = fs.Uint64("seed", 1, "training seed (initial weights, chunk order)")
		host   = fs.String("host", "generic", "host model the traces are simulated under: generic, hashicorp or etcd")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent train -suite NAME -out FILE [-host H] [-seeds N] [-epochs N] [-seed S]")
		fmt.Fprintln(stderr, "\nSimulates the suite, records every node's samples with the simulator's ground")
		fmt.Fprintln(stderr, "truth, and fits the LSTM to the coming heartbeat gaps (pinball loss, truncated")
		fmt.Fprintln(stderr, "BPTT, Adam). Deterministic: the same flags write the same file.")
		fmt.Fprintln(stderr, "\nThe embedded default weights were written by this command at commit a4c894b\n(see the README):\n  ns-agent train -suite train -out model/default.nsw")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "ns-agent train: -out is required")
		return 2
	}
	hk, err := sim.ParseHostKind(*host)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent train: -host: %v\n", err)
		return 2
	}
	scs, err := sim.LoadSuite(configs.Scenarios, *suite)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent train: %v\n", err)
		return 1
	}
	err = sim.TrainWeights(stdout, scs, sim.TrainOptions{Out: *out, Host: hk, Seeds: *seeds, Epochs: *epochs, Seed: *seed, Now: time.Now})
	return exitcode.Report(stderr, "ns-agent train", err)
}
