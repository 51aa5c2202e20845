package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// Sequence is one node's trace for training: per-sample features, the
// target (log of the coming max heartbeat gap in heartbeat intervals) and
// whether that target is defined.
type Sequence struct {
	X    [][]float64
	Y    []float64
	Mask []bool
}

// Horizon is how many samples ahead the target looks: 20 ticks, two
// seconds at the default 100ms tick.
const Horizon = 20

// NewSequence builds a training sequence from a node's samples and, per
// sample, whether a live leader was reachable (the simulator's truth). The
// target at t is the longest closed heartbeat gap in samples t+1…t+Horizon;
// it is left out (masked) when the leader was not alive throughout, since a
// dead leader's silence is not a gap the timeout should sit above.
func NewSequence(samples []collector.Sample, alive []bool) Sequence {
	n := len(samples)
	var seq Sequence
	hb := 50 * time.Millisecond
	var x [NumFeatures]float64
	gaps := make([]time.Duration, n)
	hbs := make([]time.Duration, n)
	for t := range samples {
		hb = heartbeatInterval(&samples[t], hb)
		hbs[t] = hb
		if g, ok := heartbeatGap(&samples[t]); ok {
			gaps[t] = g
		}
	}
	// Silent samples are skipped exactly as the recommender skips them.
	for t := 0; t < n; t++ {
		if Silent(&samples[t], hbs[t]) {
			continue
		}
		Features(&samples[t], &x)
		seq.X = append(seq.X, append([]float64(nil), x[:]...))
		y, ok := target(gaps, alive, t)
		seq.Y = append(seq.Y, y)
		seq.Mask = append(seq.Mask, ok)
	}
	return seq
}

// target is the log of the longest closed gap in samples t+1…t+Horizon, in
// Units, if the leader was alive throughout.
func target(gaps []time.Duration, alive []bool, t int) (float64, bool) {
	if t+Horizon >= len(gaps) {
		return 0, false
	}
	var g time.Duration
	for k := t + 1; k <= t+Horizon; k++ {
		if !alive[k] {
			return 0, false
		}
		g = max(g, gaps[k])
	}
	if g == 0 {
		return 0, false
	}
	return math.Log(float64(g) / float64(Unit)), true
}

// TrainConfig configures Train.
type TrainConfig struct {
	Epochs int     // passes over the data (default 8)
	Chunk  int     // truncated-BPTT length in samples (default 96)
	BurnIn int     // leading samples of a chunk not scored, to warm the state (default 16)
	Batch  int     // chunks per Adam step (default 16)
	LR     float64 // Adam learning rate (default 3e-3)
	Clip   float64 // global gradient-norm clip (default 1)
	Seed   uint64
	// Progress, when set, is called after every epoch with the mean
	// pinball loss per scored sample.
	Progress func(epoch, epochs int, loss float64)
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Epochs <= 0 {
		c.Epochs = 8
	}
	if c.Chunk <= 0 {
		c.Chunk = 96
	}
	if c.BurnIn <= 0 || c.BurnIn >= c.Chunk {
		c.BurnIn = 16
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.LR <= 0 {
		c.LR = 3e-3
	}
	if c.Clip <= 0 {
		c.Clip = 1
	}
	return c
}

type chunk struct {
	seq        int
	start, end int
}

// Train fits a network to the sequences with truncated backpropagation
// through time, Adam and gradient clipping. It is deterministic: the same
// sequences and config give the same network, bit for bit.
func Train(seqs []Sequence, cfg TrainConfig) (*Net, error) {
	cfg = cfg.withDefaults()
	var chunks []chunk
	for i, s := range seqs {
		for st := 0; st+cfg.Chunk <= len(s.X); st += cfg.Chunk - cfg.BurnIn {
			chunks = append(chunks, chunk{i, st, st + cfg.Chunk})
		}
	}
	if len(chunks) == 0 {
		return nil, errors.New("no training data: every sequence is shorter than one chunk")
	}
	net := NewNet(NumFeatures, lstmHidden, headHidden, numQ, cfg.Seed)
	opt := NewAdam(net, cfg.LR)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a1))
	for ep := 0; ep < cfg.Epochs; ep++ {
		rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
		var total float64
		var scoredAll int
		for b := 0; b < len(chunks); b += cfg.Batch {
			g := net.zeroLike()
			n := 0
			for _, c := range chunks[b:min(b+cfg.Batch, len(chunks))] {
				s := seqs[c.seq]
				mask := append([]bool(nil), s.Mask[c.start:c.end]...)
				for k := 0; k < cfg.BurnIn; k++ {
					mask[k] = false
				}
				l, sc := net.lossGrad(s.X[c.start:c.end], s.Y[c.start:c.end], mask, g)
				total += l
				n += sc
			}
			scoredAll += n
			if n == 0 {
				continue
			}
			for _, p := range g.Params() {
				for j := range p {
					p[j] /= float64(n)
				}
			}
			opt.Step(net, g, cfg.Clip)
		}
		if cfg.Progress != nil && scoredAll > 0 {
			cfg.Progress(ep+1, cfg.Epochs, total/float64(scoredAll)/numQ)
		}
	}
	return net, nil
}
