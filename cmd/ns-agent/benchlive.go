//go:build !sidecar

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/refcluster"
	"github.com/nsraft/nsraft/report"
	"github.com/nsraft/nsraft/sim"
)

type liveOptions struct {
	suite      string
	files      []string
	seeds      int
	seedBase   uint64
	strategies string
	asJSON     bool
	plotDir    string
	quick      bool
	duration   time.Duration
	nodes      int
	keep       string
}

func runBenchLive(o liveOptions, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ns-agent bench -live: %v\n", err)
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	suite := o.suite
	if suite == "" && len(o.files) == 0 {
		suite = "ballast"
	}
	scs, err := loadScenarios(suite, o.files)
	if err != nil {
		return fail(err)
	}
	var strategies []string
	if o.strategies != "" {
		for _, s := range strings.Split(o.strategies, ",") {
			strategies = append(strategies, strings.TrimSpace(s))
		}
	}
	if o.quick {
		// One scenario with crashes and bursts, kept short: the safety
		// properties, not the ratios.
		for _, s := range scs {
			if s.Name == "wan-bursty" {
				scs = []*sim.Scenario{s}
			}
		}
		scs = scs[:1]
		o.nodes, o.seeds, o.duration = 3, 1, 12*time.Second
		if strategies == nil {
			strategies = []string{"host-default", "lstm"}
		}
	}
	var seeds []uint64
	for i := 0; i < o.seeds; i++ {
		seeds = append(seeds, o.seedBase+uint64(i))
	}
	dir := o.keep
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
	} else {
		d, err := os.MkdirTemp("", "ns-agent-live-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	runs, err := refcluster.RunLive(ctx, refcluster.LiveConfig{Binary: self, Dir: dir, Keep: o.keep != "", Nodes: o.nodes, Duration: o.duration,
		Seeds: seeds, Scenarios: scs, Strategies: strategies, Log: func(f string, a ...any) {
			fmt.Fprintf(stderr, "[%5.0fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(f, a...))
		}})
	if err != nil {
		return fail(err)
	}
	sums := report.Summarize(runs)
	head := report.LiveHeader{Nodes: o.nodes, Duration: o.duration, Seeds: o.seeds, SeedBase: o.seedBase, Took: time.Since(start)}
	if !o.quick {
		report.AddSimRatios(sums, scs, head)
	}
	if o.asJSON {
		report.WriteLiveJSON(stdout, sums, runs, "")
	} else {
		report.WriteLive(stdout, sums, runs, head)
	}
	if o.plotDir != "" {
		// The results directory gets the table, the JSON and the charts.
		if err := report.SaveLive(o.plotDir, sums, runs, head); err != nil {
			return fail(err)
		}
	}
	bad := report.Failures(runs)
	for _, f := range bad {
		fmt.Fprintf(stderr, "ns-agent bench -live: %s\n", f)
	}
	if len(bad) > 0 {
		return 1
	}
	return 0
}
