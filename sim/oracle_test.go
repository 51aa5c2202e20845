package sim

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsraft/nsraft/configs"
)

// lowerBoundContenders are the strategies the oracle must never lose to:
// every strategy of the bench (each adaptive one through the default
// policy and raw) and every fixed timeout of best-static's sweep, run by
// run rather than best in hindsight.
func lowerBoundContenders(t *testing.T) map[string]Strategy {
	out := map[string]Strategy{}
	for _, d := range BestStaticSweep() {
		out[fmt.Sprintf("static-%s", d)] = Strategy{Sweep: []time.Duration{d}}
	}
	for _, name := range StrategyNames() {
		if name == "oracle" || name == "best-static" {
			continue
		}
		// The ceiling is a contender too: the oracle must beat it on
		// every run.
		st, err := NewStrategy(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = st
	}
	return out
}

// TestOracleIsTheLowerBound checks that no strategy has less
// unavailability than the oracle in any single run (the oracle may count
// "unnecessary" elections: replacing a leader whose pause outlasts an
// election is the clairvoyant choice, though the paused leader was up): on
// every scenario of the suites the
// results tables report (ballast, general, jitter) on all five evaluation
// seeds, and on every other shipped scenario on the first; and under the
// hashicorp and etcd host models (the oracle plays the generic one under
// every host), on the ballast suite on the first seed. That full check
// takes minutes of CPU and runs with NSRAFT_ORACLE=full (CI runs it so,
// without the race detector). Otherwise it runs every contender on the
// first ballast scenario on one seed under each host model, cut to its
// first simulated minute under the race detector (10x slower, and a run
// is sequential: only the worker pool and what the strategies share
// across it are concurrent). It skips under -short.
func TestOracleIsTheLowerBound(t *testing.T) {
	evaluation := []uint64{1000, 1001, 1002, 1003, 1004}
	reported := map[string]bool{"ballast": true, "general": true, "jitter": true}
	if testing.Short() {
		t.Skip("-short: simulates every contender under three host models; run it with go test -run TestOracleIsTheLowerBound ./sim (NSRAFT_ORACLE=full: every shipped suite, minutes of CPU)")
	}
	quick := raceEnabled || os.Getenv("NSRAFT_ORACLE") != "full"
	if quick {
		t.Log("first ballast scenario, one seed, three host models; NSRAFT_ORACLE=full checks every shipped suite")
	}
	type job struct {
		suite string
		sc    *Scenario
		seed  uint64
		name  string
		st    Strategy
		host  HostKind
	}
	var jobs []job
	contenders := lowerBoundContenders(t)
	for _, suite := range Suites(configs.Scenarios) {
		if quick && suite != "ballast" {
			continue
		}
		scs, err := LoadSuite(configs.Scenarios, suite)
		if err != nil {
			t.Fatal(err)
		}
		seeds := evaluation[:1]
		switch {
		case quick:
			scs = cutUnderRace(scs[:1])
		case reported[suite]:
			seeds = evaluation
		}
		hosts := []HostKind{HostGeneric}
		if suite == "ballast" {
			hosts = append(hosts, HostHashicorp, HostEtcd)
		}
		for _, host := range hosts {
			for _, sc := range scs {
				ss := seeds
				if host != HostGeneric {
					ss = evaluation[:1]
				}
				for _, seed := range ss {
					jobs = append(jobs, job{suite: suite, sc: sc, seed: seed, name: "oracle", st: Strategy{Oracle: true}, host: host})
					for name, st := range contenders {
						jobs = append(jobs, job{suite: suite, sc: sc, seed: seed, name: name, st: st, host: host})
					}
				}
			}
		}
	}
	results := make([]Metrics, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				o := j.st.Options(j.seed)
				o.Host = j.host
				if len(j.st.Sweep) == 1 {
					o.FixedTimeout = j.st.Sweep[0]
				}
				results[i] = Run(j.sc, o).Metrics
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()

	type key struct {
		sc   string
		seed uint64
		host HostKind
	}
	oracle := map[key]Metrics{}
	for i, j := range jobs {
		if j.name == "oracle" {
			oracle[key{j.sc.Name, j.seed, j.host}] = results[i]
		}
	}
	// Summed over a scenario's seeds under the generic host model (the
	// one the ceiling plays), per strategy, where leaders fail (crashes,
	// partitions, pauses): in a scenario without any the ceiling knows
	// nothing a timeout could use, and what unavailability there is comes
	// from leaders that lose their lease in a long burst, which turns on
	// where the burst falls between the leader's heartbeats
	// (wan-bursty-nocrash, seeds 1000-1004: the ceiling 35.9s,
	// hashicorp's fixed 1s 7.0s). Where bursts do that beside crashes,
	// the same lottery can outweigh the ceiling's lead over five seeds
	// (ballast's wan-bursty, seeds 1000-1004: the ceiling 23.6s with 12
	// such elections, jacobson 23.2s with 6; over 30 seeds 187s against
	// 235s), so those scenarios are checked only within their suite's
	// total over every scenario where leaders fail.
	type cell struct{ sc, name string }
	sums := map[cell]float64{}
	for i, j := range jobs {
		o := oracle[key{j.sc.Name, j.seed, j.host}]
		m := results[i]
		if j.host == HostGeneric && leadersFail(j.sc) {
			if j.sc.Network.Burst == nil {
				sums[cell{j.sc.Name, j.name}] += m.UnavailableMS
			}
			sums[cell{"suite " + j.suite, j.name}] += m.UnavailableMS
		}
		if j.name == "oracle" {
			continue
		}
		if m.UnavailableMS < o.UnavailableMS {
			t.Errorf("%s seed %d, %s host: %s has %.0fms of unavailability, the oracle %.0fms", j.sc.Name, j.seed, j.host, j.name, m.UnavailableMS, o.UnavailableMS)
		}
	}
	// The ceiling is not a per-run bound (where its leader's lease
	// expires depends on when it was elected, as for any strategy), but
	// over a scenario's seeds (or a suite's) no strategy whose timeouts
	// stay at or above one heartbeat interval may beat it: every fixed
	// timeout of the sweep, random, and every adaptive strategy through
	// the policy (whose heartbeat floor is 1.1 intervals). Raw proposals
	// may go below an interval and are not held to it.
	for c, ceiling := range sums {
		if c.name != "ceiling" {
			continue
		}
		for d, x := range sums {
			if d.sc != c.sc || d.name == "ceiling" || d.name == "oracle" || strings.HasSuffix(d.name, "-raw") {
				continue
			}
			if x < ceiling {
				t.Errorf("%s: %s has %.0fms of unavailability over its seeds, the ceiling %.0fms", c.sc, d.name, x, ceiling)
			}
		}
	}
	t.Logf("%d runs", len(jobs))
}

// leadersFail reports whether s crashes, partitions or pauses nodes.
func leadersFail(s *Scenario) bool {
	if s.Crash != nil || len(s.Partitions) > 0 {
		return true
	}
	for _, id := range s.NodeIDs() {
		if s.Node(id).PauseEvery > 0 {
			return true
		}
	}
	return false
}
