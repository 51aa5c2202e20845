//go:build !sidecar

package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
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
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent train -suite NAME -out FILE [-seeds N] [-epochs N] [-seed S]")
		fmt.Fprintln(stderr, "\nSimulates the suite, records every node's samples with the simulator's ground")
		fmt.Fprintln(stderr, "truth, and fits the LSTM to the coming heartbeat gaps (pinball loss, truncated")
		fmt.Fprintln(stderr, "BPTT, Adam). Deterministic: the same flags write the same file.")
		fmt.Fprintln(stderr, "\nThe embedded default weights are reproduced by:\n  ns-agent train -suite train -out model/default.nsw")
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
	scs, err := sim.LoadSuite(configs.Scenarios, *suite)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent train: %v\n", err)
		return 1
	}
	start := time.Now()

	seqs := sim.Traces(scs, *seeds, sim.TrainTimeouts(), 2)
	steps, scored := 0, 0
	for _, s := range seqs {
		steps += len(s.X)
		for _, m := range s.Mask {
			if m {
				scored++
			}
		}
	}
	fmt.Fprintf(stdout, "traces: %d scenarios × %d seeds, %d node sequences, %d samples (%d with a target) in %s\n",
		len(scs), *seeds, len(seqs), steps, scored, time.Since(start).Round(100*time.Millisecond))

	trainStart := time.Now()
	net, err := model.Train(seqs, model.TrainConfig{Epochs: *epochs, Seed: *seed, Progress: func(ep, eps int, loss float64) {
		el := time.Since(trainStart)
		eta := time.Duration(float64(el) / float64(ep) * float64(eps-ep))
		fmt.Fprintf(stdout, "epoch %d/%d  loss %.5f  elapsed %s  eta %s\n", ep, eps, loss, el.Round(time.Second), eta.Round(time.Second))
	}})
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent train: %v\n", err)
		return 1
	}
	var buf bytes.Buffer
	if err := model.SaveWeights(&buf, net); err != nil {
		fmt.Fprintf(stderr, "ns-agent train: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "ns-agent train: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: %d parameters, %d bytes, total %s\n", *out, net.NumParams(), buf.Len(), time.Since(start).Round(time.Second))
	return 0
}
