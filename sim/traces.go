package sim

import (
	"sync"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// TrainTimeouts returns the fixed timeouts training runs use, one per run
// in turn: the traces must show the gaps a node sees under short and long
// timeouts alike (short ones cause elections that long ones never show).
func TrainTimeouts() []time.Duration {
	return []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, time.Second}
}

// Traces simulates every scenario with seeds 1…seeds, run k at
// timeouts[k%len(timeouts)], on workers goroutines, and returns one
// training sequence per node and run, in scenario, seed and node order.
// The result depends only on its arguments, not on workers.
func Traces(scs []*Scenario, seeds int, timeouts []time.Duration, workers int) []model.Sequence {
	type runKey struct{ sc, seed int }
	var keys []runKey
	for i := range scs {
		for s := 1; s <= seeds; s++ {
			keys = append(keys, runKey{i, s})
		}
	}
	results := make([][]model.Sequence, len(keys))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				results[k] = TraceRun(scs[keys[k].sc], uint64(keys[k].seed), timeouts[k%len(timeouts)])
			}
		}()
	}
	for k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	var seqs []model.Sequence
	for _, r := range results {
		seqs = append(seqs, r...)
	}
	return seqs
}

// TraceRun simulates one scenario at a fixed timeout and returns one
// training sequence per node: its samples, each labelled with whether the
// leader was alive then (the simulator's ground truth).
func TraceRun(sc *Scenario, seed uint64, timeout time.Duration) []model.Sequence {
	samples := map[string][]collector.Sample{}
	alive := map[string][]bool{}
	Run(sc, Options{Seed: seed, FixedTimeout: timeout, OnSample: func(node string, s collector.Sample, tr Truth) {
		samples[node] = append(samples[node], s)
		alive[node] = append(alive[node], tr.LeaderAlive)
	}})
	var out []model.Sequence
	for _, id := range sc.NodeIDs() {
		if len(samples[id]) > 0 {
			out = append(out, model.NewSequence(samples[id], alive[id]))
		}
	}
	return out
}
