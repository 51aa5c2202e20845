package sim

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

type policyGovernor struct{ g *policy.Governor }

func (g policyGovernor) Step(now time.Time, s collector.Sample, p model.Proposal) time.Duration {
	return g.g.Step(now, s, p).Timeout
}

// lowerBoundContenders are the strategies the oracle must never lose to:
// every recommender raw and through the default policy, and every fixed
// timeout of best-static's sweep.
func lowerBoundContenders(t *testing.T) map[string]Options {
	out := map[string]Options{}
	for _, d := range BestStaticSweep() {
		out[fmt.Sprintf("static-%s", d)] = Options{FixedTimeout: d}
	}
	pol := policy.Default()
	for _, name := range model.Names() {
		if _, err := model.New(name, model.Options{}); err != nil {
			t.Fatal(err)
		}
		mk := func(node string) model.Recommender {
			r, _ := model.New(name, model.Options{Seed: uint64(len(node))})
			return r
		}
		out[name+"-raw"] = Options{NewRecommender: mk}
		out[name+"-policy"] = Options{NewRecommender: mk, NewGovernor: func(string) Governor { return policyGovernor{policy.NewGovernor(pol)} }}
	}
	return out
}

// TestOracleIsTheLowerBound runs every shipped scenario on the evaluation
// seeds and checks that no strategy has less unavailability than the
// oracle in any single run, nor more elections than needed. Under -short
// or the race detector (10× slower) it checks the first scenario of each
// suite on one seed; CI runs it in full without the race detector.
func TestOracleIsTheLowerBound(t *testing.T) {
	seeds := []uint64{1000, 1001, 1002, 1003, 1004}
	quick := testing.Short() || raceEnabled
	if quick {
		seeds = seeds[:1]
	}
	type job struct {
		sc   *Scenario
		seed uint64
		name string
		o    Options
	}
	var jobs []job
	contenders := lowerBoundContenders(t)
	for _, suite := range Suites(configs.Scenarios) {
		scs, err := LoadSuite(configs.Scenarios, suite)
		if err != nil {
			t.Fatal(err)
		}
		if quick {
			scs = scs[:1]
		}
		for _, sc := range scs {
			for _, seed := range seeds {
				jobs = append(jobs, job{sc: sc, seed: seed, name: "oracle", o: Options{Oracle: true}})
				for name, o := range contenders {
					jobs = append(jobs, job{sc: sc, seed: seed, name: name, o: o})
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
				o := jobs[i].o
				o.Seed = jobs[i].seed
				results[i] = Run(jobs[i].sc, o).Metrics
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
	}
	oracle := map[key]Metrics{}
	for i, j := range jobs {
		if j.name == "oracle" {
			oracle[key{j.sc.Name, j.seed}] = results[i]
		}
	}
	for i, j := range jobs {
		o := oracle[key{j.sc.Name, j.seed}]
		m := results[i]
		if j.name == "oracle" {
			if m.UnnecessaryElections != 0 {
				t.Errorf("%s seed %d: the oracle started %d unnecessary elections", j.sc.Name, j.seed, m.UnnecessaryElections)
			}
			continue
		}
		if m.UnavailableMS < o.UnavailableMS {
			t.Errorf("%s seed %d: %s has %.0fms of unavailability, the oracle %.0fms", j.sc.Name, j.seed, j.name, m.UnavailableMS, o.UnavailableMS)
		}
	}
	t.Logf("%d runs", len(jobs))
}
