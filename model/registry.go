package model

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"
)

// Options configure a recommender built by New.
type Options struct {
	// Seed drives every random choice of the recommender.
	Seed uint64
	// StaticTimeout is the host's configured timeout: what `static`
	// proposes, and what `dynatune` holds until it has measured enough
	// (hashicorp/raft's HeartbeatTimeout, 1s, when zero).
	StaticTimeout time.Duration
	// LSTM is the network `lstm` runs; nil means the embedded default
	// weights.
	LSTM *Inference
}

// NodeSeed derives a node's own seed from a run's (or a deployment's)
// seed and the node's name, so the recommenders of one cluster explore
// differently yet reproducibly. The agent and the simulator both use it.
func NodeSeed(seed uint64, node string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	return seed ^ h.Sum64()
}

// factories maps each registered name to its constructor. It is built
// inside the functions that use it: there is no package-level registry.
func factories() map[string]func(Options) Recommender {
	return map[string]func(Options) Recommender{
		"static": func(o Options) Recommender {
			t := o.StaticTimeout
			if t <= 0 {
				t = time.Second
			}
			return Static{T: t}
		},
		"random":   func(Options) Recommender { return Random{} },
		"jacobson": func(Options) Recommender { return &Jacobson{} },
		"phi":      func(Options) Recommender { return &Phi{Threshold: 8} },
		"linucb":   func(o Options) Recommender { return NewLinUCB(o.Seed) },
		"dynatune": func(o Options) Recommender { return NewDynatune(o.StaticTimeout) },
		// Whether a recommender runs through the safety policy is the
		// caller's choice (the simulator's X and X-raw strategies), not a
		// second registry name.
		"lstm": func(o Options) Recommender { return NewLSTM("lstm", o.LSTM) },
	}
}

// New builds the recommender registered under name.
func New(name string, o Options) (Recommender, error) {
	f, ok := factories()[name]
	if !ok {
		return nil, fmt.Errorf("unknown recommender %q; have %s", name, strings.Join(Names(), ", "))
	}
	if name == "lstm" && o.LSTM == nil {
		n, err := DefaultNet()
		if err != nil {
			return nil, fmt.Errorf("embedded LSTM weights: %w", err)
		}
		o.LSTM = NewInference(n)
	}
	return f(o), nil
}

// Names lists the registered recommenders, sorted.
func Names() []string {
	var out []string
	for n := range factories() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
