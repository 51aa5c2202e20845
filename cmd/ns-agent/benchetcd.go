//go:build !sidecar

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/refcluster"
)

type etcdBenchOptions struct {
	suite      string
	files      []string
	seeds      int
	seedBase   uint64
	strategies string
	asJSON     bool
	outDir     string
	quick      bool
	duration   time.Duration
	members    int
	keep       string
	etcd       string
	learn      time.Duration
}

// runBenchLiveEtcd is `bench -live -host etcd`: the scenarios on real etcd
// members (refcluster.RunEtcdLive); exit 1 when a run failed or a history
// was not linearizable.
func runBenchLiveEtcd(o etcdBenchOptions, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ns-agent bench -live -host etcd: %v\n", err)
		return 1
	}
	if o.etcd == "" {
		fmt.Fprintln(stderr, "ns-agent bench -live -host etcd: no etcd binary: give -etcd BIN or set NSRAFT_ETCD (scripts/etcd-build.sh prints one)")
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	if o.suite == "" && len(o.files) == 0 {
		o.suite = "ballast"
	}
	scs, err := loadScenarios(o.suite, o.files)
	if err != nil {
		return fail(err)
	}
	var seeds []uint64
	for i := 0; i < o.seeds; i++ {
		seeds = append(seeds, o.seedBase+uint64(i))
	}
	dir := o.keep
	if dir == "" {
		d, err := os.MkdirTemp("", "ns-agent-live-etcd-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	start := time.Now()
	cfg := refcluster.EtcdLiveConfig{Etcd: o.etcd, Agent: self, Dir: dir, Keep: o.keep != "", Members: o.members, Duration: o.duration, Learn: o.learn,
		Seeds: seeds, Scenarios: scs, Log: func(f string, a ...any) {
			fmt.Fprintf(stderr, "[%5.0fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(f, a...))
		}}
	if o.strategies != "" {
		for _, s := range strings.Split(o.strategies, ",") {
			cfg.Strategies = append(cfg.Strategies, strings.TrimSpace(s))
		}
	}
	if o.quick {
		cfg = refcluster.EtcdQuick(cfg)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runs, err := refcluster.RunEtcdLive(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "live benchmark on etcd: %d-member clusters of real etcd servers behind toxiproxy, %s per run (scenarios compressed), a %s learning phase per scenario and seed, %d seed(s) from %d, %d runs in %s\n\n",
		cfg.Members, cfg.Duration, cfg.Learn, len(cfg.Seeds), o.seedBase, len(runs), time.Since(start).Round(time.Second))
	var strategies []refcluster.EtcdStrategy
	if len(cfg.Scenarios) > 0 {
		strategies = refcluster.EtcdStrategies(cfg.Scenarios[0])
	}
	refcluster.WriteEtcdReport(&md, runs, strategies)
	js, _ := json.MarshalIndent(map[string]any{"runs": runs, "summary": refcluster.SummarizeEtcd(runs)}, "", "  ")
	if o.asJSON {
		stdout.Write(append(js, '\n'))
	} else {
		stdout.Write(md.Bytes())
	}
	if o.outDir != "" {
		if err := os.MkdirAll(o.outDir, 0o755); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(filepath.Join(o.outDir, "live.md"), md.Bytes(), 0o644); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(filepath.Join(o.outDir, "live.json"), append(js, '\n'), 0o644); err != nil {
			return fail(err)
		}
	}
	bad := 0
	for _, r := range runs {
		switch {
		case r.Error != "":
			fmt.Fprintf(stderr, "ns-agent bench -live -host etcd: %s/%s seed %d: %s\n", r.Scenario, r.Strategy, r.Seed, r.Error)
			bad++
		case r.Linearizable != string(refcluster.Linearizable):
			fmt.Fprintf(stderr, "ns-agent bench -live -host etcd: %s/%s seed %d: history %s\n", r.Scenario, r.Strategy, r.Seed, r.Linearizable)
			bad++
		}
	}
	if bad > 0 {
		return 1
	}
	return 0
}
